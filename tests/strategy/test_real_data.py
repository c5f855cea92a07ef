"""The strategy on a real Binance USDⓈ-M capture (BTCUSDT, 2024-08-08): invariants and the band oracle.

Real data has what synthetic paths lack: exchange times that tie or step back across streams,
L2 diffs interleaved with L1, bursts of trades. Every quote set must still obey the symbol rules,
the position cap and post-only, and the cached answer must equal a full recompute on every event.
"""

from __future__ import annotations

from decimal import Decimal

from grinder.core.events import BookTicker, DepthSnapshot
from grinder.core.rules import btcusdt_rules
from grinder.data.capture import iter_capture
from grinder.strategy import (
    ControllerConfig,
    FeatureConfig,
    GridConfig,
    GridStrategy,
    StrategyConfig,
    ToxicityConfig,
)
from grinder.strategy.config import SpacingMode
from tests.fixtures.paths import capture_path
from tests.strategy.helpers import SYM, QuoteMatcher, event_time, fill
from tests.strategy.test_properties import check_quotes


def legacy_grid(**kw: object) -> GridConfig:
    """The grid defaults these scenarios were written for: FIXED spacing, no skew (issue 15 changed them)."""
    base: dict[str, object] = {
        "spacing_mode": SpacingMode.FIXED,
        "anchor_skew_bps": Decimal(0),
        "size_skew": False,
    }
    base.update(kw)
    return GridConfig(**base)  # type: ignore[arg-type]


def test_real_btcusdt_capture_invariants_and_band_oracle() -> None:
    capture_file = capture_path("btcusdt_20240808.gz")
    rules = btcusdt_rules("100")
    cfg = StrategyConfig(
        grid=legacy_grid(
            levels=5,
            spacing_bps=Decimal("1"),
            order_qty=Decimal("0.002"),
            max_position=Decimal("0.01"),
            take_profit=True,
            anchor_skew_bps=Decimal("2"),
            size_skew=True,
        ),
        controller=ControllerConfig(
            eval_interval_ms=500,
            min_dwell_ms=5000,
            widen_vol_bps=3.0,
            tighten_vol_bps=0.5,
            pause_vol_bps=20.0,
        ),
        toxicity=ToxicityConfig(
            impact_bps=3.0, impact_lookback_ms=1000, flow_min_trades=20, cooldown_ms=2000
        ),
        features=FeatureConfig(bar_ms=5000, natr_period=3),
    )
    a, b = GridStrategy(SYM, rules, cfg), GridStrategy(SYM, rules, cfg)
    m = QuoteMatcher()
    bid = ask = 0
    fills = events = 0
    reasons: set[str] = set()
    for _ns, ev in iter_capture(capture_file, {SYM: rules}):
        if isinstance(ev, DepthSnapshot):
            continue
        events += 1
        if events > 30_000:  # about two minutes of market: keeps the test area fast
            break
        t = event_time(ev)
        hits = m.match(ev)
        a.on_event(ev)
        b.on_event(ev)
        if isinstance(ev, BookTicker):
            bid, ask = ev.bid_ticks, ev.ask_ticks
        for q in hits:
            f = fill(q.side, q.price_ticks, q.qty_lots, t, q.level)
            a.on_fill(f)
            b.on_fill(f)
            fills += 1
        qs = a.desired_quotes(m.pos, t)
        b._dirty = True
        assert b.desired_quotes(m.pos, t) == qs, (t, ev)
        if bid:
            check_quotes(qs, a, m.pos, bid, ask, None)
        reasons.add(qs.reason.split(":")[0])
        m.resting = qs.quotes
    assert fills > 5
    assert a.recomputes < events // 3  # the band spares most events
    assert "QUOTING" in reasons
