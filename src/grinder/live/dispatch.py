"""Command dispatch for the live engine: journal the commands, send each through the connector, apply
and count the outcome. An order whose outcome is unknown is asked of the exchange by id, never resent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from grinder.core.blocks import BlockKind, BlockReason
from grinder.core.clock import Clock
from grinder.core.commands import CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.execution.order_manager import WorkingState
from grinder.live.latency import TICK_ORDERS, LatencyTracker, TickOrders
from grinder.live.parts import EngineParts
from grinder.ops import metrics

log = logging.getLogger(__name__)


@dataclass(slots=True)
class OrderCounts:
    placed: int = 0
    cancelled: int = 0
    amended: int = 0
    rejected: int = 0
    blocked: int = 0
    unknown: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"placed": self.placed, "cancelled": self.cancelled, "amended": self.amended,
                "rejected": self.rejected, "blocked": self.blocked, "unknown": self.unknown}


def command_kind(cmd: Command) -> str:
    if isinstance(cmd, PlaceOrder):
        return "place"
    if isinstance(cmd, CancelOrder):
        return "cancel"
    return "amend"


class CommandDispatcher:
    """Sends the engine's commands and applies their results; resolves unknown outcomes by query."""

    def __init__(self, parts: EngineParts, clock: Clock, latency: LatencyTracker,
                 request_reconcile: Callable[[str], None]) -> None:
        self.parts = parts
        self.clock = clock
        self.latency = latency
        self.counts = OrderCounts()
        self.inflight: set[asyncio.Task[None]] = set()
        self.trace_latency = False  # True when the REST session reports request-write times
        self.resolving: asyncio.Task[None] | None = None
        self._request_reconcile = request_reconcile
        self._suspects: set[str] = set()  # client ids to re-check (user-stream resync, reconciliation)

    # =============================================================== commands
    def dispatch(self, cmds: Sequence[Command], tick: TickOrders | None = None) -> None:
        """Journal the commands (one transaction), then start one send task per command."""
        if not cmds:
            self.journal_blocked()
            return
        now_ms = self.clock.now_ms()
        loop = asyncio.get_running_loop()
        journal = self.parts.journal
        try:
            with journal.batch():  # one transaction (one commit) for the event's commands
                for cmd in cmds:
                    journal.record_command(cmd, now_ms)
        except Exception:
            # Not journaled, not sent: after a crash the journal must know every order we sent.
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("journal").inc()
            log.exception("journal write failed; %d commands not sent", len(cmds))
            for cmd in cmds:
                if tick is not None:
                    self.latency.order_not_written(tick)
                self.apply_result(CommandResult.blocked(cmd, BlockReason(BlockKind.JOURNAL_WRITE_FAILED)))
            return
        # One task per command, all started now: their first steps run back to back in the next
        # loop iteration (the market stream yields first, see `LiveEngine._decide`), each writing its
        # request unless it must wait (for a connection, the rate budget); they then await their
        # answers concurrently. The order manager already allows one command in flight per grid level.
        inflight = self.inflight
        for cmd in cmds:
            task = loop.create_task(self._submit(cmd, tick))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
        self.journal_blocked()

    async def _submit(self, cmd: Command, tick: TickOrders | None) -> None:
        sent = self.clock.monotonic_ns()
        if tick is not None:
            if self.trace_latency:
                TICK_ORDERS.set(tick)  # the request-write hook stamps it (`order_written`)
            else:
                self.latency.order_written(tick, sent)
        try:
            res = await self.parts.connector.submit(cmd)
        except Exception as exc:  # a port must not raise; if it does, the outcome is unknown
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("submit").inc()
            log.exception("connector raised on submit order_id=%s", cmd.client_order_id)
            res = CommandResult(cmd, Outcome.UNKNOWN, reason=f"connector raised {type(exc).__name__}")
        if tick is not None and TICK_ORDERS.get() is tick:
            TICK_ORDERS.set(None)
            self.latency.order_not_written(tick)  # refused before the socket (gate, limit, rate budget)
        kind = command_kind(cmd)
        if res.outcome is not Outcome.BLOCKED:
            self.latency.roundtrip(kind, res.outcome.value, self.clock.monotonic_ns() - sent)
        metrics.COMMANDS_TOTAL.labels(kind, res.outcome.value).inc()
        self.count(kind, res)
        self.apply_result(res)
        if self.parts.poll_user_events is not None:
            self.parts.poll_user_events()

    def apply_result(self, res: CommandResult) -> None:
        try:
            self.parts.journal.record_result(res, self.clock.now_ms())
        except Exception:
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("journal").inc()
            log.exception("journal write of a result failed order_id=%s", res.command.client_order_id)
        try:
            self.parts.pipeline.on_result(res)
        except Exception:
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("result").inc()
            log.exception("pipeline failed to apply a command result")
        if res.outcome is Outcome.UNKNOWN:
            self.schedule_resolve("unknown_outcome")
            self._request_reconcile("unknown_outcome")

    def journal_blocked(self) -> None:
        for refused in self.parts.pipeline.take_blocked():
            metrics.COMMANDS_BLOCKED_TOTAL.labels(refused.block.label[:48] or "unspecified").inc()
            try:
                self.parts.journal.record_blocked(refused)
            except Exception:
                metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("journal").inc()
                log.exception("journal write of a blocked command failed")

    def count(self, kind: str, res: CommandResult) -> None:
        c = self.counts
        if res.outcome is Outcome.ACCEPTED:
            if kind == "place":
                c.placed += 1
            elif kind == "cancel":
                c.cancelled += 1
            else:
                c.amended += 1
        elif res.outcome is Outcome.REJECTED:
            c.rejected += 1
        elif res.outcome is Outcome.BLOCKED:
            c.blocked += 1
            label = res.block.label[:48] if res.block is not None else ""
            metrics.COMMANDS_BLOCKED_TOTAL.labels(label or "unspecified").inc()
        else:
            c.unknown += 1

    async def drain(self, deadline_s: float) -> None:
        """Wait for the commands in flight, until `deadline_s` (monotonic seconds)."""
        while self.inflight:
            remaining = deadline_s - self.clock.monotonic_ns() / 1e9
            if remaining <= 0:
                log.warning("shutdown timeout: %d commands still in flight", len(self.inflight))
                return
            await asyncio.wait(set(self.inflight), timeout=remaining)

    # ============================================================ resolution
    def recheck(self, client_order_ids: Iterable[str], why: str) -> None:
        """Ask the exchange about these working orders by id (they may have ended unseen)."""
        self._suspects.update(client_order_ids)
        self.schedule_resolve(why)

    def schedule_resolve(self, why: str) -> None:
        if self.resolving is None or self.resolving.done():
            self.resolving = asyncio.get_running_loop().create_task(self._resolve_orders(why))

    async def _resolve_orders(self, why: str) -> None:
        """Ask the exchange about orders whose outcome is unknown, or doubtful after a stream gap."""
        pipeline = self.parts.pipeline
        suspects, self._suspects = self._suspects, set()
        checks = [(wo, False) for wo in pipeline.orders.unknown_orders()]
        checks += [(wo, True) for cid in suspects if (wo := pipeline.orders.order(cid)) is not None]
        for wo, doubtful in checks:
            try:
                state = await self.parts.port.query_order(wo.symbol, wo.client_order_id)
            except Exception as exc:
                log.warning("order query failed order_id=%s error=%s; will retry", wo.client_order_id, exc)
                continue
            still_open = state is not None and state.is_open
            if doubtful and (still_open or wo.state is not WorkingState.OPEN):
                continue  # the exchange agrees with us, or a newer command owns the order now
            if state is None:
                pipeline.orders.resolve(wo.client_order_id, None)
            else:
                pipeline.orders.resolve(wo.client_order_id, state.status, order_id=state.order_id,
                                        price_ticks=state.price_ticks, qty_lots=state.orig_lots,
                                        filled_lots=state.executed_lots)
            log.info("order resolved order_id=%s status=%s why=%s", wo.client_order_id,
                     state.status.value if state else "NOT_FOUND", why)
