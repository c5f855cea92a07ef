"""Order commands and their outcomes: the only ways GRINDER asks an exchange to change an order.

Every write ends as exactly one `Outcome`: ACCEPTED, REJECTED (exchange code), BLOCKED (our own
gate or risk check, with a stable reason) or UNKNOWN (timeout / 503 "unknown error"), which is
resolved by querying the same client order id, never by a blind retry with a new id.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

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


class BlockKind(StrEnum):
    """Why our own side refused a write before the exchange saw it: stable metric label values."""

    GATE = "gate"  # a Runbook 17 gate (detail: the gate name)
    RISK = "risk"  # the risk guard (detail: the `RiskReason`)
    SYMBOL_NOT_ALLOWED = "symbol_not_allowed"  # not in the connector's symbol allow-list
    LIMIT = "limit"  # the connector's per-order notional cap
    INVALID_ORDER = "invalid_order"  # the exchange would refuse it (symbol rules, client id)
    RULES_UNAVAILABLE = "rules_unavailable"  # symbol rules or a reference price could not be read
    RATE_LIMITED = "rate_limited"  # our rate governor holds writes (429/418 window)
    FENCED = "fenced"  # the HA write fence: not the leader
    NOT_OURS = "not_ours"  # an operator cancel of an order GRINDER did not place
    JOURNAL_WRITE_FAILED = "journal_write_failed"  # not journaled, so not sent


class BlockReason(msgspec.Struct, frozen=True, gc=False):
    """A typed block: the kind, and the operator-facing detail (what was refused and the fix)."""

    kind: BlockKind
    detail: str = ""

    @property
    def label(self) -> str:
        """The metric label: the kind, or for a risk block the risk reason itself."""
        return self.detail if self.kind is BlockKind.RISK else self.kind.value

    @property
    def text(self) -> str:
        """The reason as operators, logs and the journal read it (`gate:armed`, `limit: Cannot …`)."""
        if self.kind is BlockKind.GATE:
            return f"gate:{self.detail}"
        if self.kind is BlockKind.RISK or not self.detail:
            return self.label
        return f"{self.kind.value}: {self.detail}"


class CommandResult(msgspec.Struct, frozen=True, gc=False):
    """What became of one command."""

    command: Command
    outcome: Outcome
    order_id: int | None = None
    status: OrderStatus | None = None
    code: int | None = None  # exchange error code for REJECTED
    reason: str = ""  # BLOCKED: `block.text`; REJECTED/UNKNOWN: the message
    block: BlockReason | None = None  # BLOCKED: why (see `blocked`)


def blocked(cmd: Command, block: BlockReason) -> CommandResult:
    """The result of a command our own side refused."""
    return CommandResult(cmd, Outcome.BLOCKED, reason=block.text, block=block)
