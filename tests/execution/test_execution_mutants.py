"""Order manager / pipeline paths the live engine takes that mutation testing showed unpinned.

`cancel_all` is the kill switch's and shutdown's cancel path, `restore` is how a restarted engine
adopts leftover orders, `resolve` applies an order query after an unknown outcome, and `as_dict` is
what /status and the journal show. Each test asserts the state these leave behind.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.core.commands import CancelOrder, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import OrderStatus, Side
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, TradingPipeline
from grinder.execution.order_manager import OrderManager, WorkingOrder, WorkingState, level_tag
from grinder.risk import RiskConfig
from grinder.strategy import StrategyConfig, grid_factory

from .helpers import SYM, grid, quote

MID = 500_000
T0 = 1_700_000_000_000
WIDE = RiskConfig(max_notional_per_order=Decimal("600"), max_position_notional=Decimal("6000"),
                  max_total_position_notional=Decimal("10000"))


def manager() -> OrderManager:
    return OrderManager(ExecutionConfig(), ClientOrderIdFactory("t", 1_700_000_000))


def open_grid(m: OrderManager, levels: int = 2) -> list[PlaceOrder]:
    cmds = [c for c in m.plan(SYM, grid(MID, levels), mid_ticks=MID) if isinstance(c, PlaceOrder)]
    for i, c in enumerate(cmds):
        m.on_submitted(c)
        m.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=100 + i, status=OrderStatus.NEW))
    return cmds


def wo(cid: str, level: str, side: Side = Side.BUY, qty: int = 2, filled: int = 0,
       state: WorkingState = WorkingState.OPEN) -> WorkingOrder:
    return WorkingOrder(SYM, cid, level, side, MID - 10, qty, filled, state, order_id=9)


# ----------------------------------------------------------------- level tags
def test_level_tags() -> None:
    assert level_tag(Side.BUY, 3) == "b3" and level_tag(Side.SELL, 3) == "s3"
    assert level_tag(Side.SELL, "tp1") == "tp1"
    for bad in ("", True, 1.5):
        with pytest.raises(ValueError, match="is not usable as a level tag"):
            level_tag(Side.BUY, bad)


# ----------------------------------------------------------------- restore (adopt at restart)
def test_restore_adopts_orders_and_their_exposure() -> None:
    m = manager()
    m.restore([wo("c1", "b1", Side.BUY, 5, 1), wo("c2", "s1", Side.SELL, 3, 0, WorkingState.UNKNOWN)])
    assert {o.client_order_id for o in m.working_orders(SYM)} == {"c1", "c2"}
    assert m.working_lots(SYM) == (4, 3, 2)  # remaining buy lots, sell lots, order count
    assert [o.client_order_id for o in m.unknown_orders()] == ["c2"]
    # the adopted level is not placed again
    cmds = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 5)], mid_ticks=MID)
    assert not [c for c in cmds if isinstance(c, PlaceOrder)]


def test_restore_refuses_a_taken_id_or_level() -> None:
    m = manager()
    m.restore([wo("c1", "b1")])
    with pytest.raises(ValueError, match=r"^cannot restore c1: its id or level 'b2' is taken$"):
        m.restore([wo("c1", "b2")])
    with pytest.raises(ValueError, match=r"^cannot restore c9: its id or level 'b1' is taken$"):
        m.restore([wo("c9", "b1")])
    m.restore([wo("c3", "b3")])  # a free id on a free level is fine
    assert m.working_lots(SYM) == (4, 0, 2)


# ----------------------------------------------------------------- resolve (query after an unknown outcome)
def test_resolve_closed_or_missing_orders_are_forgotten() -> None:
    m = manager()
    cmds = open_grid(m)
    first, second = cmds[0].client_order_id, cmds[1].client_order_id
    m.resolve(first, None)  # the exchange does not know it
    m.resolve(second, OrderStatus.CANCELED)
    assert m.order(first) is None and m.is_closed(first)
    assert m.order(second) is None and m.is_closed(second)
    assert len(m.working_orders(SYM)) == len(cmds) - 2


def test_resolve_open_order_takes_the_exchange_view() -> None:
    m = manager()
    cmd = open_grid(m, 1)[0]
    cid = cmd.client_order_id
    before = m.working_lots(SYM)
    m.resolve(cid, OrderStatus.PARTIALLY_FILLED, order_id=77, price_ticks=MID - 30, qty_lots=6, filled_lots=2)
    o = m.order(cid)
    assert o is not None and o.state is WorkingState.OPEN and o.amend_to is None
    assert (o.order_id, o.price_ticks, o.qty_lots, o.filled_lots) == (77, MID - 30, 6, 2)
    side_lots = 4  # 6 total - 2 filled
    buy, sell, count = m.working_lots(SYM)
    assert count == before[2]
    assert (buy if cmd.side is Side.BUY else sell) == side_lots
    m.resolve(cid, OrderStatus.NEW, filled_lots=1)  # a stale, smaller fill count never goes back
    assert m.order(cid).filled_lots == 2  # type: ignore[union-attr]
    m.resolve("not-ours", OrderStatus.NEW)  # unknown ids are ignored
    assert m.order("not-ours") is None


def test_working_order_as_dict() -> None:
    o = wo("c1", "b1", Side.SELL, 5, 2)
    assert o.as_dict() == {"client_order_id": "c1", "symbol": SYM, "level": "b1", "side": "SELL",
                           "price_ticks": MID - 10, "qty_lots": 5, "filled_lots": 2, "state": "OPEN",
                           "order_id": 9}
    assert o.remaining_lots == 3
    assert wo("c2", "b2", qty=2, filled=5).remaining_lots == 0


# ----------------------------------------------------------------- plan without a mid
def test_plan_without_a_mid_uses_the_quotes_own_middle() -> None:
    m = manager()
    with_mid = m.plan(SYM, grid(MID, 2), mid_ticks=MID)
    m2 = manager()
    without = m2.plan(SYM, grid(MID, 2), mid_ticks=None)
    assert [(c.side, c.price_ticks) for c in without] == [(c.side, c.price_ticks) for c in with_mid]  # type: ignore[union-attr]
    one_sided = manager().plan(SYM, [quote(Side.SELL, "s1", MID + 10), quote(Side.SELL, "s2", MID + 20)],
                               mid_ticks=None)
    assert [c.price_ticks for c in one_sided] == [MID + 10, MID + 20]  # type: ignore[union-attr]


# ----------------------------------------------------------------- pipeline cancel_all (kill switch, shutdown)
def pipeline() -> TradingPipeline:
    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(), WIDE, ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=grid_factory)
    p.on_wallet_balance(Decimal("10000"), T0)
    return p


def test_cancel_all_cancels_every_open_order_and_marks_them_in_flight() -> None:
    from grinder.core.events import BookTicker

    p = pipeline()
    cmds = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 1, T0, T0), T0)
    for i, c in enumerate(cmds):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=100 + i, status=OrderStatus.NEW))
    placed = {c.client_order_id for c in cmds}
    cancels = p.cancel_all(T0 + 1)
    assert cancels and all(isinstance(c, CancelOrder) for c in cancels)
    assert {c.client_order_id for c in cancels} == placed
    assert all(o.state is WorkingState.PENDING_CANCEL for o in p.working_orders(SYM))
    assert p.cancel_all(T0 + 2) == []  # nothing is cancelled twice
    assert p.cancel_all(T0 + 2, "ETHUSDT") == []


# ----------------------------------------------------------------- amends and order updates
def one_open_buy(m: OrderManager, lots: int = 2) -> PlaceOrder:
    cmd = next(c for c in m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, lots)], mid_ticks=MID)
               if isinstance(c, PlaceOrder))
    m.on_submitted(cmd)
    m.on_result(CommandResult(cmd, Outcome.ACCEPTED, order_id=7, status=OrderStatus.NEW))
    return cmd


def test_an_amend_in_flight_counts_at_the_larger_size() -> None:
    from grinder.core.commands import AmendOrder

    m = manager()
    cmd = one_open_buy(m, 2)
    up = AmendOrder(SYM, cmd.client_order_id, Side.BUY, MID - 20, 5)
    m.on_submitted(up)
    assert m.working_lots(SYM) == (5, 0, 1)
    m.on_result(CommandResult(up, Outcome.ACCEPTED, order_id=7, status=OrderStatus.NEW))
    assert m.working_lots(SYM) == (5, 0, 1) and m.order(cmd.client_order_id).price_ticks == MID - 20  # type: ignore[union-attr]
    down = AmendOrder(SYM, cmd.client_order_id, Side.BUY, MID - 20, 1)
    m.on_submitted(down)
    assert m.working_lots(SYM) == (5, 0, 1)  # until the exchange confirms, the old size still counts
    m.on_result(CommandResult(down, Outcome.ACCEPTED, order_id=7, status=OrderStatus.NEW))
    assert m.working_lots(SYM) == (1, 0, 1)


def test_an_amend_refused_because_the_order_is_gone_forgets_it() -> None:
    from grinder.core.commands import AmendOrder

    m = manager()
    cmd = one_open_buy(m, 2)
    amend = AmendOrder(SYM, cmd.client_order_id, Side.BUY, MID - 20, 3)
    m.on_submitted(amend)
    m.on_result(CommandResult(amend, Outcome.REJECTED, code=-2013))
    assert m.order(cmd.client_order_id) is None and m.is_closed(cmd.client_order_id)
    assert m.working_lots(SYM) == (0, 0, 0)


def test_order_updates_change_price_only_for_amendments_or_unknown_orders() -> None:
    from grinder.core.enums import ExecutionType

    from .helpers import update

    m = manager()
    cmd = one_open_buy(m, 2)
    cid = cmd.client_order_id
    m.on_order_update(update(cmd, OrderStatus.NEW, price=MID - 99, qty=9))  # a replayed NEW: ignored
    o = m.order(cid)
    assert o is not None and (o.price_ticks, o.qty_lots) == (MID - 10, 2)
    m.on_order_update(update(cmd, OrderStatus.NEW, execution=ExecutionType.AMENDMENT, price=MID - 30, qty=4))
    assert (o.price_ticks, o.qty_lots, o.state) == (MID - 30, 4, WorkingState.OPEN)
    assert m.working_lots(SYM) == (4, 0, 1)


def test_plan_tags_integer_levels_by_side() -> None:
    from grinder.strategy.types import DesiredQuote

    m = manager()
    cmds = m.plan(SYM, [DesiredQuote(SYM, Side.BUY, MID - 10, 2, 1, True),  # type: ignore[arg-type]
                        DesiredQuote(SYM, Side.SELL, MID + 10, 2, 1, True)], mid_ticks=MID)  # type: ignore[arg-type]
    assert sorted(c.client_order_id.split("_")[3] for c in cmds) == ["b1", "s1"]


def test_one_market_event_sends_at_most_max_commands_per_event() -> None:
    from grinder.core.events import BookTicker

    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(), WIDE,
                        ExecutionConfig(max_commands_per_event=3), ClientOrderIdFactory("grid", 1_700_000_000),
                        strategy_factory=grid_factory)
    p.on_wallet_balance(Decimal("10000"), T0)
    cmds = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 1, T0, T0), T0)
    assert len(cmds) == 3
    more = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 2, T0 + 1, T0 + 1), T0 + 1)
    assert len(more) == 3  # the rest of the grid follows on the next events


def test_after_cancel_all_the_next_quiet_tick_quotes_again() -> None:
    """Disarm then re-arm: once the cancels are confirmed, a quiet market gets its grid back."""
    from grinder.core.events import BookTicker

    p = pipeline()
    tick = BookTicker(SYM, MID - 1, 10, MID + 1, 10, 1, T0, T0)
    first = p.on_market_event(tick, T0)
    for i, c in enumerate(first):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=100 + i, status=OrderStatus.NEW))
    for c in p.cancel_all(T0 + 1):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, status=OrderStatus.CANCELED))
    assert p.working_orders(SYM) == []
    again = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 2, T0 + 2, T0 + 2), T0 + 2)
    assert len([c for c in again if isinstance(c, PlaceOrder)]) == len(first)


def test_an_order_the_exchange_cancelled_is_replaced_on_the_next_quiet_tick() -> None:
    from grinder.core.events import BookTicker

    from .helpers import update

    p = pipeline()
    first = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 1, T0, T0), T0)
    for i, c in enumerate(first):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=100 + i, status=OrderStatus.NEW))
    assert p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 2, T0 + 1, T0 + 1), T0 + 1) == []
    gone = first[0]
    assert isinstance(gone, PlaceOrder)
    p.on_user_event(update(gone, OrderStatus.EXPIRED, order_id=100))  # e.g. a GTX order expired
    again = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 3, T0 + 2, T0 + 2), T0 + 2)
    assert [(c.side, c.price_ticks) for c in again if isinstance(c, PlaceOrder)] == [(gone.side, gone.price_ticks)]


def test_unknown_orders_gauge_follows_the_user_stream() -> None:
    from grinder.execution import metrics as om_metrics

    m = manager()
    cmd = next(c for c in m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 2)], mid_ticks=MID)
               if isinstance(c, PlaceOrder))
    m.on_submitted(cmd)
    m.on_result(CommandResult(cmd, Outcome.UNKNOWN))
    assert om_metrics.OM_UNKNOWN_ORDERS._value.get() == 1 and [o.client_order_id for o in m.unknown_orders()] == [
        cmd.client_order_id]
    from .helpers import update

    m.on_order_update(update(cmd, OrderStatus.NEW, order_id=7))  # the user stream shows it resting
    assert m.unknown_orders() == [] and om_metrics.OM_UNKNOWN_ORDERS._value.get() == 0
    assert m.order(cmd.client_order_id).state is WorkingState.OPEN  # type: ignore[union-attr]


def test_a_late_answer_to_an_unknown_amend_clears_the_gauge() -> None:
    from grinder.core.commands import AmendOrder
    from grinder.execution import metrics as om_metrics

    m = manager()
    cmd = one_open_buy(m, 2)
    amend = AmendOrder(SYM, cmd.client_order_id, Side.BUY, MID - 20, 3)
    m.on_submitted(amend)
    m.on_result(CommandResult(amend, Outcome.UNKNOWN))
    assert om_metrics.OM_UNKNOWN_ORDERS._value.get() == 1
    m.on_result(CommandResult(amend, Outcome.ACCEPTED, order_id=7, status=OrderStatus.NEW))  # the answer after all
    o = m.order(cmd.client_order_id)
    assert o is not None and o.state is WorkingState.OPEN
    assert om_metrics.OM_UNKNOWN_ORDERS._value.get() == 0


# ----------------------------------------------------------------- plan order, room, holds, mid range
def open_order(m: OrderManager, q: object, order_id: int = 50) -> PlaceOrder:
    cmd = next(c for c in m.plan(SYM, [q], mid_ticks=MID) if isinstance(c, PlaceOrder))  # type: ignore[list-item]
    m.on_submitted(cmd)
    m.on_result(CommandResult(cmd, Outcome.ACCEPTED, order_id=order_id, status=OrderStatus.NEW))
    return cmd


def test_a_reducing_resize_goes_before_a_nearer_place_while_long() -> None:
    """Long 5 lots: shrinking the far sell (it reduces the position) outranks a new buy nearer the mid."""
    from grinder.core.commands import AmendOrder

    m = manager()
    sell = open_order(m, quote(Side.SELL, "s1", MID + 50, 5))
    desired = [quote(Side.SELL, "s1", MID + 50, 2), quote(Side.BUY, "b1", MID - 10, 2)]
    cmds = m.plan(SYM, desired, mid_ticks=MID, position_lots=5)
    assert isinstance(cmds[0], AmendOrder) and cmds[0].client_order_id == sell.client_order_id
    assert (cmds[0].price_ticks, cmds[0].qty_lots) == (MID + 50, 2)
    assert isinstance(cmds[1], PlaceOrder) and cmds[1].side is Side.BUY
    only = m.plan(SYM, desired, mid_ticks=MID, position_lots=5, budget=1)
    assert [type(c) for c in only] == [AmendOrder]
    flat = m.plan(SYM, desired, mid_ticks=MID, position_lots=0, budget=1)  # flat: nearest first
    assert [type(c) for c in flat] == [PlaceOrder]


def test_a_maker_buy_where_the_market_just_traded_is_held_back_but_a_sell_is_not() -> None:
    from grinder.execution.working import INT_MAX, INT_MIN

    m = manager()
    # our last buy fill was at MID - 20 and no newer book has come: no maker buy at or above it
    crossed = (INT_MAX, INT_MIN, MID - 20, INT_MIN)
    cmds = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10), quote(Side.BUY, "b2", MID - 30),
                        quote(Side.SELL, "s1", MID + 10)], mid_ticks=MID, crossed=crossed)
    assert sorted((c.side, c.price_ticks) for c in cmds) == [(Side.BUY, MID - 30), (Side.SELL, MID + 10)]  # type: ignore[union-attr]
    assert m.held == 1
    # the same for sells at or below the last sell fill
    m2 = manager()
    cmds = m2.plan(SYM, [quote(Side.SELL, "s1", MID + 10), quote(Side.BUY, "b1", MID - 10)], mid_ticks=MID,
                   crossed=(INT_MAX, INT_MIN, INT_MAX, MID + 20))
    assert [(c.side, c.price_ticks) for c in cmds] == [(Side.BUY, MID - 10)]  # type: ignore[union-attr]


def test_an_order_in_flight_takes_the_room_of_one_quote_and_the_nearest_quote_gets_the_rest() -> None:
    m = manager()
    far = next(c for c in m.plan(SYM, [quote(Side.BUY, "b9", MID - 500)], mid_ticks=MID)
               if isinstance(c, PlaceOrder))
    m.on_submitted(far)  # in flight: frozen until its answer, and it counts as one of the side's orders
    # tag order ("b1" < "b2") is the opposite of distance order: the nearer quote must win the room
    cmds = m.plan(SYM, [quote(Side.BUY, "b1", MID - 100), quote(Side.BUY, "b2", MID - 10)], mid_ticks=MID)
    assert [(type(c), c.price_ticks) for c in cmds] == [(PlaceOrder, MID - 10)]  # type: ignore[union-attr]


def test_mid_range_ends_where_the_price_tolerance_changes() -> None:
    """Tolerance = max(1 tick, mid * 0.2 bps): 10 ticks for mids 500,000-549,999, 1 tick below 100,000."""
    from grinder.execution.working import INT_MIN

    m = manager()
    m.plan(SYM, [quote(Side.BUY, "b1", MID - 10)], mid_ticks=MID)
    assert m.mid_range() == (500_000, 549_999)
    m.plan(SYM, [quote(Side.BUY, "b1", 59_990)], mid_ticks=60_000)  # the bps part is 1 tick = the floor
    assert m.mid_range() == (INT_MIN, 99_999)


def test_order_range_splits_at_the_tie_by_tag() -> None:
    from grinder.execution.working import INT_MAX, INT_MIN, order_range

    # a at 101 sorts before b at 100 (nearer, or tied and smaller tag) for mids >= 101
    assert order_range((0, 101, "b1"), (0, 100, "b2")) == (101, INT_MAX)
    assert order_range((0, 101, "b2"), (0, 100, "b1")) == (101, INT_MAX)
    assert order_range((0, 102, "b1"), (0, 100, "b2")) == (101, INT_MAX)  # tie at 101: the tag decides
    assert order_range((0, 102, "b2"), (0, 100, "b1")) == (102, INT_MAX)
    assert order_range((0, 100, "b1"), (0, 102, "b2")) == (INT_MIN, 101)
    assert order_range((1, 100, "b1"), (0, 102, "b2")) == (INT_MIN, INT_MAX)


# ----------------------------------------------------------------- pipeline: holds, replans, refusals
def settled(p: TradingPipeline) -> list[PlaceOrder]:
    """The reference grid (5 + 5 levels, 500 ticks apart, around MID) placed, accepted and quiet."""
    from grinder.core.events import BookTicker

    cmds = p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 1, T0, T0), T0)
    for i, c in enumerate(cmds):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=100 + i, status=OrderStatus.NEW))
    assert p.on_market_event(BookTicker(SYM, MID - 1, 10, MID + 1, 10, 2, T0 + 1, T0 + 1), T0 + 1) == []
    return [c for c in cmds if isinstance(c, PlaceOrder)]


def accept_all(p: TradingPipeline, cmds: list) -> None:  # type: ignore[type-arg]
    for c in cmds:
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=900, status=OrderStatus.NEW))


def book(mid: int, seq: int, t: int) -> object:
    from grinder.core.events import BookTicker

    return BookTicker(SYM, mid - 1, 10, mid + 1, 10, seq, t, t)


def touched(cmds: list, side: Side, placed: list[PlaceOrder]) -> set[str]:  # type: ignore[type-arg]
    """Client ids of our `side` orders that `cmds` amend or cancel."""
    ids = {c.client_order_id for c in placed if c.side is side}
    return {c.client_order_id for c in cmds if c.client_order_id in ids}


def test_a_move_out_of_the_quiet_band_moves_the_orders_the_market_did_not_reach() -> None:
    p = pipeline()
    placed = settled(p)
    cmds = p.on_market_event(book(MID + 700, 3, T0 + 2), T0 + 2)  # bid 500,699 reaches s1 (500,500)
    s1 = next(c.client_order_id for c in placed if c.level == "s1")
    assert touched(cmds, Side.BUY, placed)  # the buys follow the market up
    assert s1 not in {c.client_order_id for c in cmds}  # s1 may be filling: left alone


def test_a_buy_the_book_reached_is_left_alone_until_the_hold_has_passed() -> None:
    hold = ExecutionConfig().crossed_hold_ms
    p = pipeline()
    placed = settled(p)
    b1 = next(c.client_order_id for c in placed if c.level == "b1")
    down = p.on_market_event(book(MID - 700, 3, T0 + 2), T0 + 2)  # ask 499,301 reaches b1 (499,500)
    assert down and b1 not in {c.client_order_id for c in down}
    accept_all(p, down)
    # many clock buckets later the book (bid 499,600, ask 499,602) reaches none of our orders: b1,
    # no longer quoted, is moved now
    t = T0 + 20 * hold
    later = p.on_market_event(book(MID - 399, 4, t), t)
    assert b1 in {c.client_order_id for c in later}


def test_under_the_kill_switch_even_a_reached_order_is_cancelled() -> None:
    from grinder.core.commands import CancelOrder

    p = pipeline()
    placed = settled(p)
    accept_all(p, p.on_market_event(book(MID - 700, 3, T0 + 2), T0 + 2))  # b1 reached
    p.engage_kill_switch()
    cmds = p.on_market_event(book(MID - 700, 4, T0 + 3), T0 + 3)
    assert all(isinstance(c, CancelOrder) for c in cmds)
    assert {c.client_order_id for c in cmds} == {c.client_order_id for c in placed}


def test_a_print_newer_than_the_book_defers_the_plan_to_the_next_book() -> None:
    from grinder.core.events import Trade

    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(), WIDE,
                        ExecutionConfig(max_commands_per_event=3), ClientOrderIdFactory("grid", 1_700_000_000),
                        strategy_factory=grid_factory)
    p.on_wallet_balance(Decimal("10000"), T0)
    first = p.on_market_event(book(MID, 1, T0), T0)
    assert len(first) == 3  # b1, s1, b2: the rest waits for the next events
    accept_all(p, first)
    # a trade through b1 (499,500), newer than the book: the new book is on its way, plan on it
    assert p.on_market_event(Trade(SYM, 7, MID - 600, 1, True, T0 + 5, T0 + 5), T0 + 5) == []
    assert p.quiet_state(SYM)[1] is True
    more = p.on_market_event(book(MID, 2, T0 + 6), T0 + 6)
    assert len(more) == 3 and all(isinstance(c, PlaceOrder) for c in more)


def test_our_sell_fill_is_applied() -> None:
    from grinder.core.enums import ExecutionType

    from .helpers import update

    p = pipeline()
    placed = settled(p)
    s1 = next(c for c in placed if c.level == "s1")
    fill = p.on_user_event(update(s1, OrderStatus.PARTIALLY_FILLED, execution=ExecutionType.TRADE, fill_lots=3,
                                  cum_lots=3, trade_id=11, order_id=101))
    assert fill is not None and fill.side is Side.SELL and p.position_lots(SYM) == -3
    assert p.take_fills() == [fill]


def tight() -> TradingPipeline:
    """Every order of the reference grid is over the per-order notional limit: refused whole."""
    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(),
                        RiskConfig(max_notional_per_order=Decimal("1")), ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=grid_factory)
    p.on_wallet_balance(Decimal("10000"), T0)
    return p


def test_a_refused_plan_is_journaled_once_with_its_time_and_not_replanned_on_a_mark_price() -> None:
    from grinder.core.events import MarkPrice

    p = tight()
    assert p.on_market_event(book(MID, 1, T0 + 5), T0 + 5) == []
    blocked = p.take_blocked()
    assert len(blocked) == 10 and {b.time_ms for b in blocked} == {T0 + 5}
    assert {b.reason for b in blocked} == {"MAX_ORDER_NOTIONAL"}
    mark = MarkPrice(SYM, Decimal("50000.0"), Decimal("50000.0"), Decimal(0), T0 + 3_600_000, T0 + 6)
    assert p.on_market_event(mark, T0 + 6) == []  # same inputs: refused again, nothing new to journal
    assert p.take_blocked() == []


def test_the_strategy_factory_must_return_a_strategy() -> None:
    with pytest.raises(TypeError, match=r"^the strategy factory returned a object for BTCUSDT, which is not a "
                                        r"grinder\.api\.Strategy: it needs on_event, on_fill and desired_quotes$"):
        TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(), WIDE, ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=lambda ctx: object())  # type: ignore[arg-type,return-value]


def test_warm_up_hands_bars_to_the_grid_and_a_fresh_pipeline_has_no_write_pressure() -> None:
    p = pipeline()
    assert p.pressure_settled(T0) and p.write_pressure(T0) == 0
    assert p.warm_up(SYM, [(50010.0, 49990.0, 50000.0)] * 3, "test") is True
    assert p.quiet_state(SYM)[1] is True


def reached_b1_under_notional_limit() -> TradingPipeline:
    """crossed_hold_ms = 0, every order over the notional limit, the reference grid around MID adopted
    at restart; then the book moves down and its ask (499,301) reaches b1 at T0 + 1."""
    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(),
                        RiskConfig(max_notional_per_order=Decimal("1")), ExecutionConfig(crossed_hold_ms=0),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=grid_factory)
    p.on_wallet_balance(Decimal("10000"), T0)
    p.restore_orders([WorkingOrder(SYM, f"r{s}{i}", f"{s}{i}", side, MID + sign * 500 * i, 10, 0,
                                   WorkingState.OPEN, order_id=i)
                      for s, side, sign in (("b", Side.BUY, -1), ("s", Side.SELL, 1)) for i in range(1, 6)])
    assert p.on_market_event(book(MID, 1, T0), T0) == []
    assert p.on_market_event(book(MID - 700, 2, T0 + 1), T0 + 1) == []
    return p


def test_with_no_crossed_hold_a_refused_plan_stands_only_while_the_reached_order_is_held() -> None:
    """crossed_hold_ms = 0: an order the book reached is held for that millisecond only, so the
    refusal band of a plan refused whole (every amend over the notional limit) ends with it."""
    from grinder.core.events import MarkPrice
    from grinder.execution.working import INT_MAX, INT_MIN

    p = reached_b1_under_notional_limit()
    blocked = p.take_blocked()
    assert len(blocked) == 9 and "rb1" not in {b.command.client_order_id for b in blocked}
    band = p.quiet_refusal(SYM)
    assert band is not None and band.until_ms == T0 + 2

    def mark(t: int) -> MarkPrice:
        return MarkPrice(SYM, Decimal("49930.0"), Decimal("49930.0"), Decimal(0), T0 + 3_600_000, t)

    assert p.on_market_event(mark(T0 + 2), T0 + 2) == []  # b1 is still held (reached the ms before)
    band = p.quiet_refusal(SYM)
    assert band is not None and band.until_ms == T0 + 3
    assert p.on_market_event(mark(T0 + 3), T0 + 3) == []  # the hold has ended: planned again, refused
    band = p.quiet_refusal(SYM)
    assert band is not None and band.crossed[:2] == (INT_MAX, INT_MIN)  # the new plan's band: no hold


def test_a_refused_plan_is_made_again_when_only_the_crossed_hold_ends() -> None:
    """The quotes, mid, position and budget of a plan refused whole stay the same; only the hold on
    the order the book reached ends. The plan is made again (its order now moves and is refused
    too, so that block is journaled), not skipped as a repeat of the refused one."""
    from grinder.core.events import MarkPrice

    p = reached_b1_under_notional_limit()
    assert "rb1" not in {b.command.client_order_id for b in p.take_blocked()}  # held, not planned
    mark = MarkPrice(SYM, Decimal("49930.0"), Decimal("49930.0"), Decimal(0), T0 + 3_600_000, T0 + 3)
    assert p.on_market_event(mark, T0 + 3) == []  # b1's hold ended at T0 + 2: it moves now, refused
    assert [(b.command.client_order_id, b.reason) for b in p.take_blocked()] == [("rb1", "MAX_ORDER_NOTIONAL")]


class OneBuy:
    """A minimal plug-in strategy: one buy at a fixed price, the same answer wherever the market is."""

    def __init__(self, ctx: object) -> None:
        pass

    def on_event(self, ev: object) -> None:
        pass

    def on_fill(self, fill: object) -> None:
        pass

    def desired_quotes(self, position_lots: int, now_ms: int) -> object:
        from grinder.core.quotes import QuoteSet

        return QuoteSet(SYM, (quote(Side.BUY, "b1", 490_000, 10),), "BASE", "QUOTING")

    def quiet_band(self) -> object:
        from grinder.core.quotes import QuietBand
        from grinder.execution.working import INT_MAX, INT_MIN

        return QuietBand(0, INT_MAX, INT_MIN, INT_MAX, INT_MIN, INT_MAX, INT_MAX, INT_MAX, 0, False)


def planned() -> float:
    """Place commands the order manager has planned so far (process-wide counter)."""
    from grinder.execution import metrics as om_metrics

    return float(om_metrics.OM_COMMANDS.labels(kind="place")._value.get())


def over_notional(factory: object) -> TradingPipeline:
    """A pipeline trading `factory`'s strategy whose every order is over the per-order notional limit."""
    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(),
                        RiskConfig(max_notional_per_order=Decimal("1")), ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=factory)  # type: ignore[arg-type]
    p.on_wallet_balance(Decimal("10000"), T0)
    return p


