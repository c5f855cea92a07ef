"""Write efficiency (issue 15, ADR-170/171): whole-level grid moves, orders the market reached are
left alone, no maker order through our own fresh fill, and a per-account write budget with pressure."""

from __future__ import annotations

import random
from decimal import Decimal

from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, Side
from grinder.core.events import BookTicker, Trade
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, OrderManager, TradingPipeline
from grinder.execution.write_budget import WriteBudget
from grinder.execution.write_stats import busiest_window, write_stats
from grinder.risk import RiskConfig
from grinder.strategy import ControllerConfig, GridConfig, StrategyConfig, ToxicityConfig, grid_factory
from grinder.strategy.config import SpacingMode

from .helpers import SYM, quote, result, update

RULES = btcusdt_rules("100")
WIDE = RiskConfig(
    max_notional_per_order=Decimal("600"),
    max_position_notional=Decimal("60000"),
    max_total_position_notional=Decimal("100000"),
    orders_per_10s=100_000,
    orders_per_minute=100_000,
)
T0 = 1_700_000_000_000
MID = 600_000  # 60 000.0 USDT in 0.1 ticks


def grid_config(**kw: object) -> StrategyConfig:
    grid = GridConfig(
        levels=5,
        spacing_mode=SpacingMode.FIXED,
        spacing_bps=Decimal("5"),
        order_qty=Decimal("0.002"),
        max_position=Decimal("1"),
        anchor_skew_bps=Decimal(0),
        size_skew=False,
        **kw,  # type: ignore[arg-type]
    )
    return StrategyConfig(
        grid=grid, controller=ControllerConfig(enabled=False), toxicity=ToxicityConfig(enabled=False)
    )


def pipeline(strategy: StrategyConfig, execution: ExecutionConfig | None = None) -> TradingPipeline:
    p = TradingPipeline(
        {SYM: RULES}, strategy, WIDE, execution or ExecutionConfig(), ClientOrderIdFactory("t", 1_700_000_000),
        strategy_factory=grid_factory,
    )
    p.on_wallet_balance(Decimal("100000"), T0)
    return p


def book(mid: int, t: int) -> BookTicker:
    return BookTicker(SYM, mid - 1, 10, mid + 1, 10, t, t, t)


def accept(p: TradingPipeline, cmds: list[Command]) -> None:
    for i, c in enumerate(cmds):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=1000 + i, status=OrderStatus.NEW))


def test_one_step_move_keeps_every_order_still_on_the_grid() -> None:
    # 5 levels a side, step 300 ticks (5 bps of 60 000). The mid falls by 1.2 steps (the ask passes the
    # top buy): the grid moves by one whole step. Continuous anchoring re-prices every order.
    moved = {}
    for whole in (True, False):
        p = pipeline(grid_config(whole_levels=whole))
        accept(p, p.on_market_event(book(MID, T0), T0))
        before = {o.client_order_id: o.price_ticks for o in p.working_orders(SYM)}
        cmds = p.on_market_event(book(MID - 360, T0 + 100), T0 + 100)
        accept(p, cmds)
        moved[whole] = len(cmds)
        if whole:
            # one write: the far sell moves in to the new inner sell (an amend towards the touch);
            # the top buy, which the ask reached, is left to fill; everything else keeps its place
            [amend] = cmds
            assert isinstance(amend, AmendOrder) and amend.price_ticks == MID
            kept = [o for o in p.working_orders(SYM) if before.get(o.client_order_id) == o.price_ticks]
            assert len(kept) == 9
            # the book moves back up and the hold is over (no fill came): the top buy moves down to the
            # new bottom buy, one amend (it loses its queue place, as a cancel + place would: ADR-263)
            later = p.on_market_event(book(MID - 200, T0 + 800), T0 + 800)
            assert [type(c).__name__ for c in later] == ["AmendOrder"]
            accept(p, later)
            prices = sorted(o.price_ticks - MID for o in p.working_orders(SYM))
            assert prices == [-1800, -1500, -1200, -900, -600, 0, 300, 600, 900, 1200]
    assert moved == {True: 1, False: 9}  # continuous: every order but the reached top buy is amended


