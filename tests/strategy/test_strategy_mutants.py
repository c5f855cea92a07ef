"""Controller / toxicity / grid edges that mutation testing (bench/mutation.py) showed unpinned.

The controller's thresholds are inclusive ("at or above"), its hysteresis and dwell gate
de-escalation only, and every switch carries a stable reason code; the grid's level offsets and
skew are exact integer formulas. Each test pins one of these at its boundary.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from grinder.strategy.config import ControllerConfig
from grinder.strategy.controller import (
    CALM,
    NORMAL,
    SPREAD_PAUSE,
    SPREAD_WIDEN,
    START,
    VOL_PAUSE,
    VOL_WIDEN,
    ModeController,
)
from grinder.strategy.grid import level_offset
from grinder.strategy.types import ControllerMode as M

CFG = ControllerConfig(min_dwell_ms=1000, hysteresis=0.2, pause_vol_bps=80.0, widen_vol_bps=25.0,
                       tighten_vol_bps=3.0, pause_spread_bps=10.0, widen_spread_bps=3.0, tighten_spread_bps=0.5)


@pytest.mark.parametrize(
    ("vol", "spread", "mode", "reason"),
    [
        (80.0, 0.0, M.PAUSE, VOL_PAUSE), (79.9, 0.0, M.WIDEN, VOL_WIDEN),
        (10.0, 10.0, M.PAUSE, SPREAD_PAUSE), (10.0, 9.99, M.WIDEN, SPREAD_WIDEN),
        (25.0, 1.0, M.WIDEN, VOL_WIDEN), (24.9, 1.0, M.BASE, NORMAL),
        (10.0, 3.0, M.WIDEN, SPREAD_WIDEN), (10.0, 2.99, M.BASE, NORMAL),
        (3.0, 0.5, M.TIGHTEN, CALM), (3.01, 0.5, M.BASE, NORMAL), (3.0, 0.51, M.BASE, NORMAL),
        (float("nan"), float("nan"), M.BASE, NORMAL),  # NaN metrics never trigger
    ],
)
def test_classify_thresholds_are_inclusive(vol: float, spread: float, mode: M, reason: str) -> None:
    assert ModeController(CFG).classify(vol, spread) == (mode, reason)


def test_classify_scales_the_thresholds() -> None:
    c = ModeController(CFG)
    assert c.classify(64.0, 0.0, high_scale=0.8) == (M.PAUSE, VOL_PAUSE)  # 80 × 0.8
    assert c.classify(63.9, 0.0, high_scale=0.8) == (M.WIDEN, VOL_WIDEN)
    assert c.classify(3.5, 0.55, low_scale=1.2) == (M.TIGHTEN, CALM)  # under 3 × 1.2 and 0.5 × 1.2
    assert c.classify(3.7, 0.55, low_scale=1.2) == (M.BASE, NORMAL)
    assert c.classify(3.5, 0.65, low_scale=1.2) == (M.BASE, NORMAL)


def test_escalation_is_immediate_and_deescalation_waits_for_margin_and_dwell() -> None:
    c = ModeController(CFG, "BTCUSDT")
    assert (c.mode, c.reason, c.spacing_factor()) == (M.BASE, START, Fraction(1))
    assert c.evaluate(0, 10.0, 1.0) is None and c.since_ms == 0
    sw = c.evaluate(100, 30.0, 1.0)  # WIDEN at once, whatever the dwell
    assert sw is not None and (sw.time_ms, sw.from_mode, sw.to_mode, sw.reason) == (100, M.BASE, M.WIDEN, VOL_WIDEN)
    assert (sw.vol_bps, sw.spread_bps) == (30.0, 1.0)
    assert c.last_switch is sw and c.switches == 1 and c.spacing_factor() == Fraction(3, 2)
    assert c.evaluate(5000, 21.0, 1.0) is None  # below 25 but not below 25 × 0.8 = 20: held
    assert c.mode is M.WIDEN and c.reason == VOL_WIDEN
    assert c.evaluate(1099, 10.0, 1.0) is None  # cleared the margin, but inside the 1000 ms dwell
    sw = c.evaluate(1100, 10.0, 1.0)  # dwell over (since 100)
    assert sw is not None and (sw.from_mode, sw.to_mode, sw.reason) == (M.WIDEN, M.BASE, NORMAL)
    assert c.switches == 2 and c.since_ms == 1100
    sw = c.evaluate(1200, 100.0, 1.0)  # PAUSE at once
    assert sw is not None and sw.to_mode is M.PAUSE and c.spacing_factor() == Fraction(1)


def test_deescalation_lands_on_the_held_mode() -> None:
    c = ModeController(CFG)
    c.evaluate(0, 100.0, 1.0)  # PAUSE
    # vol 30: below pause × 0.8 = 64 but above widen: steps down to WIDEN (not BASE) after the dwell
    sw = c.evaluate(2000, 30.0, 1.0)
    assert sw is not None and (sw.to_mode, sw.reason) == (M.WIDEN, VOL_WIDEN)
    # vol 21: under widen (25) but not under 25 × 0.8: the held classification is still WIDEN
    assert c.evaluate(5000, 21.0, 1.0) is None


def test_tighten_is_left_only_past_the_margin() -> None:
    c = ModeController(CFG)
    assert c.evaluate(0, 2.0, 0.4) is None  # into TIGHTEN is a de-escalation: it waits for the dwell
    sw = c.evaluate(1000, 2.0, 0.4)
    assert sw is not None and (sw.to_mode, sw.reason) == (M.TIGHTEN, CALM)
    assert c.spacing_factor() == Fraction(3, 4)
    assert c.evaluate(1010, 3.5, 0.5) is None  # above 3 but not above 3 × 1.2: still TIGHTEN
    sw = c.evaluate(1020, 3.7, 0.5)  # out of TIGHTEN is an escalation: no dwell
    assert sw is not None and (sw.from_mode, sw.to_mode, sw.reason) == (M.TIGHTEN, M.BASE, NORMAL)


def test_zero_dwell_and_disabled() -> None:
    c = ModeController(ControllerConfig(min_dwell_ms=0))
    c.evaluate(0, 100.0, 1.0)
    assert c.evaluate(0, 1.0, 1.0) is not None  # de-escalates in the same millisecond
    off = ModeController(ControllerConfig(enabled=False))
    assert off.evaluate(0, 100.0, 100.0) is None and off.mode is M.BASE and off.since_ms is None


def test_level_offset_is_floor_of_the_exact_fraction() -> None:
    # 50 000.0 in ticks, 3 bps: level 1 = floor(500000 × 3 / 10000) = 150 ticks
    assert level_offset(500_000, Fraction(3), 1) == 150
    assert level_offset(500_000, Fraction(3), 2) == 300
    assert level_offset(333_333, Fraction(1, 3), 1) == 11  # floor(11.1111)
    assert level_offset(100, Fraction(1), 3, min_ticks=2) == 6  # the minimum tick distance wins
    assert level_offset(1_000_000, Fraction(1), 3, min_ticks=2) == 300
    assert level_offset(500_000, Fraction(Decimal("2.5")), 1) == 125


# ----------------------------------------------------------------- toxicity gate
class Features:
    """The FeatureEngine read-outs the gate uses, set directly (the gate is what is under test)."""

    def __init__(self, mid2: int, spread_ticks: int = 2, spread_ema: float = 2.0, tfi: float = 0.0,
                 count: float = 0.0) -> None:
        self.mid2, self.spread_ticks, self.spread_ema_ticks = mid2, spread_ticks, spread_ema
        self._flow = (tfi, count)

    def flow(self) -> tuple[float, float]:
        return self._flow


def gate(**kw: object) -> object:
    from grinder.strategy.config import ToxicityConfig
    from grinder.strategy.toxicity import ToxicityGate

    return ToxicityGate(ToxicityConfig(**kw), "BTCUSDT")  # type: ignore[arg-type]


MID2 = 2_000_000  # bid + ask in ticks (mid 1 000 000)


def test_spread_spike_threshold_and_hold() -> None:
    g = gate(spread_spike_bps=8.0, cooldown_ms=5000)
    g.check_fast(0, 999_600, 1_000_400)  # spread 800 = 8 bps of the mid: not wider than the limit
    assert g.spike_ticks == 800 and g.active == {} and not g.paused_all()
    g.check_fast(10, 999_600, 1_000_401)
    assert g.active == {"SPREAD_SPIKE": 5010} and g.paused_all() and g.triggers == 1
    g.check_fast(20, 999_000, 1_001_000)  # still wide: the hold is not extended
    assert g.active == {"SPREAD_SPIKE": 5010} and g.triggers == 1
    g.evaluate(5009, Features(MID2, spread_ticks=2))  # cleared, but inside the hold
    assert g.paused_all()
    g.evaluate(5010, Features(MID2, spread_ticks=2))
    assert not g.paused_all() and g.reasons() == ()


def test_spike_limit_follows_the_smoothed_spread() -> None:
    g = gate(spread_spike_bps=8.0, spread_spike_mult=10.0)
    g.evaluate(0, Features(MID2, spread_ema=100.0))
    assert g.spike_ticks == 1000  # 10 × 100 beats 8 bps (800)
    g.evaluate(1, Features(MID2, spread_ema=50.0))
    assert g.spike_ticks == 800
    g.evaluate(2, Features(MID2, spread_ema=float("nan")))
    assert g.spike_ticks == 800
    g.evaluate(3, Features(0))  # no mid yet: nothing changes
    assert g.spike_ticks == 800


def test_price_impact_pauses_the_run_over_side() -> None:
    g = gate(impact_bps=30.0, impact_lookback_ms=3000)
    g.evaluate(0, Features(MID2))
    assert (g.impact_lo2, g.impact_hi2) == (MID2 - 6000, MID2 + 6000)
    g.check_fast(1, 1_002_999, 1_003_001)  # mid2 = MID2 + 6000: at the band edge
    assert g.active == {}
    g.check_fast(2, 1_003_000, 1_003_001)  # one half-tick past it
    assert g.sell_blocked() and not g.buy_blocked() and g.reasons() == ("PRICE_IMPACT_UP",)
    g2 = gate(impact_bps=30.0)
    g2.evaluate(0, Features(MID2))
    g2.check_fast(1, 996_999, 997_000)
    assert g2.buy_blocked() and not g2.sell_blocked() and g2.reasons() == ("PRICE_IMPACT_DOWN",)


def test_impact_reference_is_the_newest_sample_at_or_before_the_lookback() -> None:
    g = gate(impact_bps=30.0, impact_lookback_ms=3000)
    g.evaluate(0, Features(MID2))
    g.evaluate(1000, Features(MID2 + 10_000))
    g.evaluate(3000, Features(MID2 + 20_000))  # horizon 0: the sample at 0 is still the reference
    assert (g.impact_lo2, g.impact_hi2) == (MID2 - 6000, MID2 + 6000)
    g.evaluate(4000, Features(MID2 + 20_000))  # horizon 1000: the sample at 1000 takes over
    ref2 = MID2 + 10_000
    band = int(30.0 * ref2 / 10_000.0)
    assert (g.impact_lo2, g.impact_hi2) == (ref2 - band, ref2 + band)


@pytest.mark.parametrize(("tfi", "count", "code"), [(0.8, 20.0, "FLOW_TOXIC_BUY"), (-0.8, 20.0, "FLOW_TOXIC_SELL"),
                                                    (0.79, 20.0, None), (0.9, 19.9, None), (-0.79, 50.0, None)])
def test_one_sided_flow(tfi: float, count: float, code: str | None) -> None:
    from grinder.strategy.config import ToxicAction

    g = gate(flow_threshold=0.8, flow_min_trades=20.0, flow_widen_factor=Decimal("2.5"))
    g.evaluate(0, Features(MID2, tfi=tfi, count=count))
    assert g.reasons() == ((code,) if code else ())
    assert g.sell_factor() == (Fraction(5, 2) if code == "FLOW_TOXIC_BUY" else 1)
    assert g.buy_factor() == (Fraction(5, 2) if code == "FLOW_TOXIC_SELL" else 1)
    assert not g.buy_blocked() and not g.sell_blocked()  # WIDEN by default
    p = gate(flow_threshold=0.8, flow_min_trades=20.0, flow_action=ToxicAction.PAUSE)
    p.evaluate(0, Features(MID2, tfi=tfi, count=count))
    assert p.sell_blocked() is (code == "FLOW_TOXIC_BUY") and p.buy_blocked() is (code == "FLOW_TOXIC_SELL")


def test_flow_condition_expires_after_the_hold_once_it_clears() -> None:
    g = gate(cooldown_ms=1000)
    g.evaluate(0, Features(MID2, tfi=0.95, count=40.0))
    g.evaluate(1500, Features(MID2, tfi=0.95, count=40.0))  # past the hold but still true: kept
    assert g.reasons() == ("FLOW_TOXIC_BUY",)
    g.evaluate(1600, Features(MID2, tfi=0.1, count=40.0))
    assert g.reasons() == ()


def test_disabled_gate_does_nothing() -> None:
    g = gate(enabled=False)
    g.check_fast(0, 1, 1_000_000)
    g.evaluate(0, Features(MID2, tfi=1.0, count=100.0))
    assert g.active == {} and g.spike_ticks == 0 and not g.enabled


# ----------------------------------------------------------------- grid policy: take-profits and limits
def policy(**rules_kw: object) -> object:
    import dataclasses

    from grinder.core.rules import btcusdt_rules
    from grinder.strategy.config import GridConfig
    from grinder.strategy.grid import GridPolicy

    rules = dataclasses.replace(btcusdt_rules("100"), **rules_kw)  # MIN_NOTIONAL 100, step 0.001
    return GridPolicy("BTCUSDT", rules, GridConfig(max_position=Decimal("0.01")))  # 10 lots


def tps(*items: tuple[str, int, int]) -> tuple[object, ...]:
    from grinder.core.enums import Side
    from grinder.strategy.grid import TakeProfit

    return tuple(TakeProfit(tag, Side.BUY if tag.startswith("b") else Side.SELL, p, q) for tag, p, q in items)


BID, ASK = 600_000, 600_001  # 60 000.0: two lots clear MIN_NOTIONAL


def test_take_profits_fill_the_reducing_budget_in_order() -> None:
    from grinder.strategy.types import INT_MAX, INT_MIN

    g = policy()
    out: list[object] = []
    # short 5 lots: buys may reduce it by at most 5
    used = g._take_profit_quotes(tps(("b-a", 599_000, 2), ("b-b", 598_000, 2), ("b-c", 597_000, 2)),  # type: ignore[attr-defined]
                                 -5, BID, ASK, INT_MAX, INT_MIN, out)
    assert [q.level for q in out] == ["b-a", "b-b"]  # type: ignore[attr-defined]
    assert used == (4, 0, 599_001, INT_MAX, INT_MAX, INT_MIN)
    out = []
    used = g._take_profit_quotes(tps(("s-a", 601_000, 3), ("s-b", 602_000, 3)), 5, BID, ASK,  # type: ignore[attr-defined]
                                 INT_MAX, INT_MIN, out)
    assert [q.level for q in out] == ["s-a"]  # type: ignore[attr-defined]
    assert used == (0, 3, INT_MIN, 600_999, INT_MAX, INT_MIN)


def test_take_profit_bounds_and_crossing() -> None:
    from grinder.strategy.types import INT_MAX, INT_MIN

    g = policy()
    out: list[object] = []
    # at the buy cap is fine, above it is not; a sell at or under the bid is withheld (post-only)
    used = g._take_profit_quotes(tps(("b-a", 599_000, 2), ("b-b", 599_001, 2)), -5, BID, ASK, 599_000,  # type: ignore[attr-defined]
                                 INT_MIN, out)
    assert [q.level for q in out] == ["b-a"] and used[0] == 2  # type: ignore[attr-defined]
    out = []
    used = g._take_profit_quotes(tps(("s-a", 600_000, 2)), 5, BID, ASK, INT_MAX, INT_MIN, out)  # type: ignore[attr-defined]
    assert out == [] and used == (0, 0, INT_MIN, INT_MAX, INT_MAX, 600_000)
    out = []
    used = g._take_profit_quotes(tps(("b-a", 600_001, 2)), -5, BID, ASK, INT_MAX, INT_MIN, out)  # type: ignore[attr-defined]
    assert out == [] and used == (0, 0, INT_MIN, INT_MAX, 600_001, INT_MIN)


def test_take_profit_outside_the_price_filter_is_dropped() -> None:
    from grinder.strategy.types import INT_MAX, INT_MIN

    g = policy(max_price=Decimal("61000.0"))
    out: list[object] = []
    g._take_profit_quotes(tps(("s-a", 610_001, 2), ("s-b", 610_000, 2)), 5, BID, ASK, INT_MAX, INT_MIN, out)  # type: ignore[attr-defined]
    assert [q.level for q in out] == ["s-b"]  # type: ignore[attr-defined]
    g = policy(max_price=Decimal("100.07"), min_price=Decimal(0))  # not on the 0.10 grid: floored
    assert g.price_allowed(1000) and not g.price_allowed(1001)  # type: ignore[attr-defined]


def test_grid_sizes_must_be_whole_lots() -> None:
    from grinder.core.rules import btcusdt_rules
    from grinder.strategy.config import GridConfig
    from grinder.strategy.grid import GridPolicy

    with pytest.raises(ValueError, match=r"^\[grid\] max_position = 0.0105 is not a multiple of BTCUSDT stepSize"):
        GridPolicy("BTCUSDT", btcusdt_rules(), GridConfig(max_position=Decimal("0.0105")))


def test_build_bounds_and_the_inclusive_percent_price_limit() -> None:
    from grinder.core.enums import Side

    g = policy()
    # 10 bps of 60 000.0 = 600 ticks per level
    b = g.build(anchor_ticks=600_000, position_lots=0, bid_ticks=BID, ask_ticks=ASK,  # type: ignore[attr-defined]
                buy_spacing_bps=Fraction(10), sell_spacing_bps=Fraction(10), sell_min_ticks=600_600,
                buy_max_ticks=599_400)
    sells = sorted(q.price_ticks for q in b.quotes if q.side is Side.SELL)
    buys = sorted(q.price_ticks for q in b.quotes if q.side is Side.BUY)
    assert sells[0] == 600_600 and buys[-1] == 599_400  # exactly at the limits: quoted
    assert (b.ask_lo, b.bid_hi) == (599_401, 600_599)  # the book may come up to one tick off our levels
    b = g.build(anchor_ticks=600_000, position_lots=0, bid_ticks=BID, ask_ticks=ASK,  # type: ignore[attr-defined]
                buy_spacing_bps=Fraction(10), sell_spacing_bps=Fraction(10), sell_min_ticks=600_601,
                buy_max_ticks=599_399)
    assert min(q.price_ticks for q in b.quotes if q.side is Side.SELL) == 601_200
    assert max(q.price_ticks for q in b.quotes if q.side is Side.BUY) == 598_800


# ----------------------------------------------------------------- toxicity: the slide check
def _slide(drop_ticks: int, sellers: bool) -> tuple[object, object]:
    """Mid 600,001 at T0, then `drop_ticks` lower at T0 + 2 s after 8 trades (all sell-initiated, or
    alternating); evaluated at both times. Slide: 4 bps over 10 s with flow <= -0.5, >= 5 trades."""
    from grinder.core.rules import btcusdt_rules
    from grinder.strategy import FeatureConfig, FeatureEngine, ToxicityConfig
    from grinder.strategy.toxicity import ToxicityGate
    from tests.strategy.helpers import SYM, book, trade

    t0 = 1_700_000_000_000
    g = ToxicityGate(ToxicityConfig(slide_bps=4.0, slide_lookback_ms=10_000, slide_flow=0.5, slide_min_trades=5.0,
                                    cooldown_ms=1000), SYM)
    f = FeatureEngine(SYM, btcusdt_rules(), FeatureConfig(spread_halflife_ms=1000, flow_halflife_ms=1000))
    f.on_book_ticker(book(600_000, 600_002, t0))
    g.evaluate(t0, f)
    for k in range(8):
        f.on_trade(trade(600_000 - drop_ticks, 4, t0 + 1900 + k, buyer_is_maker=sellers or k % 2 == 0))
    f.on_book_ticker(book(600_000 - drop_ticks, 600_002 - drop_ticks, t0 + 2000))
    g.evaluate(t0 + 2000, f)
    return g, f


def test_a_slide_down_with_selling_flow_pauses_buys_until_it_stops() -> None:
    from tests.strategy.helpers import book, trade

    g, f = _slide(300, sellers=True)  # -5 bps with every trade sell-initiated
    assert g.reasons() == ("SLIDE_DOWN",) and g.buy_blocked() and not g.sell_blocked()  # type: ignore[attr-defined]
    t = 1_700_000_000_000 + 4000  # after the cooldown, the flow balanced again: cleared
    for k in range(40):
        f.on_trade(trade(599_700, 4, t - 500 + k, buyer_is_maker=k % 2 == 0))  # type: ignore[attr-defined]
    f.on_book_ticker(book(599_700, 599_702, t))  # type: ignore[attr-defined]
    g.evaluate(t, f)  # type: ignore[attr-defined]
    assert g.reasons() == ()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("drop", "sellers"), [(60, True), (300, False)])
def test_no_slide_without_both_the_drift_and_the_one_sided_flow(drop: int, sellers: bool) -> None:
    g, _ = _slide(drop, sellers)  # -1 bps with selling flow; -5 bps with balanced flow
    assert g.reasons() == ()  # type: ignore[attr-defined]


# ----------------------------------------------------------------- grid policy: anchors, lattice, take-profit room
def test_the_anchor_moves_by_the_nearest_whole_number_of_steps() -> None:
    g = policy()  # whole_levels: 10 bps of 60 000.0 = a 600-tick step
    assert g.offsets(600_000, Fraction(10))[0] == 600  # type: ignore[attr-defined]
    half = Fraction(1, 2)  # the anchor stays while the mid is within half a step
    assert g.moved_anchor(600_000, 2 * 600_300, Fraction(10), half) == 600_000  # type: ignore[attr-defined]
    assert g.moved_anchor(600_000, 2 * 601_800, Fraction(10), half) == 601_800  # type: ignore[attr-defined]  # 3 steps up
    assert g.moved_anchor(600_000, 2 * 601_500, Fraction(10), half) == 601_800  # type: ignore[attr-defined]  # 2.5: rounds up
    assert g.moved_anchor(600_000, 2 * 601_499, Fraction(10), half) == 601_200  # type: ignore[attr-defined]
    assert g.moved_anchor(600_000, 2 * 598_200, Fraction(10), half) == 598_200  # type: ignore[attr-defined]  # 3 steps down
    assert g.moved_anchor(600_000, 2 * 599_301, Fraction(10), half) == 599_400  # type: ignore[attr-defined]  # at least one
    # a one-tick step is a lattice too: the anchor moves by whole ticks, the half tick rounds away
    tiny = Fraction(1, 100)
    assert g.offsets(600_000, tiny)[0] == 1  # type: ignore[attr-defined]
    assert g.moved_anchor(600_000, 1_200_005, tiny, half) == 600_003  # type: ignore[attr-defined]
    assert g.moved_anchor(600_000, 1_199_995, tiny, half) == 599_997  # type: ignore[attr-defined]


def test_the_lattice_step_of_a_spacing_is_refixed_after_eight_other_spacings() -> None:
    g = policy()
    assert g.offsets(600_000, Fraction(10))[0] == 600  # type: ignore[attr-defined]
    assert g.offsets(606_000, Fraction(10))[0] == 600  # type: ignore[attr-defined]  # 1 % off: the lattice stays
    for k in range(1, 8):  # seven more spacings: eight remembered
        g.offsets(600_000, Fraction(10 + k))  # type: ignore[attr-defined]
    assert g.offsets(606_000, Fraction(10))[0] == 600  # type: ignore[attr-defined]
    g.offsets(600_000, Fraction(30))  # type: ignore[attr-defined]  # a ninth: the memory starts over
    assert g.offsets(606_000, Fraction(10))[0] == 606  # type: ignore[attr-defined]


def test_sell_take_profits_use_up_the_grid_sells_room() -> None:
    from grinder.core.enums import Side
    from grinder.core.rules import btcusdt_rules
    from grinder.strategy.config import GridConfig
    from grinder.strategy.grid import GridPolicy

    g = GridPolicy("BTCUSDT", btcusdt_rules("100"), GridConfig(max_position=Decimal("0.01"), levels=7))
    common = {"anchor_ticks": 600_000, "bid_ticks": BID, "ask_ticks": ASK,
              "buy_spacing_bps": Fraction(10), "sell_spacing_bps": Fraction(10)}
    # long 5 of max 10: sells may total 15 lots; a 5-lot take-profit leaves 10 = five 2-lot levels
    b = g.build(position_lots=5, take_profits=tps(("s-a", 601_000, 5)), **common)  # type: ignore[arg-type]
    grid_sells = [q for q in b.quotes if q.side is Side.SELL and q.level != "s-a"]
    assert sum(q.qty_lots for q in grid_sells) == 10 and len(grid_sells) == 5
    # short 5: a buy take-profit at 599,000; grid sells stay above it, grid buys use the rest of the room
    b = g.build(position_lots=-5, take_profits=tps(("b-a", 599_000, 5)), **common)  # type: ignore[arg-type]
    assert ("b-a", 599_000, 5) in [(q.level, q.price_ticks, q.qty_lots) for q in b.quotes]
    assert sum(q.qty_lots for q in b.quotes if q.side is Side.BUY and q.level != "b-a") == 10
    assert min(q.price_ticks for q in b.quotes if q.side is Side.SELL) > 599_000
