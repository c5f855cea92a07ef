"""Pure reconciliation: expected vs observed → typed mismatches → remediation plan."""

from __future__ import annotations

from decimal import Decimal

from grinder.connector.port import OrderState, PositionState
from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side
from grinder.reconcile import (
    ActionKind,
    ActionOutcome,
    ExpectedOrder,
    ExpectedState,
    MismatchKind,
    ReconcileConfig,
    find_mismatches,
    plan_remediation,
)

OURS_A = "grinder_s_BTCUSDT_b1_1700000000_1"
OURS_B = "grinder_s_BTCUSDT_b2_1700000000_2"
OURS_C = "grinder_s_BTCUSDT_s1_1700000000_3"
FOREIGN = "web_manual_order_42"


def obs(
    cid: str, price: int = 300000, lots: int = 4, status: OrderStatus = OrderStatus.NEW, side: Side = Side.BUY
) -> OrderState:
    return OrderState(
        symbol="BTCUSDT",
        client_order_id=cid,
        order_id=hash(cid) % 10_000,
        side=side,
        order_type=OrderType.LIMIT,
        status=status,
        price_ticks=price,
        orig_lots=lots,
        executed_lots=0,
    )


def pos(lots: int, side: PositionSide = PositionSide.BOTH) -> PositionState:
    return PositionState(
        symbol="BTCUSDT",
        amount_lots=lots,
        entry_price=Decimal("60000"),
        position_side=side,
        mark_price=Decimal("60000"),
    )


def test_every_mismatch_kind_is_found() -> None:
    expected = ExpectedState.build(
        [
            ExpectedOrder("BTCUSDT", OURS_A, Side.BUY, 300000, 4),
            ExpectedOrder("BTCUSDT", OURS_B, Side.BUY, 299000, 4),
        ],
        {"BTCUSDT": 2},
    )
    observed = [obs(OURS_A, price=300010, lots=5), obs(OURS_C), obs(FOREIGN)]
    found = find_mismatches(expected, observed, [pos(3)])
    kinds = [(m.kind, m.client_order_id, m.ours, m.expected, m.observed) for m in found]
    assert kinds == [
        (MismatchKind.QTY_MISMATCH, OURS_A, True, 4, 5),
        (MismatchKind.PRICE_MISMATCH, OURS_A, True, 300000, 300010),
        (MismatchKind.ORDER_MISSING_ON_EXCHANGE, OURS_B, True, 4, None),
        (MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE, OURS_C, True, None, 4),
        (MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE, FOREIGN, False, None, 4),
        (MismatchKind.POSITION_MISMATCH, "", True, 2, 3),
    ]
    assert "foreign order: never touched" in found[4].describe()


def test_clean_state_in_flight_and_tolerances() -> None:
    expected = ExpectedState.build(
        [
            ExpectedOrder("BTCUSDT", OURS_A, Side.BUY, 300000, 4),
            ExpectedOrder("BTCUSDT", OURS_B, Side.BUY, 299000, 4, in_flight=True),
        ]
    )
    # OURS_B is in flight (not yet on the exchange): not missing. Closed orders are not "open".
    observed = [obs(OURS_A, price=300001), obs(OURS_C, status=OrderStatus.FILLED)]
    assert find_mismatches(expected, observed, [], ReconcileConfig(price_tolerance_ticks=1)) == []
    assert [m.kind for m in find_mismatches(expected, observed, [])] == [MismatchKind.PRICE_MISMATCH]


def test_from_working_orders_marks_in_flight() -> None:
    class Working:
        def __init__(self, cid: str, state: str) -> None:
            self.symbol, self.client_order_id, self.side = "BTCUSDT", cid, Side.SELL
            self.price_ticks, self.qty_lots, self.state = 1, 2, state

    state = ExpectedState.from_working_orders([Working(OURS_A, "OPEN"), Working(OURS_B, "PENDING_NEW")])
    assert not state.orders[OURS_A].in_flight and state.orders[OURS_B].in_flight