def test_inside_the_refusal_band_the_refused_plan_is_not_made_again() -> None:
    """The one order is over the notional limit: while the mid stays inside the refusal band (ends
    included) nothing is planned again (no command counted, nothing journaled twice)."""
    p = over_notional(OneBuy)
    before = planned()
    assert p.on_market_event(book(510_000, 1, T0), T0) == []
    assert planned() == before + 1
    assert [b.reason for b in p.take_blocked()] == ["MAX_ORDER_NOTIONAL"]
    band = p.quiet_refusal(SYM)
    # the price tolerance (0.2 bps of the mid) is 10 ticks from mid 500,000 to 549,999
    assert band is not None and (band.ref_lo, band.ref_hi) == (500_000, 549_999)
    for seq, mid in enumerate((500_000, 510_001, 549_999), start=2):
        assert p.on_market_event(book(mid, seq, T0 + seq), T0 + seq) == []
    assert planned() == before + 1
    assert p.on_market_event(book(550_000, 9, T0 + 9), T0 + 9) == []  # outside: planned (and refused) again
    assert planned() == before + 2
    assert p.take_blocked() == []  # the same block is journaled once


class TradeQuoter:
    """A plug-in strategy for a trades-only feed: one buy 100 ticks under the last trade; its quiet
    band is always empty (ask again on the next event)."""

    def __init__(self, ctx: object) -> None:
        self.last: int | None = None

    def on_event(self, ev: object) -> None:
        from grinder.core.events import Trade

        if isinstance(ev, Trade):
            self.last = ev.price_ticks

    def on_fill(self, fill: object) -> None:
        pass

    def desired_quotes(self, position_lots: int, now_ms: int) -> object:
        from grinder.core.quotes import QuoteSet

        quotes = () if self.last is None else (quote(Side.BUY, "b1", self.last - 100, 10),)
        return QuoteSet(SYM, quotes, "BASE", "QUOTING")

    def quiet_band(self) -> object:
        from grinder.core.quotes import EMPTY_BAND

        return EMPTY_BAND