def test_order_reached_by_the_market_is_not_cancelled_until_released() -> None:
    m = OrderManager(ExecutionConfig(), ClientOrderIdFactory("t", 1_700_000_000))
    [b1] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 300)], mid_ticks=MID)
    m.on_submitted(b1)
    m.on_result(result(b1, order_id=1))
    reached = (MID - 300, MID + 10**6, 2**63 - 1, -(2**63))  # an ask or trade at our buy price
    assert m.plan(SYM, [], mid_ticks=MID, crossed=reached) == []
    assert m.held == 1
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 900)], mid_ticks=MID, crossed=reached) == []
    [move] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 900)], mid_ticks=MID)  # released
    assert isinstance(move, AmendOrder) and move.client_order_id == b1.client_order_id


def test_pipeline_holds_a_crossed_order_for_the_hold_then_cancels_it() -> None:
    p = pipeline(grid_config(), ExecutionConfig(crossed_hold_ms=300))
    cmds = p.on_market_event(book(MID, T0), T0)
    accept(p, cmds)
    top_buy = max((o for o in p.working_orders(SYM) if o.side is Side.BUY), key=lambda o: o.price_ticks)
    # the ask dips to our top buy (no fill reaches us), then the market runs up two steps
    p.on_market_event(
        BookTicker(SYM, top_buy.price_ticks - 1, 1, top_buy.price_ticks, 1, 2, T0 + 10, T0 + 10), T0 + 10
    )
    cmds = p.on_market_event(book(MID + 3000, T0 + 20), T0 + 20)  # every old buy is off the grid
    assert not any(c.client_order_id == top_buy.client_order_id for c in cmds)
    accept(p, cmds)
    later = p.on_market_event(book(MID + 3000, T0 + 700), T0 + 700)  # past two hold buckets
    assert any(
        isinstance(c, CancelOrder | AmendOrder) and c.client_order_id == top_buy.client_order_id
        for c in later
    )


def test_no_maker_order_through_our_own_fill_until_a_newer_book() -> None:
    p = pipeline(grid_config(whole_levels=True))
    cmds = p.on_market_event(book(MID, T0), T0)
    accept(p, cmds)
    b1 = max(
        (c for c in cmds if isinstance(c, PlaceOrder) and c.side is Side.BUY),
        key=lambda c: c.price_ticks or 0,
    )
    fill = update(
        b1,
        OrderStatus.FILLED,
        execution=ExecutionType.TRADE,
        fill_lots=b1.qty_lots,
        cum_lots=b1.qty_lots,
        trade_id=9,
    )
    fill = fill.__class__(
        **{**{f: getattr(fill, f) for f in fill.__struct_fields__}, "transaction_time_ms": T0 + 50}
    )
    p.on_user_event(fill)
    # a book older than the fill (still showing the buy untouched) must not bring the buy back at b1
    stale = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 3, T0 + 40, T0 + 40), T0 + 60)
    assert not any(
        isinstance(c, PlaceOrder) and c.side is Side.BUY and c.price_ticks == b1.price_ticks for c in stale
    )
    accept(p, stale)
    fresh = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 4, T0 + 70, T0 + 70), T0 + 70)
    assert any(isinstance(c, PlaceOrder) and c.price_ticks == b1.price_ticks for c in fresh)


def test_write_budget_keeps_every_window_under_its_share() -> None:
    budget = WriteBudget(ExecutionConfig(write_share=Decimal("0.5")))
    assert budget.limits == ((150, 10_000), (600, 60_000), (1200, 60_000))
    times = []
    for t in range(0, 120_000, 5):  # a writer that wants 200 writes per second for two minutes
        if budget.take(t):
            times.append(t)
    assert busiest_window(times, 10_000) <= 150  # 50 % of Binance's 300 per 10 s
    assert busiest_window(times, 60_000) <= 600
    assert budget.pressure(120_000) == 2  # drained: the strategy is told to thin out


def test_pipeline_under_a_fast_market_stays_inside_the_budget_by_thinning() -> None:
    # 5 levels a side in a market that trends a step per 50 ms: far more writes than 40 % of 300 per 10 s
    rng = random.Random(3)
    p = pipeline(grid_config(whole_levels=True))
    mid, sent = MID, []
    pressures = set()
    for k in range(4000):
        t = T0 + 50 * k
        mid += rng.choice((400, 400, -400))  # a trend: the grid moves a step on most events
        cmds = p.on_market_event(book(mid, t), t)
        sent += [t] * len(cmds)
        accept(p, cmds)
        pressures.add(p.write_pressure(t))
    assert busiest_window(sent, 10_000) <= 135  # write_share 0.45 of 300
    assert busiest_window(sent, 60_000) <= 540
    assert pressures == {0, 1, 2}  # thinned (half the levels, then one) as the budget drained
    t = T0 + 50 * 4000 + 60_000  # a quiet minute later: the full grid again
    accept(p, p.on_market_event(book(mid, t), t))
    accept(p, p.on_market_event(book(mid, t + 1000), t + 1000))
    assert p.write_pressure(t + 1000) == 0
    assert len([o for o in p.working_orders(SYM) if o.side is Side.BUY]) == 5


