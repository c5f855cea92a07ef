"""Expected state (ours: working orders + positions the journal believes in) and typed mismatches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Protocol

import msgspec

from grinder.core.enums import Side

_IN_FLIGHT_STATES = frozenset({"PENDING_NEW", "PENDING_AMEND", "PENDING_CANCEL", "UNKNOWN"})


class WorkingOrderLike(Protocol):
    """What reconciliation reads from the order manager's working orders."""

    symbol: str
    client_order_id: str
    side: Side
    price_ticks: int
    qty_lots: int


class ExpectedOrder(msgspec.Struct, frozen=True, gc=False):
    """An order we believe is on the exchange. `in_flight` orders are not reported missing."""

    symbol: str
    client_order_id: str
    side: Side
    price_ticks: int
    qty_lots: int  # original (total) quantity
    in_flight: bool = False


class ExpectedState(msgspec.Struct, frozen=True):
    """Our side of the comparison: open orders by client order id, net positions in lots by symbol."""

    orders: dict[str, ExpectedOrder] = {}
    positions: dict[str, int] = {}

    @classmethod
    def build(
        cls, orders: Iterable[ExpectedOrder] = (), positions: Mapping[str, int] | None = None
    ) -> ExpectedState:
        return cls({o.client_order_id: o for o in orders}, dict(positions or {}))

    @classmethod
    def from_working_orders(
        cls, working: Iterable[WorkingOrderLike], positions: Mapping[str, int] | None = None
    ) -> ExpectedState:
        """From `grinder.execution` working orders (any object with the WorkingOrderLike fields; a
        `state` of PENDING_*/UNKNOWN marks the order in flight)."""
        orders = []
        for w in working:
            state = str(getattr(getattr(w, "state", ""), "value", getattr(w, "state", "")))
            orders.append(
                ExpectedOrder(
                    w.symbol,
                    w.client_order_id,
                    w.side,
                    w.price_ticks,
                    w.qty_lots,
                    in_flight=state in _IN_FLIGHT_STATES,
                )
            )
        return cls.build(orders, positions)

    @classmethod
    def across_read(cls, before: ExpectedState, after: ExpectedState) -> ExpectedState:
        """What exchange lists read between two looks at our orders can be held to.

        The lists may predate or postdate anything that happened while they were read. An order is
        held to them only if it was open (not in flight), at the same price and size, at both
        looks; one placed, amended or ended in between counts as in flight: not reported missing,
        and not reported unexpected if the lists still show it. Positions are the later look's."""
        orders = []
        for cid, now in after.orders.items():
            then = before.orders.get(cid)
            settled = (then is not None and not then.in_flight and not now.in_flight
                       and (then.price_ticks, then.qty_lots) == (now.price_ticks, now.qty_lots))
            orders.append(now if settled else msgspec.structs.replace(now, in_flight=True))
        orders += [msgspec.structs.replace(o, in_flight=True) for cid, o in before.orders.items()
                   if cid not in after.orders]
        return cls.build(orders, after.positions)


class MismatchKind(StrEnum):
    ORDER_MISSING_ON_EXCHANGE = (
        "ORDER_MISSING_ON_EXCHANGE"  # we expect it open; the exchange does not list it
    )
    ORDER_UNEXPECTED_ON_EXCHANGE = "ORDER_UNEXPECTED_ON_EXCHANGE"  # open on the exchange; we do not expect it
    QTY_MISMATCH = "QTY_MISMATCH"
    PRICE_MISMATCH = "PRICE_MISMATCH"
    POSITION_MISMATCH = "POSITION_MISMATCH"


class Mismatch(msgspec.Struct, frozen=True, gc=False):
    """One difference. `ours` tells GRINDER's orders (`grinder_` prefix) from foreign ones."""

    kind: MismatchKind
    symbol: str
    client_order_id: str = ""
    ours: bool = True
    expected: int | None = None  # ticks / lots, depending on kind
    observed: int | None = None
    detail: str = ""

    def describe(self) -> str:
        who = "" if self.ours else " (foreign order: never touched)"
        ref = f" order_id={self.client_order_id}" if self.client_order_id else ""
        return (
            f"{self.kind.value} symbol={self.symbol}{ref} expected={self.expected} "
            f"observed={self.observed}{who} {self.detail}"
        ).rstrip()