def test_without_a_book_ticker_every_trade_is_planned_on() -> None:
    from grinder.core.commands import AmendOrder
    from grinder.core.events import Trade

    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(), WIDE, ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=TradeQuoter)  # type: ignore[arg-type]
    p.on_wallet_balance(Decimal("10000"), T0)
    first = p.on_market_event(Trade(SYM, 1, MID, 1, True, T0, T0), T0)
    assert [(type(c), c.price_ticks) for c in first] == [(PlaceOrder, MID - 100)]  # type: ignore[union-attr]
    accept_all(p, first)
    assert p.on_market_event(Trade(SYM, 2, MID, 1, True, T0 + 1, T0 + 1), T0 + 1) == []
    moved = p.on_market_event(Trade(SYM, 3, MID + 5_000, 1, True, T0 + 2, T0 + 2), T0 + 2)
    assert [(type(c), c.price_ticks) for c in moved] == [(AmendOrder, MID + 4_900)]  # type: ignore[union-attr]


class CountingBuy(OneBuy):
    """OneBuy that counts how often it is asked; its band covers depth diffs only when told to."""

    def __init__(self, ctx: object, covers_depth: bool = False) -> None:
        self.asked = 0
        self.covers_depth = covers_depth

    def desired_quotes(self, position_lots: int, now_ms: int) -> object:
        self.asked += 1
        return super().desired_quotes(position_lots, now_ms)

    def quiet_band(self) -> object:
        import msgspec

        return msgspec.structs.replace(super().quiet_band(), covers_depth=self.covers_depth)  # type: ignore[type-var]