def test_plan_never_touches_foreign_orders_and_respects_limits() -> None:
    found = find_mismatches(ExpectedState(), [obs(OURS_A), obs(OURS_B), obs(OURS_C), obs(FOREIGN)], [pos(-2)])
    cfg = ReconcileConfig(remediation_enabled=True, flatten_enabled=True, max_cancels_per_run=2)
    actions, skipped = plan_remediation(found, [pos(-2)], cfg)
    assert [(a.kind, a.client_order_id) for a in actions] == [
        (ActionKind.CANCEL_ORDER, OURS_A),
        (ActionKind.CANCEL_ORDER, OURS_B),
        (ActionKind.FLATTEN_POSITION, ""),
    ]
    flatten = actions[2]
    assert flatten.side is Side.BUY and flatten.qty_lots == 2  # short 2 lots → buy 2 reduce-only
    assert [(s.action.client_order_id, s.outcome, s.detail) for s in skipped] == [
        (OURS_C, ActionOutcome.SKIPPED, "limit: max_cancels_per_run=2")
    ]
    assert all(FOREIGN not in (a.client_order_id,) for a in actions)


def test_flatten_needs_its_flag_and_one_way_mode() -> None:
    found = find_mismatches(ExpectedState(), [], [pos(5)])
    actions, skipped = plan_remediation(found, [pos(5)], ReconcileConfig(remediation_enabled=True))
    assert actions == [] and skipped[0].detail == "reconcile.flatten_enabled=false"
    hedge = [pos(5, PositionSide.LONG)]
    actions, skipped = plan_remediation(
        find_mismatches(ExpectedState(), [], hedge),
        hedge,
        ReconcileConfig(remediation_enabled=True, flatten_enabled=True),
    )
    assert actions == [] and "hedge-mode" in skipped[0].detail
    # A position that differs from a non-zero expectation is reported, never auto-flattened.
    found = find_mismatches(ExpectedState.build([], {"BTCUSDT": 3}), [], [pos(5)])
    assert [m.kind for m in found] == [MismatchKind.POSITION_MISMATCH]
    assert plan_remediation(
        found, [pos(5)], ReconcileConfig(remediation_enabled=True, flatten_enabled=True)
    ) == ([], [])


def test_orders_that_changed_while_the_exchange_was_read_are_not_held_to_its_lists() -> None:
    """The reconcile loop reads positions and open orders over a few requests; meanwhile the engine
    places, amends and ends orders. Only orders open and unchanged at both looks are compared."""
    def order(cid: str, price: int = 300000, in_flight: bool = False) -> ExpectedOrder:
        return ExpectedOrder("BTCUSDT", cid, Side.BUY, price, 2, in_flight=in_flight)

    stable, placed, ended, amended, stale = OURS_A, OURS_B, OURS_C, OURS_A[:-1] + "4", OURS_A[:-1] + "5"
    before = ExpectedState.build([order(stable), order(ended), order(amended), order(stale)])
    after = ExpectedState.build([order(stable), order(placed), order(amended, price=300010), order(stale)])
    # The lists were read before `placed` was accepted and before `ended` and `amended` changed;
    # `stable` is listed, `stale` is not (it really is gone: the one mismatch to report).
    listed = [obs(stable, lots=2), obs(ended, lots=2), obs(amended, lots=2)]
    found = find_mismatches(ExpectedState.across_read(before, after), listed, [])
    assert [(m.kind, m.client_order_id) for m in found] == [(MismatchKind.ORDER_MISSING_ON_EXCHANGE, stale)]
    # Held to the lists as if read in an instant, the same orders give three false alarms more.
    naive = {(m.kind, m.client_order_id) for m in find_mismatches(after, listed, [])}
    assert naive == {(MismatchKind.ORDER_MISSING_ON_EXCHANGE, stale), (MismatchKind.ORDER_MISSING_ON_EXCHANGE, placed),
                     (MismatchKind.PRICE_MISMATCH, amended), (MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE, ended)}
