"""The default strategy can earn (issue 15, ADR-172/173): fee floor, warm-up, skew on by default, size
skew that keeps one order a side, and the SLIDE toxicity signal. Each scenario states its figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.core.enums import Side
from grinder.core.rules import btcusdt_rules
from grinder.strategy import GridStrategy, StrategyConfig
from grinder.strategy.config import GridConfig, SpacingMode, ToxicityConfig
from grinder.strategy.types import QuoteSet
from grinder.strategy.warmup import bars_from_klines, fetch_warmup_bars
from tests.strategy.helpers import SYM, book, fill, trade

RULES = btcusdt_rules("100")
T0 = 1_700_000_000_000
MID = 600_000  # 60 000.0 in 0.1 ticks: 1 bp = 60 ticks


def quiet_walk(s: GridStrategy, seconds: int, *, t0: int = T0, pos: int = 0, amp: int = 2) -> QuoteSet:
    qs = s.desired_quotes(pos, t0)
    for i in range(seconds * 10):
        t = t0 + i * 100
        m = MID + (amp if (i // 50) % 2 else 0)
        s.on_event(book(m - 1, m + 1, t))
        qs = s.desired_quotes(pos, t)
    return qs


def test_default_spacing_never_below_round_trip_fees_plus_edge() -> None:
    # a dead-calm market: NATR ≈ 0.03 bps, the controller goes TIGHTEN (× 0.75); the default floor
    # is 2 × 2 bps maker fee + 1 bp edge = 5 bps, where the old floor let 1.5 bps through
    s = GridStrategy(SYM, RULES, StrategyConfig())
    assert s.cfg.grid.spacing_mode is SpacingMode.ADAPTIVE and s.cfg.grid.fee_floor_bps == 5
    qs = quiet_walk(s, 240)
    assert s.spacing_bps == 5
    buys = sorted((q.price_ticks for q in qs.quotes if q.side is Side.BUY), reverse=True)
    assert qs.anchor_ticks - buys[0] == 300  # 5 bps of 60 000 = 3.0 USDT = 300 ticks


def test_fixed_spacing_below_the_fee_floor_is_kept_but_warned(caplog: pytest.LogCaptureFixture) -> None:
    g = GridConfig(spacing_mode=SpacingMode.FIXED, spacing_bps=Decimal("3"))
    with caplog.at_level("WARNING"):
        s = GridStrategy(SYM, RULES, StrategyConfig(grid=g))
    assert s.spacing_bps == 3
    assert "strategy_spacing_below_fees" in caplog.text and "fee_floor_bps=5" in caplog.text


def test_history_bars_warm_the_spacing_before_the_first_quote() -> None:
    # 30 one-minute bars whose true range is 16 bps (960 ticks): NATR 16 bps, spacing 0.5 × 16 = 8
    bars = [(MID + 480.0, MID - 480.0, float(MID)) for _ in range(30)]
    warm = GridStrategy(SYM, RULES, StrategyConfig())
    warm.warm_up(bars, "test")
    cold = GridStrategy(SYM, RULES, StrategyConfig())
    for s in (warm, cold):
        s.on_event(book(MID - 1, MID + 1, T0))
        s.desired_quotes(0, T0)
    assert warm.features.natr_warm and 15.9 < warm.features.natr_bps < 16.1
    assert warm.spacing_bps == 8
    assert cold.spacing_bps == 10  # configured spacing_bps until a bar closes


def test_without_history_the_spacing_adapts_after_the_first_closed_bar() -> None:
    # no klines: the mean true range of the bars seen so far drives the spacing from minute one
    # (before issue 15 it stayed NaN for natr_period = 14 bars)
    s = GridStrategy(SYM, RULES, StrategyConfig())
    t = T0
    s.on_event(book(MID - 1, MID + 1, t))
    s.desired_quotes(0, t)
    for i in range(1, 1300):  # 130 s: a 16 bps swing every 10 s, two bars close
        t = T0 + i * 100
        m = MID + (960 if (i // 100) % 2 else 0)
        s.on_event(book(m - 1, m + 1, t))
        s.desired_quotes(0, t)
    assert s.features.bars_closed == 2 and not s.features.natr_warm
    assert s.spacing_changes >= 1 and 7.5 < float(s.spacing_bps) < 8.5  # 0.5 × ~16 bps


def test_inventory_skew_is_on_by_default_and_shifts_both_sides_against_the_position() -> None:
    g = GridConfig(
        spacing_mode=SpacingMode.FIXED, spacing_bps=Decimal("10"), order_qty=Decimal("0.002"), whole_levels=False
    )
    flat = GridStrategy(SYM, RULES, StrategyConfig(grid=g))
    long = GridStrategy(SYM, RULES, StrategyConfig(grid=g))
    half_cap = 5  # lots of 0.001: max_position 0.01 = 10 lots
    for s in (flat, long):
        s.on_event(book(MID - 1, MID + 1, T0))
    q0 = flat.desired_quotes(0, T0)
    q1 = long.desired_quotes(half_cap, T0)
    best = {
        (name, side): (max if side is Side.BUY else min)(q.price_ticks for q in qs.quotes if q.side is side)
        for name, qs in (("flat", q0), ("long", q1))
        for side in (Side.BUY, Side.SELL)
    }
    # 5 bps at the cap, half the cap held: both sides 2.5 bps (150 ticks) lower
    assert best["flat", Side.BUY] - best["long", Side.BUY] == 150
    assert best["flat", Side.SELL] - best["long", Side.SELL] == 150
    assert long.stats()["skew_max_bps"] == pytest.approx(2.5, abs=0.01)


def test_skew_on_the_whole_level_lattice_moves_the_grid_by_whole_steps() -> None:
    # default whole levels, step 600 ticks (10 bps), 10 bps skew at the cap of 100 lots: the shift is
    # the nearest whole number of steps, so a fill keeps every order on the lattice (a fractional
    # shift re-priced the whole grid on every fill; ADR-260)
    g = GridConfig(
        spacing_mode=SpacingMode.FIXED,
        spacing_bps=Decimal("10"),
        order_qty=Decimal("0.002"),
        max_position=Decimal("0.1"),
        anchor_skew_bps=Decimal("10"),
        size_skew=False,
    )
    s = GridStrategy(SYM, RULES, StrategyConfig(grid=g))
    s.on_event(book(MID - 1, MID + 1, T0))

    def prices(lots: int) -> set[tuple[Side, int]]:
        return {(q.side, q.price_ticks) for q in s.desired_quotes(lots, T0).quotes}

    flat = prices(0)
    assert len(flat) == 10
    for lots in (20, 40, -40):  # raw shifts 120, 240, 240 ticks: under half a step, no move at all
        assert prices(lots) == flat
    for lots in (50, 80):  # raw 300 (half a step) and 480 ticks: one whole step down
        assert prices(lots) == {(side, p - 600) for side, p in flat}
    assert prices(-50) == {(side, p + 600) for side, p in flat}


def test_size_skew_keeps_one_minimum_order_after_a_one_lot_fill() -> None:
    # levels of one minimum lot (0.001 BTC, notional floor aside): a single 1-lot buy used to scale
    # the buy side to 0 lots and empty it; now it keeps minimum orders until the cap
    g = GridConfig(
        spacing_mode=SpacingMode.FIXED, order_qty=Decimal("0.002"), max_position=Decimal("0.01"), levels=3
    )
    s = GridStrategy(SYM, RULES, StrategyConfig(grid=g))
    s.on_event(book(MID - 1, MID + 1, T0))
    s.on_fill(fill(Side.BUY, MID - 600, 1, T0))
    qs = s.desired_quotes(1, T0)
    buys = [q.qty_lots for q in qs.quotes if q.side is Side.BUY]
    sells = [q.qty_lots for q in qs.quotes if q.side is Side.SELL]
    assert buys == [2, 2, 2] and sells == [2, 2, 2]  # 2 × 9 / 10 = 1 < min 2: floored at the minimum
    # near the cap the room check still trims the growing side: 8 held, 2 lots of room → one order
    qs = s.desired_quotes(8, T0 + 1)
    assert [q.qty_lots for q in qs.quotes if q.side is Side.BUY] == [2]
    qs = s.desired_quotes(10, T0 + 2)
    assert [q for q in qs.quotes if q.side is Side.BUY] == []  # at the cap: none


def _slide(tox: ToxicityConfig) -> tuple[int, str]:
    """A 1-tick-spread slide down 1 bp a second for 30 s, 4 trades in 5 sells (flow imbalance 0.6, under
    the 0.8 of FLOW_TOXIC); our buys fill when the bid falls through them. Returns (buy lots filled,
    reasons seen)."""
    g = GridConfig(spacing_mode=SpacingMode.FIXED, spacing_bps=Decimal("5"), order_qty=Decimal("0.002"),
                   max_position=Decimal("0.04"), anchor_skew_bps=Decimal(0), size_skew=False)  # fmt: skip
    s = GridStrategy(SYM, RULES, StrategyConfig(grid=g, toxicity=tox))
    pos = bought = 0
    reasons = set()
    qs = s.desired_quotes(0, T0)
    for i in range(300):
        t = T0 + i * 100
        m = MID - 6 * i  # 60 ticks (1 bp) per second
        for q in qs.quotes:  # our resting buys the falling bid went through
            if q.side is Side.BUY and m - 1 < q.price_ticks:
                s.on_fill(fill(Side.BUY, q.price_ticks, q.qty_lots, t, q.level))
                pos += q.qty_lots
                bought += q.qty_lots
        s.on_event(trade(m - 1, 3, t, buyer_is_maker=i % 5 != 0))  # 4 sells in 5: imbalance 0.6
        s.on_event(book(m - 1, m, t))
        qs = s.desired_quotes(pos, t)
        reasons.update(r for r in qs.reason.split(":")[-1].split(",") if r)
    return bought, ",".join(sorted(reasons))


def test_slide_signal_pauses_buys_in_a_tight_spread_slide() -> None:
    before, reasons_before = _slide(ToxicityConfig(slide_bps=1000.0))  # the gate as it was
    after, reasons_after = _slide(ToxicityConfig())
    assert "SLIDE_DOWN" not in reasons_before and "SLIDE_DOWN" in reasons_after
    # figures: a 30 bps slide; the old gate (flow under its 0.8 threshold, impact at 30 bps) let the
    # grid buy 10 lots, one level per 5 bps step; the slide signal pauses buys after 4 bps, before
    # the first level is reached
    assert (before, after) == (10, 0)


async def test_klines_warm_up_and_its_graceful_degradation(caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        [T0 + k * 60_000, "60000", "60090.0", "59910.0", "60000.0", "1", T0 + k * 60_000 + 59_999]
        for k in range(5)
    ]

    async def serve(path: str, params: dict[str, object]) -> object:
        assert path == "/fapi/v1/klines" and params["interval"] == "1m"
        return rows

    async def missing(path: str, params: dict[str, object]) -> object:
        raise RuntimeError("404 Not Found")

    bars = await fetch_warmup_bars(serve, SYM, RULES, bar_ms=60_000, count=3, now_ms=T0 + 4 * 60_000 + 1)
    assert bars == [(600_900.0, 599_100.0, 600_000.0)] * 3  # the open 5th kline is left out
    with caplog.at_level("WARNING"):
        assert await fetch_warmup_bars(missing, SYM, RULES, bar_ms=60_000, count=3, now_ms=T0) is None
    assert "strategy_warm_up_unavailable" in caplog.text and "first closed bar" in caplog.text
    with pytest.raises(ValueError, match="kline row 0 is malformed"):
        bars_from_klines([["x"]], RULES, T0)


def test_size_skew_keeps_the_size_of_levels_still_quoted_within_the_cap() -> None:
    # 3 levels of 4 lots, cap 20, no anchor skew: a 4-lot buy fill scales new buy levels to 4 × 16/20
    # = 3 lots. Shrinking the buys still quoted at the same prices changed no resting price for one
    # quantity amend each (49 of 533 writes in a speed-10 demo); they keep their 4 lots while the
    # room holds them and leaves the levels further out their scaled size (ADR-310)
    g = GridConfig(spacing_mode=SpacingMode.FIXED, spacing_bps=Decimal("10"), order_qty=Decimal("0.004"),
                   max_position=Decimal("0.02"), levels=3, anchor_skew_bps=Decimal(0), size_skew=True)  # fmt: skip
    s = GridStrategy(SYM, RULES, StrategyConfig(grid=g))
    s.on_event(book(MID - 1, MID + 1, T0))

    def buys(qs: QuoteSet) -> list[tuple[int, int]]:
        return sorted(((q.price_ticks, q.qty_lots) for q in qs.quotes if q.side is Side.BUY), reverse=True)

    flat = buys(s.desired_quotes(0, T0))
    assert [lots for _, lots in flat] == [4, 4, 4]
    s.on_fill(fill(Side.BUY, flat[0][0], 4, T0))
    after = buys(s.desired_quotes(4, T0 + 1))
    # the filled b1 is a new order (scaled), the two still resting keep 4 (before: [3, 3, 3], two
    # quantity amends)
    assert after == [(flat[0][0], 3), flat[1], flat[2]]
    # one step down (the mid moved past the band): the two levels still quoted keep 4 lots, the new
    # outer level gets the scaled 3
    step = flat[0][0] - flat[1][0]
    m = MID - step * 6 // 5
    s.on_event(book(m - 1, m + 1, T0 + 2))
    moved = buys(s.desired_quotes(4, T0 + 2))
    assert moved == [(flat[1][0], 4), (flat[2][0], 4), (flat[2][0] - step, 3)]
    # near the cap the room still rules: 12 held, 8 lots of room; a kept level may not squeeze the
    # levels further out below their scaled size (2, the minimum order here)
    near = buys(s.desired_quotes(12, T0 + 3))
    assert sum(lots for _, lots in near) + 12 <= 20
    assert [lots for _, lots in near] == [4, 2, 2]


def test_a_thinned_grid_places_no_new_outer_level_but_cancels_none_still_resting() -> None:
    # 5 levels a side, then the write budget runs low (pressure 1: the 3 nearest levels a side).
    # Dropping the outer levels from the quotes cancelled 4 resting orders (4 writes to save writes;
    # in the speed-1 demo the pressure came and went and each swing cancelled and re-placed them,
    # 91 cancels in 353 writes). A thinned grid now only stops adding outer levels (ADR-313)
    g = GridConfig(spacing_mode=SpacingMode.FIXED, spacing_bps=Decimal("10"), order_qty=Decimal("0.002"),
                   max_position=Decimal("1"), levels=5, anchor_skew_bps=Decimal(0), size_skew=False)  # fmt: skip
    s = GridStrategy(SYM, RULES, StrategyConfig(grid=g, toxicity=ToxicityConfig(enabled=False)))
    s.on_event(book(MID - 1, MID + 1, T0))

    def buys(qs: QuoteSet) -> set[int]:
        return {q.price_ticks for q in qs.quotes if q.side is Side.BUY}

    step = 600  # 10 bps of 60 000.0
    full = s.desired_quotes(0, T0)
    assert buys(full) == {MID - i * step for i in range(1, 6)}
    s.set_write_pressure(1)
    assert s.desired_quotes(0, T0 + 1).quotes == full.quotes  # before: the 3 nearest a side only
    # an outer level that fills is not placed again while the grid is thin
    s.on_fill(fill(Side.BUY, MID - 5 * step, 2, T0 + 1))
    assert buys(s.desired_quotes(2, T0 + 1)) == {MID - i * step for i in range(1, 5)}
    # the mid moves up 2.5 steps (past the band, doubled under pressure): the anchor moves 3 steps.
    # The 3 nearest buys are new; the old b1 and b2 are now levels 4 and 5 and stay; no new level
    # 4 or 5 appears on the sell side
    m = MID + 5 * step // 2
    s.on_event(book(m - 1, m + 1, T0 + 2))
    moved = s.desired_quotes(2, T0 + 2)
    assert s.anchor_ticks == MID + 3 * step
    assert buys(moved) == {MID + 2 * step, MID + step, MID, MID - step, MID - 2 * step}
    assert {q.price_ticks for q in moved.quotes if q.side is Side.SELL} == {MID + i * step for i in (4, 5, 6)}
    s.set_write_pressure(0)
    assert len(s.desired_quotes(2, T0 + 3).quotes) == 10  # the full grid again