@pytest.mark.parametrize("covers_depth", [False, True])
def test_a_depth_diff_is_planned_on_unless_the_band_covers_depth(covers_depth: bool) -> None:
    from grinder.core.events import DepthUpdate

    strategies: list[CountingBuy] = []

    def make(ctx: object) -> CountingBuy:
        strategies.append(CountingBuy(ctx, covers_depth))
        return strategies[-1]

    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig.reference(), WIDE, ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=make)  # type: ignore[arg-type]
    p.on_wallet_balance(Decimal("10000"), T0)
    accept_all(p, p.on_market_event(book(MID, 1, T0), T0))
    assert p.on_market_event(book(MID, 2, T0 + 1), T0 + 1) == []
    asked = strategies[0].asked
    diff = DepthUpdate(SYM, 3, 3, 2, ((MID - 1, 5),), ((MID + 1, 0),), T0 + 2, T0 + 2)
    assert p.on_market_event(diff, T0 + 2) == []
    assert strategies[0].asked == asked + (0 if covers_depth else 1)


def test_the_grid_does_not_recompute_on_a_depth_diff_inside_its_band() -> None:
    """Default config (features on): a depth diff inside the band neither plans nor recomputes."""
    from grinder.core.events import DepthUpdate
    from grinder.strategy import GridStrategy

    p = TradingPipeline({SYM: btcusdt_rules("100")}, StrategyConfig(), WIDE, ExecutionConfig(),
                        ClientOrderIdFactory("grid", 1_700_000_000), strategy_factory=grid_factory)
    p.on_wallet_balance(Decimal("10000"), T0)
    accept_all(p, p.on_market_event(book(MID, 1, T0), T0))
    assert p.on_market_event(book(MID, 2, T0 + 1), T0 + 1) == []
    grid_strategy = p.strategy(SYM)
    assert isinstance(grid_strategy, GridStrategy)
    band, dirty = p.quiet_state(SYM)
    assert band is not None and band.covers_depth and not dirty
    before = grid_strategy.recomputes
    diff = DepthUpdate(SYM, 3, 3, 2, ((MID - 1, 5),), ((MID + 1, 0),), T0 + 2, T0 + 2)
    assert p.on_market_event(diff, T0 + 2) == []
    assert grid_strategy.recomputes == before and p.quiet_state(SYM)[1] is False


