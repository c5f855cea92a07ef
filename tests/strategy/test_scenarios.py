"""Scripted price paths (range, trend, jump, wide spread, one-sided flow) with expected modes and shapes."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from grinder.core.enums import Side
from grinder.core.rules import btcusdt_rules
from grinder.strategy import (
    ControllerConfig,
    ControllerMode,
    FeatureConfig,
    GridConfig,
    GridStrategy,
    SpacingMode,
    StrategyConfig,
    ToxicAction,
    ToxicityConfig,
)
from grinder.strategy.grid import level_offset
from grinder.strategy.types import QuoteSet
from tests.strategy.helpers import SYM, book, fill, mark, trade


def legacy_grid(**kw: object) -> GridConfig:
    """The grid defaults these scenarios were written for: FIXED spacing, no skew (issue 15 changed them)."""
    base: dict[str, object] = {
        "spacing_mode": SpacingMode.FIXED,
        "anchor_skew_bps": Decimal(0),
        "size_skew": False,
    }
    base.update(kw)
    return GridConfig(**base)  # type: ignore[arg-type]


T0 = 1_700_000_000_000
FEATURES = FeatureConfig(bar_ms=1000, natr_period=5, trend_window_bars=10, spread_halflife_ms=2000)
CONTROLLER = ControllerConfig(
    eval_interval_ms=500,
    min_dwell_ms=3000,
    hysteresis=0.2,
    pause_vol_bps=100.0,
    widen_vol_bps=20.0,
    tighten_vol_bps=2.0,
    pause_spread_bps=10.0,
    widen_spread_bps=3.0,
    tighten_spread_bps=0.5,
)
NO_TOX = ToxicityConfig(enabled=False)
GRID = legacy_grid(
    levels=5, spacing_bps=Decimal("10"), order_qty=Decimal("0.002"), max_position=Decimal("0.02")
)


def cfg(**kw: object) -> StrategyConfig:
    base: dict[str, object] = {
        "grid": GRID,
        "controller": CONTROLLER,
        "toxicity": NO_TOX,
        "features": FEATURES,
    }
    base.update(kw)
    return StrategyConfig(**base)  # type: ignore[arg-type]


def run(
    strat: GridStrategy,
    mid_at: Callable[[int], int],
    seconds: float,
    *,
    spread: int = 2,
    pos: int = 0,
    t0: int = T0,
) -> tuple[QuoteSet, list[ControllerMode], int]:
    """Quotes every 100 ms with mid from `mid_at(i)`; returns the last set, modes seen, end time."""
    modes: list[ControllerMode] = []
    qs = strat.desired_quotes(pos, t0)
    t = t0
    for i in range(int(seconds * 10)):
        t = t0 + i * 100
        m = mid_at(i)
        strat.on_event(book(m - spread // 2, m - spread // 2 + spread, t))
        qs = strat.desired_quotes(pos, t)
        if not modes or modes[-1] is not qs.mode:
            modes.append(qs.mode)
    return qs, modes, t


def sides(qs: QuoteSet, side: Side) -> list[int]:
    return [q.price_ticks for q in qs.quotes if q.side is side and q.level[0] in "bs"]


def test_range_market_tightens_and_quotes_a_symmetric_grid() -> None:
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg())
    qs, modes, _ = run(s, lambda i: 600_000 + (i % 4), 20)
    assert modes[0] is ControllerMode.BASE and qs.mode is ControllerMode.TIGHTEN
    assert s.controller.reason == "CALM"
    a = qs.anchor_ticks
    d = [level_offset(a, s.spacing_bps, i) for i in range(1, 6)]
    assert s.spacing_bps == Decimal("7.5")
    assert sides(qs, Side.BUY) == [a - x for x in d]
    assert sides(qs, Side.SELL) == [a + x for x in d]
    assert qs.reason == "QUOTING" and s.reanchors == 0


def test_trend_widens_and_reanchors_following_price() -> None:
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg())
    qs, modes, _ = run(s, lambda i: 600_000 + 150 * i, 30)  # +1500 ticks per 1 s bar ≈ 25 bps
    assert ControllerMode.WIDEN in modes and qs.mode is ControllerMode.WIDEN
    assert s.controller.reason == "VOL_WIDEN"
    assert s.reanchors > 10
    assert abs(qs.anchor_ticks - (600_000 + 150 * 299)) <= level_offset(qs.anchor_ticks, s.spacing_bps, 1)
    buys, sells = sides(qs, Side.BUY), sides(qs, Side.SELL)
    # whole levels: one lattice step, kept within 2 % of the spacing at the current anchor
    step = s.policy.offsets(qs.anchor_ticks, s.spacing_bps)[0]
    assert buys[0] - buys[1] == step and sells[0] - qs.anchor_ticks == step
    assert s.spacing_bps == Decimal(15) and abs(step - qs.anchor_ticks * 15 // 10000) <= step // 50


def test_violent_market_pauses_then_recovers_after_dwell_with_hysteresis() -> None:
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg())
    rng = random.Random(5)
    qs, _, t = run(s, lambda i: 600_000 + rng.randint(-4000, 4000), 10)  # ±60 bps noise
    assert qs.mode is ControllerMode.PAUSE and qs.quotes == () and qs.reason == "PAUSE:VOL_PAUSE"
    paused_at = s.controller.since_ms
    assert paused_at is not None
    # calm again: NATR decays; PAUSE → (WIDEN) → BASE/TIGHTEN, never faster than the dwell
    switches: list[tuple[int, ControllerMode]] = []
    last = s.mode
    for i in range(400):
        tt = t + 100 + i * 100
        s.on_event(book(600_000, 600_002, tt))
        q = s.desired_quotes(0, tt)
        if q.mode is not last:
            switches.append((tt, q.mode))
            last = q.mode
    assert switches and switches[-1][1] in (ControllerMode.BASE, ControllerMode.TIGHTEN)
    times = [paused_at] + [x[0] for x in switches]
    assert all(b - a >= CONTROLLER.min_dwell_ms for a, b in itertools.pairwise(times))


def test_controller_hysteresis_holds_widen_until_metric_clears_margin() -> None:
    from grinder.strategy.controller import ModeController

    c = ModeController(CONTROLLER)
    assert c.evaluate(0, 25.0, 1.0) is not None and c.mode is ControllerMode.WIDEN
    assert c.evaluate(10_000, 17.0, 1.0) is None and c.mode is ControllerMode.WIDEN  # 17 >= 20 × 0.8
    sw = c.evaluate(11_000, 15.0, 1.0)
    assert sw is not None and sw.to_mode is ControllerMode.BASE and sw.reason == "NORMAL"
    # an escalation is immediate even inside the dwell; de-escalation is not
    assert c.evaluate(11_100, 200.0, 1.0) is not None and c.mode is ControllerMode.PAUSE
    assert c.evaluate(11_200, 1.0, 0.1) is None and c.mode is ControllerMode.PAUSE
    sw = c.evaluate(14_200, 1.0, 0.1)
    assert sw is not None and sw.to_mode is ControllerMode.TIGHTEN and sw.reason == "CALM"
    # leaving TIGHTEN needs vol above 2 × 1.2
    assert c.evaluate(20_000, 2.3, 0.1) is None and c.mode is ControllerMode.TIGHTEN
    assert c.evaluate(20_500, 2.5, 0.1) is not None and c.mode is ControllerMode.BASE
    # NaN (not warm) never triggers a vol mode
    c2 = ModeController(CONTROLLER)
    assert c2.evaluate(0, math.nan, math.nan) is None and c2.mode is ControllerMode.BASE
    assert c2.evaluate(0, math.nan, 4.0) is not None and c2.reason == "SPREAD_WIDEN"


def test_wide_spread_spike_pauses_both_sides() -> None:
    s = GridStrategy(
        SYM, btcusdt_rules("100"), cfg(toxicity=ToxicityConfig(spread_spike_bps=8.0, cooldown_ms=2000))
    )
    qs, _, t = run(s, lambda i: 600_000, 5)
    assert len(qs.quotes) == 10
    # 8 bps of 60_000 = 48 USDT = 480 ticks: a 600-tick spread is a spike
    s.on_event(book(599_700, 600_300, t + 50))
    qs = s.desired_quotes(0, t + 50)
    assert qs.quotes == () and qs.reason == "PAUSE:SPREAD_SPIKE"
    assert s.quiet_band().spread_max > 10**12  # while paused, the spread can do anything
    # spread normal again: still paused until the cooldown has passed and an evaluation clears it
    s.on_event(book(599_999, 600_001, t + 100))
    assert s.desired_quotes(0, t + 100).quotes == ()
    qs, _, _ = run(s, lambda i: 600_000, 3, t0=t + 200)
    assert len(qs.quotes) == 10 and qs.reason == "QUOTING"


def test_wide_smoothed_spread_widens_then_pauses_via_controller() -> None:
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg())
    qs, _, t = run(s, lambda i: 600_000, 20, spread=240)  # 4 bps
    assert qs.mode is ControllerMode.WIDEN and s.controller.reason == "SPREAD_WIDEN"
    qs, _, _ = run(s, lambda i: 600_000, 20, spread=720, t0=t + 100)  # 12 bps
    assert qs.mode is ControllerMode.PAUSE and qs.reason == "PAUSE:SPREAD_PAUSE"


def test_jump_pauses_the_run_over_side_only() -> None:
    tox = ToxicityConfig(impact_bps=20.0, impact_lookback_ms=2000, spread_spike_bps=50.0, cooldown_ms=1000)
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg(toxicity=tox, controller=ControllerConfig(enabled=False)))
    qs, _, t = run(s, lambda i: 600_000, 5)
    assert len(qs.quotes) == 10
    s.on_event(book(601_800, 601_802, t + 10))  # +30 bps in one step
    qs = s.desired_quotes(0, t + 10)
    assert qs.reason == "QUOTING:PRICE_IMPACT_UP"
    assert sides(qs, Side.SELL) == [] and len(sides(qs, Side.BUY)) == 5
    assert all(p < 601_802 for p in sides(qs, Side.BUY))
    # price holds the new level: once the look-back has passed, the sells come back
    qs, _, _ = run(s, lambda i: 601_801, 4, t0=t + 100)
    assert qs.reason == "QUOTING" and len(sides(qs, Side.SELL)) == 5
    s.on_event(book(599_000, 599_002, t + 4200))
    assert s.desired_quotes(0, t + 4200).reason == "QUOTING:PRICE_IMPACT_DOWN"


def test_one_sided_buy_flow_widens_the_sell_side() -> None:
    tox = ToxicityConfig(flow_threshold=0.8, flow_min_trades=10, flow_action=ToxicAction.WIDEN, cooldown_ms=0)
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg(toxicity=tox, controller=ControllerConfig(enabled=False)))
    qs, _, t = run(s, lambda i: 600_000, 2)
    for k in range(30):
        s.on_event(trade(600_001, 3, t + 10 + k, buyer_is_maker=False))  # aggressive buys
    s.on_event(book(599_999, 600_001, t + 600))
    qs = s.desired_quotes(0, t + 600)
    assert "FLOW_TOXIC_BUY" in qs.reason
    a = qs.anchor_ticks
    assert sides(qs, Side.SELL)[0] - a == 2 * (sides(qs, Side.BUY) and a - sides(qs, Side.BUY)[0])
    tox_p = ToxicityConfig(flow_threshold=0.8, flow_min_trades=10, flow_action=ToxicAction.PAUSE)
    s2 = GridStrategy(
        SYM, btcusdt_rules("100"), cfg(toxicity=tox_p, controller=ControllerConfig(enabled=False))
    )
    _, _, t = run(s2, lambda i: 600_000, 2)
    for k in range(30):
        s2.on_event(trade(599_999, 3, t + 10 + k, buyer_is_maker=True))  # aggressive sells
    s2.on_event(book(599_999, 600_001, t + 600))
    qs = s2.desired_quotes(0, t + 600)
    assert "FLOW_TOXIC_SELL" in qs.reason and sides(qs, Side.BUY) == [] and len(sides(qs, Side.SELL)) == 5


def test_inventory_skew_shifts_anchor_and_shrinks_growing_side() -> None:
    g = legacy_grid(
        levels=3,
        order_qty=Decimal("0.004"),
        max_position=Decimal("0.04"),
        anchor_skew_bps=Decimal("10"),
        size_skew=True,
        whole_levels=False,  # the continuous skew; on the lattice it moves whole steps (ADR-260)
    )
    s = GridStrategy(
        SYM,
        btcusdt_rules("100"),
        StrategyConfig.reference().__class__(
            grid=g, controller=ControllerConfig(enabled=False), toxicity=NO_TOX
        ),
    )
    s.on_event(book(600_000, 600_002, T0))
    flat = s.desired_quotes(0, T0)
    half = s.desired_quotes(20, T0)  # long half the cap
    a = flat.anchor_ticks
    assert sides(flat, Side.BUY)[0] == a - 600 and sides(flat, Side.SELL)[0] == a + 600
    assert sides(half, Side.SELL)[0] == a - 300 + 600  # center shifted down by 5 bps (10 bps × 1/2)
    assert [q.qty_lots for q in half.quotes if q.side is Side.BUY] == [2, 2, 2]  # 4 lots × (40-20)/40
    assert [q.qty_lots for q in half.quotes if q.side is Side.SELL] == [4, 4, 4]
    at_cap = s.desired_quotes(40, T0)
    assert sides(at_cap, Side.BUY) == [] and len(sides(at_cap, Side.SELL)) == 3
    short = s.desired_quotes(-20, T0)
    assert sides(short, Side.BUY)[0] == a + 300 - 600


def test_take_profit_follows_a_grid_fill_and_leaves_when_filled() -> None:
    g = legacy_grid(
        levels=2,
        order_qty=Decimal("0.002"),
        max_position=Decimal("0.02"),
        take_profit=True,
        whole_levels=False,
    )
    s = GridStrategy(
        SYM,
        btcusdt_rules("100"),
        StrategyConfig(grid=g, controller=ControllerConfig(enabled=False), toxicity=NO_TOX),
    )
    s.on_event(book(600_000, 600_002, T0))
    qs = s.desired_quotes(0, T0)
    b1 = next(q for q in qs.quotes if q.level == "b1")
    s.on_event(book(599_400, 599_402, T0 + 1))  # the market traded down through b1
    s.on_fill(fill(Side.BUY, b1.price_ticks, 2, T0 + 1, "b1"))
    qs = s.desired_quotes(2, T0 + 1)
    tp = [q for q in qs.quotes if q.level.startswith("tp")]
    assert len(tp) == 1 and tp[0].side is Side.SELL and tp[0].qty_lots == 2
    assert tp[0].price_ticks == b1.price_ticks + level_offset(b1.price_ticks, Fraction(10), 1)
    # the take-profit counts against the sell-side cap: 20 + 2 lots of room, tp 2 + s1 2 + s2 2
    assert sum(q.qty_lots for q in qs.quotes if q.side is Side.SELL) == 6
    s.on_event(book(600_000, 600_002, T0 + 2))
    s.on_fill(fill(Side.SELL, tp[0].price_ticks, 2, T0 + 2, tp[0].level))
    qs = s.desired_quotes(0, T0 + 2)
    assert not [q for q in qs.quotes if q.level.startswith("tp")] and s.take_profits == ()
    # a take-profit never opens a position: with the position flat it is withheld
    s.on_fill(fill(Side.BUY, b1.price_ticks, 2, T0 + 3, "b1"))
    assert not [q for q in s.desired_quotes(0, T0 + 3).quotes if q.level.startswith("tp")]


def test_adaptive_spacing_follows_natr_within_floor_and_ceiling() -> None:
    g = legacy_grid(
        spacing_mode=SpacingMode.ADAPTIVE,
        natr_multiple=Decimal("1"),
        spacing_min_bps=Decimal("3"),
        spacing_max_bps=Decimal("12"),
        maker_fee_bps=Decimal("1"),  # fee floor 2 × 1 + 1 = 3 bps: the configured floor governs
        min_edge_bps=Decimal("1"),
        spacing_change_min_frac=Decimal("0"),
        order_qty=Decimal("0.002"),
        max_position=Decimal("0.02"),
    )
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg(grid=g, controller=ControllerConfig(enabled=False)))
    run(s, lambda i: 600_000 + (300 if (i // 10) % 2 else 0), 15)  # bars alternate: TR ≈ 300 ticks = 5 bps
    natr = s.features.natr_bps
    assert 4.0 < natr < 6.0
    assert abs(float(s.spacing_bps) - natr) < 0.6
    run(s, lambda i: 600_000 + (3000 if (i // 10) % 2 else 0), 30, t0=T0 + 20_000)  # ~50 bps: ceiling
    assert s.spacing_bps == 12
    run(s, lambda i: 600_000, 40, t0=T0 + 60_000)
    assert s.spacing_bps == 3


def test_post_only_withholds_crossing_levels_and_percent_price_drops_far_levels() -> None:
    g = legacy_grid(
        levels=3,
        spacing_bps=Decimal("1"),
        reanchor_spacings=Decimal("50"),
        order_qty=Decimal("0.002"),
        max_position=Decimal("0.02"),
    )
    s = GridStrategy(
        SYM,
        btcusdt_rules("100"),
        StrategyConfig(grid=g, controller=ControllerConfig(enabled=False), toxicity=NO_TOX),
    )
    s.on_event(book(600_000, 600_002, T0))
    qs = s.desired_quotes(0, T0)
    assert sides(qs, Side.BUY) == [599_941, 599_881, 599_821]
    s.on_event(book(599_850, 599_880, T0 + 1))  # ask below b1 and b2: they are withheld, not moved
    qs = s.desired_quotes(0, T0 + 1)
    assert sides(qs, Side.BUY) == [599_821] and qs.anchor_ticks == 600_001
    band = s.quiet_band()
    assert band.ask_hi == 599_881 and not band.contains(599_850, 599_890, T0 + 2)
    s.on_event(mark("60000.0", T0 + 2))
    rules = btcusdt_rules("100")
    g2 = legacy_grid(
        levels=5, spacing_bps=Decimal("200"), order_qty=Decimal("0.002"), max_position=Decimal("0.02")
    )
    s2 = GridStrategy(
        SYM, rules, StrategyConfig(grid=g2, controller=ControllerConfig(enabled=False), toxicity=NO_TOX)
    )
    s2.on_event(book(600_000, 600_002, T0))
    assert len(s2.desired_quotes(0, T0).quotes) == 10
    # PERCENT_PRICE: a sell must be >= mark × 0.95, a buy <= mark × 1.05
    s2.on_event(mark("66000", T0 + 1))  # sells below 62_700.0 are dropped
    qs = s2.desired_quotes(0, T0 + 1)
    assert sides(qs, Side.SELL) == [636_001, 648_001, 660_001] and len(sides(qs, Side.BUY)) == 5
    s2.on_event(mark("55000", T0 + 2))  # buys above 57_750.0 are dropped
    qs = s2.desired_quotes(0, T0 + 2)
    assert sides(qs, Side.BUY) == [576_001, 564_001, 552_001, 540_001] and len(sides(qs, Side.SELL)) == 5


def test_grid_level_never_crosses_our_own_take_profit() -> None:
    g = legacy_grid(
        levels=2,
        order_qty=Decimal("0.002"),
        max_position=Decimal("0.02"),
        take_profit=True,
        whole_levels=False,
    )
    s = GridStrategy(
        SYM,
        btcusdt_rules("100"),
        StrategyConfig(grid=g, controller=ControllerConfig(enabled=False), toxicity=NO_TOX),
    )
    s.on_event(book(600_000, 600_002, T0))
    b1 = next(q for q in s.desired_quotes(0, T0).quotes if q.level == "b1")
    s.on_event(book(599_400, 599_402, T0 + 1))
    s.on_fill(fill(Side.BUY, b1.price_ticks, 2, T0 + 1, "b1"))
    # a very wide book re-anchors the grid up: b1 (600_099) would sit above our take-profit sell (600_000)
    s.on_event(book(599_999, 601_400, T0 + 2))
    qs = s.desired_quotes(2, T0 + 2)
    tp = next(q for q in qs.quotes if q.level.startswith("tp"))
    assert tp.price_ticks == 600_000 and qs.anchor_ticks == 600_699
    assert sides(qs, Side.BUY) == [600_699 - 1201]  # b1 withheld, b2 kept
    assert max(sides(qs, Side.BUY)) < tp.price_ticks


def test_metrics_count_switches_triggers_and_reanchors() -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (
        value("grinder_strategy_toxicity_triggers_total", symbol=SYM, reason="SPREAD_SPIKE"),
        value("grinder_strategy_mode_switches_total", symbol=SYM, mode="WIDEN", reason="VOL_WIDEN"),
        value("grinder_strategy_reanchors_total", symbol=SYM),
    )
    s = GridStrategy(SYM, btcusdt_rules("100"), cfg(toxicity=ToxicityConfig(spread_spike_bps=8.0)))
    _, _, t = run(s, lambda i: 600_000 + 150 * i, 30)
    s.on_event(book(599_000, 601_000, t + 10))
    s.desired_quotes(0, t + 10)
    after = (
        value("grinder_strategy_toxicity_triggers_total", symbol=SYM, reason="SPREAD_SPIKE"),
        value("grinder_strategy_mode_switches_total", symbol=SYM, mode="WIDEN", reason="VOL_WIDEN"),
        value("grinder_strategy_reanchors_total", symbol=SYM),
    )
    assert after[0] - before[0] == 1
    assert after[1] - before[1] == 1
    assert after[2] - before[2] == s.reanchors > 0


def test_position_beyond_the_cap_only_quotes_the_reducing_side() -> None:
    s = GridStrategy(SYM, btcusdt_rules("100"), StrategyConfig.reference())
    s.on_event(book(600_000, 600_002, T0))
    long = s.desired_quotes(150, T0)  # e.g. after a manual trade: 0.15 > 0.1 cap
    assert sides(long, Side.BUY) == [] and len(sides(long, Side.SELL)) == 5
    short = s.desired_quotes(-95, T0)
    assert len(sides(short, Side.BUY)) == 5 and sides(short, Side.SELL) == []  # (100 - 95) // 10 = 0
    near = s.desired_quotes(75, T0)
    assert len(sides(near, Side.BUY)) == 2 and len(sides(near, Side.SELL)) == 5  # (100 - 75) // 10 = 2
