"""Operator actions that report the truth: cancel our resting orders order by order, then ask the
exchange what is still open.

One function, `cancel_ours`, serves the kill switch, `POST /control/cancel-all`, the shutdown and
`grinder orders cancel-all`. Its answer is what the exchange did (accepted / rejected / blocked by a
gate / unknown / already gone), never what was planned, and it ends with a query of open orders.
An explicit operator cancel passes every Runbook 17 gate except `armed` (ADR-100); strategy writes
and the kill switch stay behind every gate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from grinder.connector.live import LiveConnectorV0
from grinder.connector.port import OrderState, PositionState
from grinder.core.commands import CancelOrder, CommandResult, Outcome
from grinder.core.errors import ORDER_NOT_OPEN_CODES
from grinder.core.ids import is_grinder_order

log = logging.getLogger(__name__)

CANCEL_ALL_COMMAND = "grinder orders cancel-all --config <your config> --confirm"
FLATTEN_COMMAND = "grinder orders flatten --config <your config> --symbol {symbol} --confirm"


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What the exchange (or a gate) did with one cancel."""

    symbol: str
    client_order_id: str
    outcome: str  # accepted | rejected | blocked | unknown | gone (already filled or cancelled)
    code: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "client_order_id": self.client_order_id, "outcome": self.outcome,
                "code": self.code, "reason": self.reason}


def outcome_of(res: CommandResult) -> CancelOutcome:
    cmd = res.command
    outcome = res.outcome.value
    if res.outcome is Outcome.REJECTED and res.code in ORDER_NOT_OPEN_CODES:
        outcome = "gone"
    return CancelOutcome(cmd.symbol, cmd.client_order_id, outcome, res.code, res.reason)


@dataclass(frozen=True, slots=True)
class CancelReport:
    """Per-order outcomes and the open orders of ours the exchange still lists afterwards."""

    action: str
    outcomes: tuple[CancelOutcome, ...] = ()
    open_after: tuple[OrderState, ...] = ()
    query_error: str | None = None  # the confirming query failed: nothing is confirmed
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def clean(self) -> bool:
        """True only when the exchange confirmed, by query, that no order of ours is open."""
        return self.query_error is None and not self.open_after

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "action": self.action,
            "requested": len(self.outcomes),
            **{k: self.count(k) for k in ("accepted", "rejected", "blocked", "unknown", "gone")},
            "orders": [o.as_dict() for o in self.outcomes],
            "confirmed_by_query": self.query_error is None,
            "open_orders_after": [o.client_order_id for o in self.open_after],
            "clean": self.clean,
        }
        if self.query_error is not None:
            body["query_error"] = self.query_error
        if not self.clean:
            body["fix"] = f"clear them with POST /control/cancel-all or `{CANCEL_ALL_COMMAND}`"
        body.update(self.extra)
        return body


class CancelRecorder(Protocol):
    """Where the cancels are journaled (and, in the engine, applied to the order manager)."""

    def before(self, cmd: CancelOrder) -> None: ...

    def after(self, res: CommandResult) -> None: ...


class NoRecorder:
    def before(self, cmd: CancelOrder) -> None:
        return None

    def after(self, res: CommandResult) -> None:
        return None


async def our_open_orders(connector: LiveConnectorV0, symbols: Iterable[str]) -> list[OrderState]:
    """Open orders with the GRINDER prefix on `symbols`, as the exchange lists them now."""
    wanted = set(symbols)
    listed = await connector.open_orders()
    return [o for o in listed if o.symbol in wanted and is_grinder_order(o.client_order_id)]


async def cancel_ours(
    connector: LiveConnectorV0,
    symbols: Sequence[str],
    *,
    action: str,
    operator: bool,
    recorder: CancelRecorder | None = None,
) -> CancelReport:
    """Cancel every open order of ours on `symbols`, then confirm by a query of open orders.

    `operator=True`: an explicit operator cancel (allowed while disarmed, ADR-100); otherwise each
    cancel passes every gate, and a closed gate shows as `blocked` without anything being sent."""
    rec = recorder or NoRecorder()
    try:
        ours = await our_open_orders(connector, symbols)
    except Exception as exc:
        log.error("%s: cannot list open orders: %s", action, exc)
        return CancelReport(action, query_error=f"{type(exc).__name__}: {exc}")
    cmds = [CancelOrder(symbol=o.symbol, client_order_id=o.client_order_id) for o in ours]
    for cmd in cmds:
        rec.before(cmd)

    async def send(cmd: CancelOrder) -> CommandResult:
        try:
            return await (connector.operator_cancel(cmd) if operator else connector.submit(cmd))
        except Exception as exc:  # a port must not raise; if it does, the outcome is unknown
            return CommandResult(cmd, Outcome.UNKNOWN, reason=f"connector raised {type(exc).__name__}: {exc}")

    results = await asyncio.gather(*(send(c) for c in cmds))
    outcomes = []
    for res in results:
        rec.after(res)
        outcomes.append(outcome_of(res))
    try:
        left = tuple(await our_open_orders(connector, symbols))
        error = None
    except Exception as exc:
        left, error = (), f"{type(exc).__name__}: {exc}"
    report = CancelReport(action, tuple(outcomes), left, error)
    log.warning("%s: requested=%d accepted=%d rejected=%d blocked=%d unknown=%d gone=%d open_after=%s",
                action, len(outcomes), report.count("accepted"), report.count("rejected"),
                report.count("blocked"), report.count("unknown"), report.count("gone"),
                "?" if error else len(left))
    return report


def leftovers_message(orders: Sequence[OrderState], positions: Sequence[PositionState], why: str) -> str:
    """One line listing every open order of ours and every position, with the command that clears it."""
    parts = [f"{why}: {len(orders)} open orders of ours and {len(positions)} positions left on the exchange"]
    if orders:
        listed = ", ".join(
            f"{o.symbol}:{o.client_order_id}:{o.side.value}:{o.remaining_lots}lots@{o.price_ticks}t"
            for o in orders
        )
        parts.append(f"orders [{listed}] -> clear with `{CANCEL_ALL_COMMAND}`")
    for p in positions:
        parts.append(f"position {p.symbol} {p.amount_lots} lots entry={p.entry_price} -> close with "
                     f"`{FLATTEN_COMMAND.format(symbol=p.symbol)}`")
    return "; ".join(parts)