def test_a_trade_newer_than_the_book_waits_for_the_book_of_its_instant() -> None:
    # The feed delivers a batch's prints before its book: a plan on the print used the old book and
    # sent maker orders the new book had already crossed (-5022 in the speed-10 demo; ADR-261).
    p = pipeline(grid_config(whole_levels=True))
    accept(p, p.on_market_event(book(MID, T0), T0))
    assert p.quiet_state(SYM)[1] is True  # the answers arrived: the next event plans
    jump = MID + 2000  # the market jumps up almost seven steps: the print comes first
    assert p.on_market_event(Trade(SYM, 1, jump, 1, False, T0 + 100, T0 + 100), T0 + 100) == []
    assert p.quiet_state(SYM)[1] is True  # not planned on the stale book: still to do
    cmds = p.on_market_event(book(jump, T0 + 100), T0 + 100)  # the book of that instant
    assert cmds and p.quiet_state(SYM)[1] is True
    assert all(c.price_ticks < jump for c in cmds if isinstance(c, PlaceOrder) and c.side is Side.BUY)
    # a print no newer than the book is planned on at once, as before
    for trade_ms, planned in ((T0, True), (T0 + 1, False)):
        q = pipeline(grid_config(whole_levels=True))
        accept(q, q.on_market_event(book(MID, T0), T0))
        q.on_market_event(Trade(SYM, 1, MID, 1, False, trade_ms, trade_ms), T0 + 5)
        assert q.quiet_state(SYM)[1] is not planned


def test_a_steady_writer_gets_the_whole_share_of_every_window() -> None:
    # sliding windows (ADR-262): a steady writer at 45 % gets all of it; the token buckets of ADR-171
    # let a steady writer through at only half the share (67 per 10 s, 270 per minute)
    budget = WriteBudget(ExecutionConfig())
    times = [t for t in range(0, 120_000, 50) if budget.take(t)]
    assert busiest_window(times, 10_000) == 135
    assert busiest_window(times, 60_000) == 540
    assert len([t for t in times if 60_000 <= t < 120_000]) == 540  # the second minute too
    assert budget.pressure(120_000) == 2
    forced = WriteBudget(ExecutionConfig())
    for t in range(135):
        forced.take(t)
    assert not forced.take(200) and forced.take(200, force=True)  # shutdown cancels are never held
    assert forced.available(300) == 0


def test_a_writer_faster_than_the_minute_can_sustain_is_thinned_early() -> None:
    # 10 writes a second: under the 10 s share (13.5/s) but over the minute's (540/min = 9/s). Held only
    # to the windows, the grid thinned to one level only once the minute was 85 % spent (46 s) and
    # then had nothing left for the rest of the minute: the speed-10 demo rested no order for its last
    # 20 s. The pace check holds the last third of each window to a third of its limit: the 10 s
    # window's 45 per 3.3 s thins the grid at 2.8 s, the minute's 180 per 20 s to one level at 15.4 s
    # (ADR-312).
    budget = WriteBudget(ExecutionConfig())
    seen: dict[int, int] = {}
    for t in range(0, 50_000, 100):
        seen.setdefault(budget.pressure(t), t)
        assert budget.take(t)
    assert seen == {0: 0, 1: 2_800, 2: 15_400}  # the windows alone: {0: 0, 1: 8_200, 2: 46_000}


def test_write_stats_figures() -> None:
    st = write_stats(
        [(0, "A"), (5_000, "A"), (9_999, "B"), (10_000, "B"), (70_000, "A")], rejected=1, duration_ms=120_000
    )
    assert st.busiest_10s == 3 and st.busiest_60s == 4
    assert st.rejects_per_100 == 20.0 and st.per_minute("A") == 1.5
    assert "20.00 per 100 writes" in st.summary_line()
