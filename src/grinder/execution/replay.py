"""Journal replay through the order manager: which of our orders may still be open after a restart.

The journal's commands, answers and exchange order updates are fed, in journal order, to a scratch
`OrderManager`, so replay follows the same transitions as live trading (one owner of the order
lifecycle). Two answers only a journal holds close an order whatever state it is in: a place answer
saying the order is not on the book, and a start-up query's "unknown id" (journaled as a rejected
place, `grinder.live.journal.EngineJournal.record_resolution`).
"""

from __future__ import annotations

import msgspec

from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import OrderStatus, OrderType
from grinder.core.ids import ClientOrderIdFactory
from grinder.execution.config import ExecutionConfig
from grinder.execution.order_manager import OrderManager, WorkingOrder


class OrderReplay:
    """Feed it journaled rows in journal order, then read `open_orders()`."""

    def __init__(self) -> None:
        self.orders = OrderManager(ExecutionConfig(), ClientOrderIdFactory("replay", 1), publish=False)

    def command(self, cmd: Command) -> None:
        """A command we sent (journaled before it was sent)."""
        om = self.orders
        if not isinstance(cmd, PlaceOrder):
            om.on_submitted(cmd)  # an order we no longer track is ignored
            return
        if om.order(cmd.client_order_id) is not None or om.is_closed(cmd.client_order_id):
            return  # an id is placed once; a repeated row changes nothing
        level = cmd.level or cmd.client_order_id
        if any(wo.level == level for wo in om.working_orders(cmd.symbol)):
            # An earlier order at this level is still believed open (its end was never journaled):
            # keep both, the second under its own id.
            cmd = msgspec.structs.replace(cmd, level=cmd.client_order_id)
        om.on_submitted(cmd)

    def result(self, kind: str, client_order_id: str, outcome: Outcome, *, status: OrderStatus | None,
               code: int | None, order_id: int | None, price_ticks: int | None,
               qty_lots: int | None) -> None:
        """The answer to a command of `kind` ("place" | "cancel" | "amend")."""
        om = self.orders
        wo = om.order(client_order_id)
        if wo is None:
            return
        done = outcome is Outcome.ACCEPTED and status is not None and not status.is_open
        if kind == "place" and (done or outcome in (Outcome.REJECTED, Outcome.BLOCKED)):
            om.resolve(client_order_id, status if done else None)
            return
        om.on_result(CommandResult(_command(kind, wo, price_ticks, qty_lots), outcome, order_id=order_id,
                                   status=status, code=code))

    def update(self, client_order_id: str, status: OrderStatus, *, order_id: int, price_ticks: int,
               qty_lots: int, filled_lots: int) -> None:
        """An exchange order update (or a start-up query's answer): the order as the exchange has it."""
        self.orders.resolve(client_order_id, status, order_id=order_id or None, price_ticks=price_ticks,
                            qty_lots=qty_lots, filled_lots=filled_lots)

    def open_orders(self) -> list[WorkingOrder]:
        return self.orders.working_orders()


def _command(kind: str, wo: WorkingOrder, price_ticks: int | None, qty_lots: int | None) -> Command:
    """The answered command, as much of it as the order manager reads."""
    if kind == "cancel":
        return CancelOrder(symbol=wo.symbol, client_order_id=wo.client_order_id)
    if kind == "amend":
        return AmendOrder(symbol=wo.symbol, client_order_id=wo.client_order_id, side=wo.side,
                          price_ticks=price_ticks or wo.price_ticks, qty_lots=qty_lots or wo.qty_lots)
    return PlaceOrder(symbol=wo.symbol, side=wo.side, order_type=OrderType.LIMIT, qty_lots=wo.qty_lots,
                      client_order_id=wo.client_order_id, price_ticks=wo.price_ticks, level=wo.level)
