"""Property tests over random market paths and fills: symbol rules, position cap, post-only, quiet band."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grinder.core.enums import OrderType, Side
from grinder.core.events import BookTicker, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import btcusdt_rules
from grinder.strategy import (
    ControllerConfig,
    FeatureConfig,
    GridConfig,
    GridStrategy,
    SpacingMode,
    StrategyConfig,
    ToxicAction,
    ToxicityConfig,
)
from grinder.strategy.types import QuoteSet
from tests.strategy.helpers import SYM, QuoteMatcher, event_time, fill, market_events


def legacy_grid(**kw: object) -> GridConfig:
    """The grid defaults these scenarios were written for: FIXED spacing, no skew (issue 15 changed them)."""
    base: dict[str, object] = {
        "spacing_mode": SpacingMode.FIXED,
        "anchor_skew_bps": Decimal(0),
        "size_skew": False,
    }
    base.update(kw)
    return GridConfig(**base)  # type: ignore[arg-type]


grid_configs = st.builds(
    GridConfig,
    levels=st.integers(1, 8),
    spacing_mode=st.sampled_from(SpacingMode),
    spacing_bps=st.sampled_from([Decimal("0.5"), Decimal("2"), Decimal("7.5"), Decimal("10"), Decimal("40")]),
    natr_multiple=st.sampled_from([Decimal("0.3"), Decimal("1"), Decimal("3")]),
    min_spacing_ticks=st.integers(0, 3),
    order_qty=st.sampled_from([Decimal("0.001"), Decimal("0.002"), Decimal("0.01"), Decimal("0.05")]),
    order_notional=st.sampled_from([Decimal("0"), Decimal("0"), Decimal("150"), Decimal("1000")]),
    max_position=st.sampled_from([Decimal("0.005"), Decimal("0.02"), Decimal("0.1")]),
    reanchor_spacings=st.sampled_from([Decimal("0.5"), Decimal("1"), Decimal("2.5")]),
    anchor_skew_bps=st.sampled_from([Decimal("0"), Decimal("5"), Decimal("50")]),
    size_skew=st.booleans(),
    take_profit=st.booleans(),
    max_take_profits=st.integers(0, 6),
    post_only=st.just(True),
)

strategy_configs = st.builds(
    StrategyConfig,
    grid=grid_configs,
    controller=st.builds(
        ControllerConfig,
        enabled=st.booleans(),
        eval_interval_ms=st.sampled_from([250, 1000]),
        min_dwell_ms=st.sampled_from([0, 5000]),
        pause_vol_bps=st.just(60.0),
        widen_vol_bps=st.just(15.0),
        tighten_vol_bps=st.just(4.0),
    ),
    toxicity=st.builds(
        ToxicityConfig,
        enabled=st.booleans(),
        impact_bps=st.sampled_from([5.0, 30.0]),
        flow_min_trades=st.sampled_from([3.0, 20.0]),
        flow_action=st.sampled_from(ToxicAction),
        cooldown_ms=st.sampled_from([0, 3000]),
    ),
    features=st.builds(FeatureConfig, bar_ms=st.sampled_from([1000, 5000]), natr_period=st.integers(1, 5)),
)


def check_quotes(
    qs: QuoteSet, strat: GridStrategy, pos: int, bid: int, ask: int, mark: Decimal | None
) -> None:
    rules = strat.rules
    max_pos = strat.policy.max_position_lots
    buys = sum(q.qty_lots for q in qs.quotes if q.side is Side.BUY)
    sells = sum(q.qty_lots for q in qs.quotes if q.side is Side.SELL)
    # worst case: every resting order of one side fills
    assert buys <= max(0, max_pos - pos), (pos, buys, max_pos)
    assert sells <= max(0, max_pos + pos), (pos, sells, max_pos)
    buy_px = [q.price_ticks for q in qs.quotes if q.side is Side.BUY]
    sell_px = [q.price_ticks for q in qs.quotes if q.side is Side.SELL]
    assert max(buy_px, default=0) < min(sell_px, default=1 << 62)  # never a self-trade
    levels = [q.level for q in qs.quotes]
    assert len(set(levels)) == len(levels)
    for q in qs.quotes:
        assert q.symbol == SYM and q.qty_lots > 0
        rules.validate_ticks(q.side, OrderType.LIMIT, q.qty_lots, q.price_ticks, mark_price=mark)
        assert q.post_only
        if q.side is Side.BUY:
            assert q.price_ticks < ask
        else:
            assert q.price_ticks > bid
        assert 1 <= len(q.level) <= 6 and q.level.isalnum()


def drive(cfg: StrategyConfig, seed: int, n: int, oracle: bool) -> tuple[int, int]:
    """Run the path; with `oracle`, a second strategy recomputes on every event and must agree."""
    rules = btcusdt_rules("100")
    a = GridStrategy(SYM, rules, cfg)
    b = GridStrategy(SYM, rules, cfg) if oracle else None
    m = QuoteMatcher()
    bid = ask = 0
    mark: Decimal | None = None
    prev: QuoteSet | None = None
    quiet_hits = 0
    for ev in market_events(seed, n):
        t = event_time(ev)
        band = a.quiet_band()
        hits = m.match(ev)
        a.on_event(ev)  # type: ignore[arg-type]
        if b is not None:
            b.on_event(ev)  # type: ignore[arg-type]
        if isinstance(ev, BookTicker):
            bid, ask = ev.bid_ticks, ev.ask_ticks
        elif isinstance(ev, MarkPrice):
            mark = ev.mark_price
        for q in hits:
            f = fill(q.side, q.price_ticks, q.qty_lots, t, q.level)
            a.on_fill(f)
            if b is not None:
                b.on_fill(f)
        qs = a.desired_quotes(m.pos, t)
        if b is not None:
            b._dirty = True  # the oracle: a full recompute on every event
            assert b.desired_quotes(m.pos, t) == qs, (t, ev)
        quiet = (
            prev is not None
            and not hits
            and (type(ev) in (BookTicker, Trade) or (type(ev) is DepthUpdate and band.covers_depth))
            and band.position_lots == m.pos
            and band.contains(bid, ask, t)
        )
        if quiet:
            assert qs is prev
            quiet_hits += 1
        if bid and bid < ask:
            check_quotes(qs, a, m.pos, bid, ask, mark)
        assert abs(m.pos) <= a.policy.max_position_lots
        m.resting = qs.quotes
        prev = qs
    return quiet_hits, a.recomputes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=strategy_configs, seed=st.integers(0, 2**31))
def test_quotes_obey_rules_cap_and_post_only(cfg: StrategyConfig, seed: int) -> None:
    drive(cfg, seed, 400, oracle=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=strategy_configs, seed=st.integers(0, 2**31))
def test_quiet_band_claim_against_recompute_oracle(cfg: StrategyConfig, seed: int) -> None:
    drive(cfg, seed, 400, oracle=True)


def test_quiet_band_is_used_on_a_long_path() -> None:
    cfg = StrategyConfig(
        grid=legacy_grid(order_qty=Decimal("0.002"), max_position=Decimal("0.02")),
        features=FeatureConfig(bar_ms=5000, natr_period=3),
    )
    quiet, recomputes = drive(cfg, 3, 5000, oracle=True)
    assert quiet > 1000
    assert recomputes < 5000 - quiet + 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=grid_configs, seed=st.integers(0, 2**31))
def test_skipping_in_band_events_is_exact_without_features(grid: GridConfig, seed: int) -> None:
    """must_feed_events False: withholding in-band quotes/trades from on_event changes nothing."""
    grid = dataclasses.replace(grid, spacing_mode=SpacingMode.FIXED)
    cfg = StrategyConfig(
        grid=grid, controller=ControllerConfig(enabled=False), toxicity=ToxicityConfig(enabled=False)
    )
    rules = btcusdt_rules("100")
    full, skim = GridStrategy(SYM, rules, cfg), GridStrategy(SYM, rules, cfg)
    m = QuoteMatcher()
    bid = ask = 0
    pending: BookTicker | None = None
    for ev in market_events(seed, 600):
        t = event_time(ev)
        hits = m.match(ev)
        if isinstance(ev, BookTicker):
            bid, ask = ev.bid_ticks, ev.ask_ticks
        band = skim.quiet_band()
        assert not band.must_feed_events
        in_band = type(ev) in (BookTicker, Trade) and not hits and band.position_lots == m.pos
        in_band = in_band and band.contains(bid, ask, t)
        full.on_event(ev)  # type: ignore[arg-type]
        if in_band:
            if isinstance(ev, BookTicker):
                pending = ev
        else:
            if pending is not None:
                skim.on_event(pending)  # the last skipped quote first: the book must be current
                pending = None
            skim.on_event(ev)  # type: ignore[arg-type]
        for q in hits:
            f = fill(q.side, q.price_ticks, q.qty_lots, t, q.level)
            full.on_fill(f)
            skim.on_fill(f)
        qs = full.desired_quotes(m.pos, t)
        if not in_band:
            assert skim.desired_quotes(m.pos, t) == qs
        m.resting = qs.quotes
    assert full.reanchors == skim.reanchors
