"""ToxicityGate on its own: thresholds, holds (cooldown from the first trigger, then while true), outputs."""

from __future__ import annotations

from fractions import Fraction

from grinder.core.rules import btcusdt_rules
from grinder.strategy import FeatureConfig, FeatureEngine, ToxicAction, ToxicityConfig
from grinder.strategy.toxicity import ToxicityGate
from tests.strategy.helpers import SYM, book, trade

T0 = 1_700_000_000_000


def feats() -> FeatureEngine:
    return FeatureEngine(SYM, btcusdt_rules(), FeatureConfig(spread_halflife_ms=1000, flow_halflife_ms=1000))


def test_spread_spike_threshold_and_hold() -> None:
    g = ToxicityGate(ToxicityConfig(spread_spike_bps=5.0, spread_spike_mult=1.0, cooldown_ms=1000), SYM)
    f = feats()
    f.on_book_ticker(book(600_000, 600_002, T0))
    g.evaluate(T0, f)
    assert g.spike_ticks == 300  # 5 bps of 600_001 ticks; 1 × the 2-tick smoothed spread is smaller
    g.check_fast(T0 + 1, 600_000, 600_300)
    assert not g.paused_all()
    g.check_fast(T0 + 2, 600_000, 600_301)
    assert g.paused_all() and g.reasons() == ("SPREAD_SPIKE",)
    # cleared book, but inside the cooldown: held
    f.on_book_ticker(book(600_000, 600_002, T0 + 500))
    g.evaluate(T0 + 500, f)
    assert g.paused_all()
    # still spiking after the cooldown: held
    f.on_book_ticker(book(600_000, 600_400, T0 + 1500))
    g.evaluate(T0 + 1500, f)
    assert g.paused_all()
    # re-triggering does not extend the hold; once cleared after the cooldown it goes
    g.check_fast(T0 + 1600, 600_000, 600_400)
    f.on_book_ticker(book(600_000, 600_002, T0 + 2000))
    g.evaluate(T0 + 2000, f)
    assert not g.paused_all() and g.reasons() == ()


def test_price_impact_band_from_lookback_and_exposed_side() -> None:
    g = ToxicityGate(ToxicityConfig(impact_bps=10.0, impact_lookback_ms=2000, cooldown_ms=0), SYM)
    f = feats()
    for k in range(5):
        f.on_book_ticker(book(600_000 + 100 * k, 600_002 + 100 * k, T0 + 1000 * k))
        g.evaluate(T0 + 1000 * k, f)
    # reference: mid2 at or after now - 2000 ms = the sample at T0 + 2000 (mid2 1_200_402)
    assert (g.impact_lo2, g.impact_hi2) == (1_200_402 - 1200, 1_200_402 + 1200)
    g.check_fast(T0 + 4001, 600_700, 600_702)  # mid2 1_201_402: inside the band
    assert not g.sell_blocked()
    g.check_fast(T0 + 4002, 600_802, 600_804)
    assert g.sell_blocked() and not g.buy_blocked() and g.reasons() == ("PRICE_IMPACT_UP",)


def test_flow_toxicity_widens_or_pauses_the_side_hit() -> None:
    for action in ToxicAction:
        g = ToxicityGate(
            ToxicityConfig(flow_threshold=0.7, flow_min_trades=5, flow_action=action, cooldown_ms=0), SYM
        )
        f = feats()
        f.on_book_ticker(book(600_000, 600_002, T0))
        for k in range(8):
            f.on_trade(trade(600_002, 4, T0 + k, buyer_is_maker=False))
        g.evaluate(T0 + 10, f)
        assert g.reasons() == ("FLOW_TOXIC_BUY",)
        if action is ToxicAction.WIDEN:
            assert g.sell_factor() == Fraction(2) and g.buy_factor() == 1 and not g.sell_blocked()
        else:
            assert g.sell_blocked() and not g.buy_blocked()
        # balanced flow afterwards clears it
        for k in range(40):
            f.on_trade(trade(600_000, 4, T0 + 20 + k, buyer_is_maker=(k % 2 == 0)))
        f.on_book_ticker(book(600_000, 600_002, T0 + 5000))
        g.evaluate(T0 + 5000, f)
        assert g.reasons() == ()


def test_too_few_trades_is_not_toxic() -> None:
    g = ToxicityGate(ToxicityConfig(flow_threshold=0.7, flow_min_trades=20), SYM)
    f = feats()
    f.on_book_ticker(book(600_000, 600_002, T0))
    for k in range(5):
        f.on_trade(trade(600_002, 50, T0 + k))
    g.evaluate(T0 + 10, f)
    assert g.reasons() == ()