class ExpiringBuy(OneBuy):
    """OneBuy whose quiet band ends 100 ms after each answer (like the grid's evaluation grid)."""

    def __init__(self, ctx: object) -> None:
        self.asked_ms = 0

    def desired_quotes(self, position_lots: int, now_ms: int) -> object:
        self.asked_ms = now_ms
        return super().desired_quotes(position_lots, now_ms)

    def quiet_band(self) -> object:
        import msgspec

        return msgspec.structs.replace(super().quiet_band(), until_ms=self.asked_ms + 100)  # type: ignore[type-var]


def test_when_the_band_time_runs_out_inside_the_refusal_band_the_refused_plan_is_not_made_again() -> None:
    """The strategy answers the same when its band's time runs out; the mid moved, but stays inside the
    refusal band: the plan would be refused the same way, so it is not made (no command counted) and
    the refusal band is renewed up to the strategy's new band time."""
    p = over_notional(ExpiringBuy)
    before = planned()
    assert p.on_market_event(book(510_000, 1, T0), T0) == []
    assert planned() == before + 1 and [b.reason for b in p.take_blocked()] == ["MAX_ORDER_NOTIONAL"]
    band = p.quiet_refusal(SYM)
    assert band is not None and (band.ref_lo, band.ref_hi, band.until_ms) == (500_000, 549_999, T0 + 100)
    assert p.on_market_event(book(520_000, 2, T0 + 150), T0 + 150) == []  # band time over: asked again
    assert planned() == before + 1 and p.take_blocked() == []
    band = p.quiet_refusal(SYM)
    assert band is not None and (band.ref_lo, band.ref_hi, band.until_ms) == (500_000, 549_999, T0 + 250)
    assert p.on_market_event(book(550_000, 3, T0 + 300), T0 + 300) == []  # outside: planned again
    assert planned() == before + 2
