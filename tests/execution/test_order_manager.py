"""OrderManager diff: keep within tolerance, amend vs cancel+place, priority, in-flight and unknown."""

from __future__ import annotations

import pytest

from grinder.core.commands import AmendOrder, CancelOrder, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, Side, TimeInForce
from grinder.core.ids import ClientOrderIdFactory
from grinder.execution import ExecutionConfig, OrderManager, WorkingState

from .helpers import SYM, grid, quote, result, update

MID = 500_000


def om(**kw: object) -> OrderManager:
    return OrderManager(ExecutionConfig(**kw), ClientOrderIdFactory("t", 1_700_000_000))  # type: ignore[arg-type]


def placed(m: OrderManager, quotes: list, accept: bool = True) -> list[PlaceOrder]:  # type: ignore[type-arg]
    cmds = m.plan(SYM, quotes, mid_ticks=MID)
    out = []
    for c in cmds:
        assert isinstance(c, PlaceOrder)
        m.on_submitted(c)
        if accept:
            m.on_result(result(c, order_id=7))
        out.append(c)
    return out


def test_empty_book_places_every_level_nearest_first_with_ids() -> None:
    m = om()
    cmds = m.plan(SYM, grid(MID), mid_ticks=MID)
    assert all(isinstance(c, PlaceOrder) for c in cmds)
    assert [c.level for c in cmds] == ["b1", "s1", "b2", "s2", "b3", "s3"]  # type: ignore[union-attr]
    assert all(c.time_in_force is TimeInForce.GTX for c in cmds)  # type: ignore[union-attr]
    ids = [c.client_order_id for c in cmds]
    assert len(set(ids)) == 6 and ids[0] == "grinder_t_BTCUSDT_b1_1700000000_1"


def test_unchanged_quotes_produce_nothing() -> None:
    m = om()
    placed(m, grid(MID))
    assert m.plan(SYM, grid(MID), mid_ticks=MID) == []


def test_in_flight_levels_are_not_placed_twice() -> None:
    m = om()
    placed(m, grid(MID), accept=False)
    assert all(o.state is WorkingState.PENDING_NEW for o in m.working_orders(SYM))
    assert m.plan(SYM, grid(MID + 50), mid_ticks=MID + 50) == []  # frozen until answered


def test_move_towards_the_touch_amends_in_place_with_total_quantity() -> None:
    m = om(price_tolerance_bps=0)
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 12, 4)])
    m.on_order_update(
        update(b1, OrderStatus.PARTIALLY_FILLED, execution=ExecutionType.TRADE, fill_lots=1, cum_lots=1)
    )
    [cmd] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 4)], mid_ticks=MID)
    assert isinstance(cmd, AmendOrder)
    assert (cmd.client_order_id, cmd.price_ticks, cmd.qty_lots) == (
        b1.client_order_id,
        MID - 10,
        5,
    )  # 1 filled + 4
    m.on_submitted(cmd)
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 20, 4)], mid_ticks=MID) == []  # amend in flight
    m.on_result(result(cmd))
    wo = m.order(b1.client_order_id)
    assert wo is not None and (wo.price_ticks, wo.qty_lots, wo.remaining_lots) == (MID - 10, 5, 4)


def test_move_away_from_the_touch_is_one_amend_not_cancel_and_place() -> None:
    # a move away loses the queue place either way: one amend instead of two writes (ADR-263)
    m = om(price_tolerance_bps=0)
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 10)])
    [amend] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 12)], mid_ticks=MID)
    assert isinstance(amend, AmendOrder)
    assert (amend.client_order_id, amend.price_ticks) == (b1.client_order_id, MID - 12)


def test_a_larger_quote_keeps_the_smaller_order_a_smaller_quote_shrinks_it() -> None:
    # growing an order in place would lose its queue place on Binance: it is kept (ADR-264)
    m = om(price_tolerance_bps=0)
    placed(m, [quote(Side.BUY, "b1", MID - 10, 4)])
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 6)], mid_ticks=MID) == []
    [shrink] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 3)], mid_ticks=MID)
    assert isinstance(shrink, AmendOrder) and (shrink.price_ticks, shrink.qty_lots) == (MID - 10, 3)


