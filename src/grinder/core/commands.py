"""Order commands and their outcomes: the only ways GRINDER asks an exchange to change an order.

Every write ends as exactly one `Outcome`: ACCEPTED, REJECTED (exchange code), BLOCKED (our own
gate or risk check, with a stable reason) or UNKNOWN (timeout / 503 "unknown error"), which is
resolved by querying the same client order id, never by a blind retry with a new id.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from grinder.core.blocks import BlockReason
from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce


class PlaceOrder(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    side: Side
    order_type: OrderType
    qty_lots: int
    client_order_id: str
    price_ticks: int | None = None  # None for MARKET
    time_in_force: TimeInForce | None = TimeInForce.GTC  # None for MARKET
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    level: str = ""  # grid level tag (e.g. "b1", "s3"); informational


class CancelOrder(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    client_order_id: str


class AmendOrder(msgspec.Struct, frozen=True, gc=False):
    """Modify price and/or quantity of a resting LIMIT order in place (PUT /fapi/v1/order)."""

    symbol: str
    client_order_id: str
    side: Side
    price_ticks: int
    qty_lots: int


Command = PlaceOrder | CancelOrder | AmendOrder


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


class CommandResult(msgspec.Struct, frozen=True, gc=False):
    """What became of one command."""

    command: Command
    outcome: Outcome
    order_id: int | None = None
    status: OrderStatus | None = None
    code: int | None = None  # exchange error code for REJECTED
    reason: str = ""  # BLOCKED: `block.text`; REJECTED/UNKNOWN: the message
    block: BlockReason | None = None  # BLOCKED: why (`CommandResult.blocked`)

    @classmethod
    def blocked(cls, cmd: Command, block: BlockReason) -> CommandResult:
        """The result of a command our own side refused."""
        return cls(cmd, Outcome.BLOCKED, reason=block.text, block=block)