def test_an_echo_of_an_earlier_amend_does_not_free_the_amend_in_flight() -> None:
    # amend 1 answered by REST, then amend 2 sent; amend 1's AMENDMENT event arrives only now: the
    # order must stay frozen for amend 2 (re-planning it sent amend 2 twice: -5027 "no need to modify")
    m = om(price_tolerance_bps=0)
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 20, 4)])
    [a1] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 15, 4)], mid_ticks=MID)
    m.on_submitted(a1)
    m.on_result(result(a1))
    [a2] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 4)], mid_ticks=MID)
    m.on_submitted(a2)
    m.on_order_update(update(b1, OrderStatus.NEW, execution=ExecutionType.AMENDMENT, price=MID - 15))
    wo = m.order(b1.client_order_id)
    assert wo is not None and wo.state is WorkingState.PENDING_AMEND and wo.amend_to == (MID - 10, 4)
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 4)], mid_ticks=MID) == []  # not sent again
    m.on_order_update(update(b1, OrderStatus.NEW, execution=ExecutionType.AMENDMENT, price=MID - 10))
    assert wo.state is WorkingState.OPEN and wo.price_ticks == MID - 10


def test_an_amend_answer_after_its_event_does_not_free_a_cancel_in_flight() -> None:
    # the stream's AMENDMENT frees the order, the quote leaves and a cancel goes out; the amend's REST
    # answer arrives only now: the order stays frozen for the cancel (freeing it sent the cancel
    # twice, the second refused -2011: seen in a speed-10 demo)
    m = om(price_tolerance_bps=0)
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 20, 4)])
    [a1] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 15, 4)], mid_ticks=MID)
    m.on_submitted(a1)
    m.on_order_update(update(b1, OrderStatus.NEW, execution=ExecutionType.AMENDMENT, price=MID - 15))
    [cancel] = m.plan(SYM, [], mid_ticks=MID)
    assert isinstance(cancel, CancelOrder)
    m.on_submitted(cancel)
    m.on_result(result(a1))
    wo = m.order(b1.client_order_id)
    assert wo is not None and wo.state is WorkingState.PENDING_CANCEL
    assert m.plan(SYM, [], mid_ticks=MID) == []  # not cancelled twice
    m.on_result(result(cancel))
    assert m.order(b1.client_order_id) is None


def test_without_amend_a_change_is_cancel_then_place() -> None:
    m = om(amend_enabled=False, price_tolerance_bps=0)
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 12)])
    cancel, new = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10)], mid_ticks=MID)
    assert cancel == CancelOrder(SYM, b1.client_order_id)
    assert isinstance(new, PlaceOrder) and new.client_order_id != b1.client_order_id


def test_side_change_on_a_level_cancels_first() -> None:
    m = om()
    placed(m, [quote(Side.BUY, "x1", MID - 10)])
    cmds = m.plan(SYM, [quote(Side.SELL, "x1", MID + 10)], mid_ticks=MID)
    assert isinstance(cmds[0], CancelOrder) and isinstance(cmds[1], PlaceOrder)
    assert cmds[1].side is Side.SELL and cmds[1].level == "x2"  # x1 is still held by the buy


def test_tolerance_keeps_nearby_orders() -> None:
    m = om(price_tolerance_ticks=2, qty_tolerance_lots=1, price_tolerance_bps=0)
    placed(m, [quote(Side.BUY, "b1", MID - 10, 4)])
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 12, 5)], mid_ticks=MID) == []
    assert [type(c) for c in m.plan(SYM, [quote(Side.BUY, "b1", MID - 13, 4)], mid_ticks=MID)] == [
        AmendOrder
    ]
    # the bps tolerance: 0.2 bps of a 500_000-tick mid is 10 ticks
    m2 = om()
    placed(m2, [quote(Side.BUY, "b1", MID - 10, 4)])
    assert m2.plan(SYM, [quote(Side.BUY, "b1", MID - 20, 4)], mid_ticks=MID) == []
    assert len(m2.plan(SYM, [quote(Side.BUY, "b1", MID - 21, 4)], mid_ticks=MID)) == 1


def test_levels_not_wanted_are_cancelled_first_and_budget_prefers_near_levels() -> None:
    m = om(price_tolerance_bps=0)
    placed(m, grid(MID, levels=2))
    # the grid shifts up by 100 ticks and grows to 4 levels; only 4 commands fit the budget
    cmds = m.plan(
        SYM,
        [q for q in grid(MID + 100, levels=4) if q.level not in ("b1", "s1")],
        mid_ticks=MID + 100,
        budget=4,
    )
    assert all(isinstance(c, AmendOrder) for c in cmds)
    # first the sells below the new ones move out (each replaces a cancel: as urgent), then the buy
    # furthest behind moves up to the nearest new buy; the places wait for budget
    assert [(c.client_order_id.split("_")[3], c.price_ticks - MID) for c in cmds] == [  # type: ignore[union-attr,operator]
        ("s2", 120),
        ("s1", 130),
        ("b2", 80),
        ("b1", 70),
    ]


def test_budget_cut_does_not_burn_ids() -> None:
    m = om()
    [first] = m.plan(SYM, grid(MID), mid_ticks=MID, budget=1)
    [again] = m.plan(SYM, grid(MID), mid_ticks=MID, budget=1)
    assert isinstance(first, PlaceOrder) and isinstance(again, PlaceOrder)
    assert first.client_order_id.endswith("_1") and again.client_order_id.endswith("_2")


def test_risk_reducing_orders_come_before_others() -> None:
    m = om()
    cmds = m.plan(SYM, grid(MID), mid_ticks=MID, position_lots=5)
    assert [c.side for c in cmds[:3]] == [Side.SELL] * 3  # type: ignore[union-attr]


def test_unknown_outcome_freezes_the_level_until_resolved_by_event() -> None:
    m = om()
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 10)], accept=False)
    m.on_result(result(b1, Outcome.UNKNOWN, reason="timeout"))
    assert [o.client_order_id for o in m.unknown_orders()] == [b1.client_order_id]
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 10)], mid_ticks=MID) == []
    m.on_order_update(update(b1, OrderStatus.NEW))
    assert m.order(b1.client_order_id).state is WorkingState.OPEN  # type: ignore[union-attr]
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 10)], mid_ticks=MID) == []


def test_unknown_outcome_resolved_by_query_not_found_frees_the_level() -> None:
    m = om()
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 10)], accept=False)
    m.on_result(result(b1, Outcome.UNKNOWN))
    m.resolve(b1.client_order_id, None)
    [again] = m.plan(SYM, [quote(Side.BUY, "b1", MID - 10)], mid_ticks=MID)
    assert isinstance(again, PlaceOrder) and again.client_order_id != b1.client_order_id


def test_rejected_and_blocked_places_free_the_level() -> None:
    for outcome in (Outcome.REJECTED, Outcome.BLOCKED):
        m = om()
        [b1] = placed(m, [quote(Side.BUY, "b1", MID - 10)], accept=False)
        m.on_result(result(b1, outcome, code=-5022))
        assert m.working_orders(SYM) == []


def test_cancel_of_gone_order_closes_other_rejections_keep_it() -> None:
    m = om()
    [_b1, _s1] = placed(m, [quote(Side.BUY, "b1", MID - 10), quote(Side.SELL, "s1", MID + 10)])
    cancels = m.plan(SYM, [], mid_ticks=MID)
    for c in cancels:
        m.on_submitted(c)
    m.on_result(result(cancels[0], Outcome.REJECTED, code=-2011))
    m.on_result(result(cancels[1], Outcome.REJECTED, code=-1008))
    assert [o.state for o in m.working_orders(SYM)] == [WorkingState.OPEN]


def test_events_are_idempotent_and_late_ones_ignored() -> None:
    m = om()
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 10, 2)], accept=False)
    fill = update(b1, OrderStatus.FILLED, execution=ExecutionType.TRADE, fill_lots=2, cum_lots=2, trade_id=9)
    m.on_order_update(fill)
    m.on_order_update(fill)
    assert m.working_orders(SYM) == [] and m.is_closed(b1.client_order_id)
    m.on_result(result(b1))  # the REST answer arrives after the fill: must not resurrect it
    m.on_order_update(update(b1, OrderStatus.NEW))
    assert m.working_orders(SYM) == []


def test_amend_answer_that_cancels_closes_the_order() -> None:
    m = om()
    [_b1] = placed(m, [quote(Side.BUY, "b1", MID - 10)])
    [amend] = m.plan(SYM, [quote(Side.BUY, "b1", MID + 5)], mid_ticks=MID)
    m.on_submitted(amend)
    m.on_result(result(amend, status=OrderStatus.EXPIRED))  # GTX amend that would cross
    assert m.working_orders(SYM) == []


def test_duplicate_levels_and_foreign_symbols_are_refused() -> None:
    m = om()
    with pytest.raises(ValueError, match="share level"):
        m.plan(SYM, [quote(Side.BUY, "b1", 1), quote(Side.BUY, "b1", 2)])
    with pytest.raises(ValueError, match="ETHUSDT"):
        m.plan("ETHUSDT", [quote(Side.BUY, "b1", 1)])


def test_cancel_all_covers_open_orders_only() -> None:
    m = om()
    cmds = m.plan(SYM, grid(MID, levels=2), mid_ticks=MID)
    for c in cmds:
        m.on_submitted(c)
    for c in cmds[:3]:
        m.on_result(result(c))
    assert len(m.plan_cancel_all(SYM)) == 3  # the fourth is still in flight


def test_zero_quantity_quote_cancels_its_level() -> None:
    m = om()
    [b1] = placed(m, [quote(Side.BUY, "b1", MID - 10)])
    assert m.plan(SYM, [quote(Side.BUY, "b1", MID - 10, 0)], mid_ticks=MID) == [
        CancelOrder(SYM, b1.client_order_id)
    ]
