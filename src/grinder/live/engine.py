"""The live engine: market streams → TradingPipeline → LiveConnectorV0 → exchange, fills back in.

One process trades one account and any number of symbols. The engine is the thin async shell
around the pure decision code: it owns the tasks, the start-up sequence (HA role, journal, exchange
state, leftover orders), the ops hooks (/readyz, /status, /control) and the graceful shutdown.
Every write goes through the connector, so the Runbook 17 gates hold for every command.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from grinder.binance.user_stream import UserStreamResynced
from grinder.connector.config import env_flag
from grinder.connector.live import LiveConnectorV0
from grinder.connector.port import ExchangePort
from grinder.core.clock import Clock, WallClock
from grinder.core.commands import CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import SafeMode
from grinder.core.events import AccountUpdate, BookTicker, Fill, MarketEvent, OrderUpdate
from grinder.core.rules import SymbolRules
from grinder.execution.order_manager import OrderState as WorkingState
from grinder.execution.pipeline import BlockedCommand, TradingPipeline
from grinder.ha.metrics import HA_IS_LEADER
from grinder.live import control, shutdown, startup
from grinder.live.config import EngineConfig
from grinder.live.deadman import DeadMansSwitch
from grinder.live.state import LatencyWindow, SymbolView
from grinder.live.trip import Flattener, TripKeeper, loss_tripped
from grinder.ops import metrics
from grinder.ops.server import Readiness
from grinder.store import Journal as Store

log = logging.getLogger(__name__)

MAX_DEFERRED_EVENTS = 64  # market events allowed to wait behind order sends before we catch up inline



class TickOrders:
    """The commands one market message caused: when it arrived, how many are still unsent, first write.

    Tick-to-first-order is the latency of the first of them to reach the socket; tick-to-all-orders
    the latency of the last one (commands refused before the socket do not count).
    """

    __slots__ = ("first_ns", "last_ns", "left", "recv_ns", "symbol")

    def __init__(self, recv_ns: int, symbol: str, count: int) -> None:
        self.recv_ns = recv_ns
        self.symbol = symbol
        self.left = count
        self.first_ns = 0
        self.last_ns = 0


# The tick behind the command being sent. The REST session's trace hook reads it when the
# request headers are written (`LiveEngine.order_written`): tick-to-order latency.
TICK_ORDERS: contextvars.ContextVar[TickOrders | None] = contextvars.ContextVar(
    "grinder_tick_orders", default=None
)


class Journal(Protocol):
    """What the engine appends to the journal (grinder.live.journal adapts grinder.store)."""

    def record_command(self, cmd: Command, now_ms: int) -> None: ...

    def record_result(self, res: CommandResult, now_ms: int) -> None: ...

    def record_blocked(self, blocked: BlockedCommand) -> None: ...

    def record_fill(self, fill: Fill, now_ms: int) -> None: ...

    def record_recovered_fill(self, fill: Fill, now_ms: int) -> bool: ...

    def record_epoch(self, epoch_s: int, now_ms: int) -> None: ...

    def record_user_event(self, ev: OrderUpdate | AccountUpdate, now_ms: int) -> None: ...

    def open_order_ids(self) -> dict[str, str]: ...

    def batch(self) -> contextlib.AbstractContextManager[None]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Feed(Protocol):
    """A market or user-data stream."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Reconciliation(Protocol):
    """The reconciliation loop (`grinder.live.reconcile_loop`): started, stopped, asked for a pass."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    def request(self, why: str) -> None: ...


class Lease(Protocol):
    """The HA leader lease: `role` is "leader", "follower" or "standalone"."""

    @property
    def role(self) -> str: ...

    def write_permit(self) -> str | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class EngineParts:
    """Everything the engine drives, built by `grinder.live.wiring` (or a test / benchmark)."""

    config: EngineConfig
    rules: Mapping[str, SymbolRules]
    port: ExchangePort
    connector: LiveConnectorV0
    pipeline: TradingPipeline
    journal: Journal
    market_feed: Feed
    user_feed: Feed
    market_connected: Callable[[], bool]
    user_connected: Callable[[], bool]
    lease: Lease | None = None
    want_armed: bool = False
    recovery: startup.FillRecovery | None = None  # journals fills missed while we were down
    trip_store: Store | None = None  # where the loss-limit trip state is journaled (ADR-102)
    exchange_block: Callable[[], str | None] | None = None  # why the exchange refuses us now (418/429)
    poll_user_events: Callable[[], None] | None = None  # PAPER: deliver the venue's order/account events
    on_close: Sequence[Callable[[], Awaitable[None] | None]] = field(default_factory=tuple)


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


class LiveEngine:
    """Runs the parts until `stop()`; see the module docstring for the data flow."""

    def __init__(self, parts: EngineParts, *, clock: Clock | None = None) -> None:
        self.parts = parts
        self.config = parts.config
        self.clock: Clock = clock or WallClock()
        self.views = {s: SymbolView(s, parts.rules[s]) for s in parts.config.symbols}
        self.tick_to_order = LatencyWindow()  # every command caused by a market message
        self.tick_to_first_order = LatencyWindow()  # per message: its first request written
        self.tick_to_all_orders = LatencyWindow()  # per message: its last request written
        self.decision = LatencyWindow()  # pipeline compute for an event that produced commands
        self._latency_children: dict[str, tuple[Any, Any, Any]] = {}
        self.order_roundtrip = LatencyWindow()
        self.counts = OrderCounts()
        self.recent_fills: deque[dict[str, Any]] = deque(maxlen=50)
        self.kill_switch = False
        self.started_mono = self.clock.monotonic_ns()
        self.trace_latency = False  # True when the REST session reports request-write times
        # Set by the wiring: asks the market stream to let the loop run before its next frame.
        self.yield_market: Callable[[], None] | None = None
        # Once started: collect, then `gc.freeze()` the start-up heap (rules, modules, clients) so
        # the collector's older generations stop re-scanning it on the trading path (a full
        # collection of it took ~40 ms, a gen-1 one ms). For the engine's own process only.
        self.gc_freeze = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._phase = "created"
        self._stop = asyncio.Event()
        self._quoting = False
        self._role = "standalone" if parts.lease is None else "follower"
        if parts.lease is None:
            HA_IS_LEADER.set(1)  # standalone: the only instance, so the one that may trade (Runbook 07)
        self._resolving: asyncio.Task[None] | None = None
        self._takeover: asyncio.Task[None] | None = None
        self._suspects: set[str] = set()  # client ids to re-check after a user-stream resync
        self._stale: set[str] = set()  # symbols whose quotes were pulled for stale market data
        self._write_block: str | None = None
        self._pending: deque[tuple[MarketEvent, int, int]] = deque()  # (event, recv ns, recv ms)
        self._drain_scheduled = False
        self._hold = False  # order sends decided but not yet started: queue market events meanwhile
        self._can_write = False  # refreshed by `_writable()` at start-up and every housekeeping pass
        self.has_account = True  # False: no API key, market data only (no user stream, no account reads)
        self.reconcile: Reconciliation | None = None  # set by the wiring when there is an account
        self.begin_term: Callable[[], Awaitable[int]] | None = None  # HA: new id epoch per term
        self.trip = TripKeeper(parts.pipeline.guard, parts.trip_store)
        self.flattener: Flattener | None = None
        self.deadman: DeadMansSwitch | None = None
        self._jobs: list[asyncio.Task[None]] = []
        self._flatten_task: asyncio.Task[None] | None = None
        self.exit_code = shutdown.EXIT_OK
        # Started to trade (armed, PAPER / LIVE_TRADE): its shutdown must account for our orders.
        self.configured_to_trade = parts.want_armed and parts.connector.config.mode is not SafeMode.READ_ONLY
        for sym in parts.config.symbols:
            metrics.POSITION_QTY.labels(sym).set(0)
            metrics.WORKING_ORDERS.labels(sym).set(0)

    # ================================================================ lifecycle
    async def start(self) -> None:
        """Start-up: HA role, user stream, exchange state, leftover orders, market streams, quoting."""
        p = self.parts
        self._phase = "starting"
        if p.lease is not None:  # started by the wiring (the connector's arming depends on it)
            self._role = p.lease.role
        self._apply_role()
        if self.has_account:
            await startup.check_position_mode(p.port, p.connector.config.position_mode)
        self.trip.restore()
        if p.recovery is not None:
            p.recovery.mark()  # before the user stream journals any new fill
        if self.has_account:
            await p.user_feed.start()
        if self.begin_term is not None and self._role == "leader":
            await self.begin_term()  # a fresh client-id epoch for this leadership term (ADR-114)
        await startup.sync_with_exchange(self)
        await p.market_feed.start()
        self._writable()
        if self.gc_freeze:
            gc.collect()
            gc.freeze()
        self._start_jobs()
        self._quoting = loss_tripped(p.pipeline.guard) is None
        self._phase = "running"
        if self.reconcile is not None:
            self.reconcile.start()  # its first pass runs now
        cfg = p.connector.config
        log.info("engine started symbols=%s mode=%s armed=%s role=%s", ",".join(self.config.symbols),
                 cfg.mode.value, cfg.armed, self._role)

    async def run(self) -> int:
        """Start, serve until `stop()`, shut down gracefully; returns the exit code."""
        try:
            await self.start()
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=0.25)
                self.housekeeping()
        finally:
            await self.shutdown()
        return self.exit_code

    def stop(self) -> None:
        self._stop.set()

    def _mono_s(self) -> float:
        return self.clock.monotonic_ns() / 1e9

    async def shutdown(self) -> None:
        """Stop quoting and jobs, cancel our orders and confirm by query (`grinder.live.shutdown`),
        stop streams, flush the journal. Sets `exit_code` (3 when orders of ours are left open)."""
        if self._phase in ("stopping", "stopped"):
            return
        started = self._phase == "running"
        self._phase = "stopping"
        p = self.parts
        self._quoting = False
        deadline = self._mono_s() + self.config.shutdown_timeout_s
        if self.reconcile is not None:
            await self.reconcile.stop()
        for task in (*self._jobs, self._resolving, self._takeover):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await p.market_feed.stop()
        await self._drain_inflight(deadline)
        report = None
        if started:
            report = await shutdown.stop_orders(self, deadline)
            await asyncio.sleep(0.2)  # let the user stream deliver the last fills and cancels
        self._journal_blocked()
        if self.has_account:
            await p.user_feed.stop()
            if p.recovery is not None:
                # Fills that raced the stream's close are in the exchange's trade list: journal them too.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(p.recovery.recover(self.clock.now_ms()), 5.0)
        if started:
            self.trip.persist(self.clock.now_ms())
            with contextlib.suppress(Exception):
                self.exit_code = await shutdown.report_leftovers(self, report)
        if p.lease is not None:
            await p.lease.stop()
        p.journal.flush()
        p.journal.close()
        for close in p.on_close:
            result = close()
            if result is not None:
                await result
        self._phase = "stopped"
        metrics.ENGINE_READY.set(0)
        log.info("engine stopped orders=%s exit_code=%d", self.counts.as_dict(), self.exit_code)

    # ============================================== hooks for the job modules (control, trip, startup)
    def mono_s(self) -> float:
        return self._mono_s()

    @property
    def role(self) -> str:
        return self._role

    @property
    def write_block(self) -> str | None:
        return self._write_block

    def writable(self) -> bool:
        return self._writable()

    def apply_role(self) -> None:
        self._apply_role()

    def apply_result(self, res: CommandResult) -> None:
        self._apply_result(res)

    def count(self, kind: str, res: CommandResult) -> None:
        self._count(kind, res)

    def dispatch(self, cmds: Sequence[Command]) -> None:
        self._dispatch(cmds, None)

    def recorder(self) -> control.EngineRecorder:
        return control.EngineRecorder(self)

    def pause_quoting(self) -> None:
        self._quoting = False

    def resume_quoting(self) -> None:
        tripped = loss_tripped(self.parts.pipeline.guard) is not None
        if self._phase == "running" and not self.kill_switch and not tripped:
            self._quoting = True

    async def drain_inflight(self, deadline: float) -> None:
        await self._drain_inflight(deadline)

    def _start_jobs(self) -> None:
        """Background jobs: the dead-man's switch heartbeat (LIVE_TRADE with an account)."""
        cfg = self.config
        if cfg.deadman_countdown_s > 0 and self.has_account and self.parts.port.name != "paper":
            self.deadman = DeadMansSwitch(self.parts.connector, cfg.symbols, cfg.deadman_countdown_s,
                                          cfg.deadman_interval_s)
            self._jobs.append(asyncio.get_running_loop().create_task(self.deadman.run()))

    def _watch_trip(self) -> None:
        """A DAILY_LOSS / DRAWDOWN trip: stop quoting, cancel our orders, flatten (when configured)."""
        now_ms = self.clock.now_ms()
        self.trip.persist(now_ms)
        guard = self.parts.pipeline.guard
        reason = loss_tripped(guard)
        if reason is None or self.flattener is not None or self._phase != "running":
            return
        log.error("loss limit tripped reason=%s: quoting stopped, cancelling our orders%s", reason,
                  ", flattening" if guard.config.flatten_on_trip else "")
        self._quoting = False
        self.trip.persist(now_ms, note=f"trip {reason}", force=True)
        self._dispatch(self.parts.pipeline.cancel_all(now_ms), None)
        self.flattener = Flattener(self, guard.config, self.parts.pipeline.orders.ids)
        if guard.config.flatten_on_trip and self.has_account:
            self._flatten_task = asyncio.get_running_loop().create_task(self.flattener.run())
            self._jobs.append(self._flatten_task)

    def stop_flatten(self) -> None:
        self.flattener = None
        if self._flatten_task is not None:
            self._flatten_task.cancel()
            self._flatten_task = None

    async def _drain_inflight(self, deadline: float) -> None:
        while self._inflight:
            remaining = deadline - self._mono_s()
            if remaining <= 0:
                log.warning("shutdown timeout: %d commands still in flight", len(self._inflight))
                return
            await asyncio.wait(set(self._inflight), timeout=remaining)

    def _writable(self) -> bool:
        """Quote only while the connector could send a write; otherwise observe (no blocked-order churn)."""
        block = self.parts.connector.check_gates("place_order")
        reason = None if block is None else block.reason
        if reason != self._write_block:
            if reason is None:
                log.info("quoting resumed: connector gates pass")
            else:
                log.warning("quoting paused reason=%s (market data still processed)", reason)
            self._write_block = reason
        self._can_write = block is None
        return self._can_write

    async def _take_over(self) -> None:
        """New leader: cancel (or adopt) orders left by the previous one, re-read positions, then quote."""
        # Working orders from an earlier term of ours are stale: the leader since then may have
        # cancelled, filled or adopted them. The exchange's list (read next) is the truth.
        orders = self.parts.pipeline.orders
        for wo in orders.working_orders():
            orders.resolve(wo.client_order_id, None)
        delay_s = 0.5
        while True:  # quoting waits for a complete sync; a failed one is retried while we lead
            try:
                if self.begin_term is not None:
                    await self.begin_term()
                await startup.sync_with_exchange(self)
                break
            except Exception as exc:
                log.warning("takeover sync with the exchange failed (%s: %s); retrying in %.1fs",
                            type(exc).__name__, exc, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 10.0)
            if self._role != "leader" or self._phase != "running":
                return
        self.request_reconcile("takeover")
        self.resume_quoting()
        if self._quoting:
            log.info("takeover complete: quoting as leader")

    # ================================================================= events
    def on_market_event(self, ev: MarketEvent) -> None:
        """The market feed's callback: every decoded event, as soon as it arrives.

        An event is decided at once unless order requests just decided are still waiting for
        their first run: then it is queued, and the queue is decided right after those requests
        are written, so a burst of market frames cannot delay an order that is already decided.
        Every event still reaches the pipeline, in arrival order.
        """
        recv = self.clock.monotonic_ns()
        now_ms = self.clock.now_ms()
        if isinstance(ev, BookTicker):
            view = self.views.get(ev.symbol)
            if view is not None:
                view.on_book(ev.bid_ticks, ev.ask_ticks, now_ms)
        if not self._quoting or not self._can_write:
            return
        if self._pending or self._hold:
            self._pending.append((ev, recv, now_ms))
            self._schedule_decisions()
            return
        self._decide(ev, recv, now_ms)

    def _decide(self, ev: MarketEvent, recv: int, now_ms: int) -> None:
        start = self.clock.monotonic_ns()
        try:
            cmds = self.parts.pipeline.on_market_event(ev, now_ms)
        except Exception:
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("market").inc()
            log.exception("market event skipped: pipeline failed symbol=%s", ev.symbol)
            return
        if cmds:
            self.decision.add(self.clock.monotonic_ns() - start)
            self._dispatch(cmds, TickOrders(recv, ev.symbol, len(cmds)))
            # The send tasks were just scheduled; this callback runs after their first step.
            self._hold = True
            asyncio.get_running_loop().call_soon(self._release_hold)
            if self.yield_market is not None:
                self.yield_market()  # the stream must not decode its next buffered frame first

    def _release_hold(self) -> None:
        self._hold = False
        if self._pending:
            self._schedule_decisions()

    def _schedule_decisions(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._decide_pending)

    def _decide_pending(self) -> None:
        self._drain_scheduled = False
        pending = self._pending
        while pending:
            if not self._quoting or not self._can_write:
                pending.clear()
                return
            if self._hold and len(pending) < MAX_DEFERRED_EVENTS:
                return  # `_release_hold` resumes once the new requests are written
            # (A longer backlog means we are behind the market: decide it all now, so it cannot grow.)
            ev, recv, now_ms = pending.popleft()
            self._decide(ev, recv, now_ms)

    def on_user_event(self, ev: object) -> None:
        """The user-data stream's callback: order updates, account updates, resyncs."""
        if isinstance(ev, UserStreamResynced):
            # Orders we think are open but the exchange did not list may have ended during the gap.
            listed = {o.clientOrderId for o in ev.open_orders}
            self._suspects.update(
                wo.client_order_id for wo in self.parts.pipeline.working_orders()
                if wo.state is WorkingState.OPEN and wo.client_order_id not in listed
            )
            self._schedule_resolve("user_stream_resync")
            self.request_reconcile("user_stream_resync")
            return
        if not isinstance(ev, OrderUpdate | AccountUpdate):
            return
        now_ms = self.clock.now_ms()
        try:
            self.parts.journal.record_user_event(ev, now_ms)
        except Exception:
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("journal").inc()
            log.exception("journal write of a user event failed (the exchange keeps the truth)")
        try:
            fill = self.parts.pipeline.on_user_event(ev)
        except Exception:
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("user").inc()
            log.exception("user event not applied by the pipeline: %s", type(ev).__name__)
            return
        if fill is not None:
            self._on_fill(fill, now_ms)
        if isinstance(ev, AccountUpdate):
            for pos in ev.positions:
                view = self.views.get(pos.symbol)
                if view is not None:
                    metrics.POSITION_QTY.labels(pos.symbol).set(float(view.rules.lots_to_qty(pos.amount_lots)))

    def _on_fill(self, fill: Fill, now_ms: int) -> None:
        try:
            self.parts.journal.record_fill(fill, now_ms)
        except Exception:
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("journal").inc()
            log.exception("journal write of a fill failed trade_id=%s", fill.trade_id)
        view = self.views.get(fill.symbol)
        if view is None or not view.on_fill(fill):
            return
        metrics.FILLS_TOTAL.labels(fill.symbol, fill.side.value).inc()
        metrics.POSITION_QTY.labels(fill.symbol).set(float(view.position_qty))
        rec = view.fills[-1]
        self.recent_fills.append({
            "time": time.strftime("%H:%M:%S", time.gmtime(fill.time_ms / 1000)), "symbol": fill.symbol,
            "side": rec.side, "price": str(rec.price), "qty": str(rec.qty), "is_maker": rec.is_maker,
        })
        log.info("fill symbol=%s side=%s price=%s qty=%s order_id=%s trade_id=%s", fill.symbol, rec.side,
                 rec.price, rec.qty, fill.client_order_id, fill.trade_id)

    # =============================================================== commands
    def _dispatch(self, cmds: Sequence[Command], tick: TickOrders | None) -> None:
        """Journal the commands (one transaction), then start one send task per command."""
        if not cmds:
            self._journal_blocked()
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
                    self._order_not_written(tick)
                self._apply_result(CommandResult(cmd, Outcome.BLOCKED, reason="journal_write_failed"))
            return
        # One task per command, all started now: their first steps run back to back in the next
        # loop iteration (the market stream yields first, see `_decide`), each writing its request
        # unless it must wait (for a connection, the rate budget); they then await their answers
        # concurrently. The order manager already allows one command in flight per grid level.
        inflight = self._inflight
        for cmd in cmds:
            task = loop.create_task(self._submit(cmd, tick))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
        self._journal_blocked()

    async def _submit(self, cmd: Command, tick: TickOrders | None) -> None:
        sent = self.clock.monotonic_ns()
        if tick is not None:
            if self.trace_latency:
                TICK_ORDERS.set(tick)  # the request-write hook stamps it (`order_written`)
            else:
                self.order_written(tick, sent)
        try:
            res = await self.parts.connector.submit(cmd)
        except Exception as exc:  # a port must not raise; if it does, the outcome is unknown
            metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("submit").inc()
            log.exception("connector raised on submit order_id=%s", cmd.client_order_id)
            res = CommandResult(cmd, Outcome.UNKNOWN, reason=f"connector raised {type(exc).__name__}")
        if tick is not None and TICK_ORDERS.get() is tick:
            TICK_ORDERS.set(None)
            self._order_not_written(tick)  # refused before the socket (gate, limit, rate budget)
        kind = command_kind(cmd)
        rtt = self.clock.monotonic_ns() - sent
        if res.outcome is not Outcome.BLOCKED:
            self.order_roundtrip.add(rtt)
            metrics.ORDER_ROUNDTRIP_SECONDS.labels(kind, res.outcome.value).observe(rtt / 1e9)
        metrics.COMMANDS_TOTAL.labels(kind, res.outcome.value).inc()
        self._count(kind, res)
        self._apply_result(res)
        if self.parts.poll_user_events is not None:
            self.parts.poll_user_events()

    def _latency_metrics(self, symbol: str) -> tuple[Any, Any, Any]:
        children = self._latency_children.get(symbol)
        if children is None:
            children = self._latency_children[symbol] = (
                metrics.TICK_TO_ORDER_SECONDS.labels(symbol),
                metrics.TICK_TO_FIRST_ORDER_SECONDS.labels(symbol),
                metrics.TICK_TO_ALL_ORDERS_SECONDS.labels(symbol),
            )
        return children

    def order_written(self, tick: TickOrders, now_ns: int) -> None:
        """A request caused by `tick` reached the socket (headers written) at `now_ns`."""
        ns = now_ns - tick.recv_ns
        every, first, last = self._latency_metrics(tick.symbol)
        self.tick_to_order.add(ns)
        every.observe(ns / 1e9)
        if not tick.first_ns:
            tick.first_ns = now_ns
            self.tick_to_first_order.add(ns)
            first.observe(ns / 1e9)
        tick.last_ns = now_ns
        tick.left -= 1
        if tick.left == 0:
            self.tick_to_all_orders.add(ns)
            last.observe(ns / 1e9)

    def _order_not_written(self, tick: TickOrders) -> None:
        tick.left -= 1
        if tick.left == 0 and tick.last_ns:
            ns = tick.last_ns - tick.recv_ns
            self.tick_to_all_orders.add(ns)
            self._latency_metrics(tick.symbol)[2].observe(ns / 1e9)

    def _apply_result(self, res: CommandResult) -> None:
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
            self._schedule_resolve("unknown_outcome")
            self.request_reconcile("unknown_outcome")

    def _journal_blocked(self) -> None:
        for blocked in self.parts.pipeline.take_blocked():
            metrics.COMMANDS_BLOCKED_TOTAL.labels(blocked.reason.split(":")[0][:48] or "unspecified").inc()
            try:
                self.parts.journal.record_blocked(blocked)
            except Exception:
                metrics.ENGINE_EVENT_ERRORS_TOTAL.labels("journal").inc()
                log.exception("journal write of a blocked command failed")

    def _count(self, kind: str, res: CommandResult) -> None:
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
            metrics.COMMANDS_BLOCKED_TOTAL.labels(res.reason.split(":")[0][:48] or "unspecified").inc()
        else:
            c.unknown += 1

    # ============================================================ resolution
    def _schedule_resolve(self, why: str) -> None:
        if self._resolving is None or self._resolving.done():
            self._resolving = asyncio.get_running_loop().create_task(self._resolve_orders(why))

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

    # ========================================================= reconciliation
    @property
    def may_reconcile(self) -> bool:
        """Leader or standalone, running, and not in the middle of a takeover."""
        taking_over = self._takeover is not None and not self._takeover.done()
        return self._role in ("leader", "standalone") and self._phase == "running" and not taking_over

    def request_reconcile(self, why: str) -> None:
        if self.reconcile is not None and self._phase == "running":
            self.reconcile.request(why)

    def recheck_orders(self, client_order_ids: Sequence[str], why: str) -> None:
        """Query these working orders by id (reconciliation found them missing on the exchange)."""
        self._suspects.update(client_order_ids)
        self._schedule_resolve(why)

    def apply_recovered_fill(self, fill: Fill) -> bool:
        """A fill of ours the user stream never delivered: journal it and book it (once, by trade id)."""
        if not self.parts.journal.record_recovered_fill(fill, self.clock.now_ms()):
            return False
        pipeline = self.parts.pipeline
        pipeline.seed_fill_keys([(fill.symbol, fill.trade_id, fill.client_order_id)])
        view = self.views.get(fill.symbol)
        if view is not None and view.on_fill(fill):
            pipeline.set_position(fill.symbol, pipeline.position_lots(fill.symbol)
                                  + fill.side.sign * fill.qty_lots)
            metrics.POSITION_QTY.labels(fill.symbol).set(float(view.position_qty))
        log.warning("fill recovered by reconciliation symbol=%s trade_id=%s order_id=%s", fill.symbol,
                    fill.trade_id, fill.client_order_id)
        return True

    def adopt_position(self, symbol: str, amount_lots: int, entry_price: Decimal | None) -> None:
        """The exchange's position differs from ours after reconciliation: it is the truth."""
        view = self.views.get(symbol)
        if view is None:
            return
        log.warning("position adopted from the exchange symbol=%s ours=%d exchange=%d", symbol,
                    self.parts.pipeline.position_lots(symbol), amount_lots)
        view.set_position(amount_lots, entry_price if entry_price is not None else view.avg_entry)
        self.parts.pipeline.set_position(symbol, amount_lots)
        metrics.POSITION_QTY.labels(symbol).set(float(view.position_qty))

    # ================================================================== roles
    def _apply_role(self) -> None:
        """Only the leader (or a standalone engine) may be armed."""
        cfg = self.parts.connector.config
        may_arm = self._role in ("leader", "standalone") and not self.kill_switch
        target = self.parts.want_armed and may_arm
        if cfg.armed != target:
            cfg.armed = target
        metrics.ENGINE_ARMED.set(1 if cfg.armed else 0)
        for mode in SafeMode:
            metrics.ENGINE_TRADING_MODE.labels(mode.value).set(1 if cfg.mode is mode else 0)
        self._writable()  # gates read the environment and parse URLs: per pass / change, not per tick

    def _pull_quotes_on_stale_feeds(self, now_ms: int) -> None:
        """Quotes resting on prices we no longer see get picked off: cancel a stale symbol's orders.

        The next market event of that symbol re-plans the grid (the pipeline marks it dirty).
        """
        if not self._quoting or not self._can_write:
            return
        limit_ms = self.config.stale_feed_s * 1000
        for sym, view in self.views.items():
            stale = view.last_tick_ms > 0 and now_ms - view.last_tick_ms > limit_ms
            if not stale:
                self._stale.discard(sym)
                continue
            if sym in self._stale:
                continue
            self._stale.add(sym)
            cmds = self.parts.pipeline.cancel_all(now_ms, sym)
            log.warning("market data for %s stale (%.1fs): cancelling our %d orders", sym,
                        (now_ms - view.last_tick_ms) / 1000, len(cmds))
            self._dispatch(cmds, None)

    def housekeeping(self) -> None:
        """Periodic: HA role changes, unknown orders, feed ages, per-symbol gauges and series."""
        lease = self.parts.lease
        if lease is not None and lease.role != self._role:
            log.warning("ha role changed from=%s to=%s", self._role, lease.role)
            promoted = lease.role == "leader"
            self._role = lease.role
            if promoted and self._phase == "running":
                # The previous leader may have died with orders on the book: take over cleanly first.
                self._quoting = False
                self._takeover = asyncio.get_running_loop().create_task(self._take_over())
        self._apply_role()
        if self.parts.poll_user_events is not None:
            self.parts.poll_user_events()
        self.parts.pipeline.take_fills()  # fills reach us from on_user_event; keep its buffer empty
        if self.parts.pipeline.orders.unknown_orders():
            self._schedule_resolve("periodic")
        self._journal_blocked()
        now_ms = self.clock.now_ms()
        self._pull_quotes_on_stale_feeds(now_ms)
        for sym, view in self.views.items():
            working = self.parts.pipeline.working_orders(sym)
            bids = (o.price_ticks for o in working if o.side.sign > 0)
            view.working_bids = tuple(sorted(bids, reverse=True))
            view.working_asks = tuple(sorted(o.price_ticks for o in working if o.side.sign < 0))
            view.working_orders = len(working)
            metrics.WORKING_ORDERS.labels(sym).set(view.working_orders)
            if view.last_tick_ms:
                metrics.FEED_AGE_SECONDS.labels(sym).set(max(0.0, (now_ms - view.last_tick_ms) / 1000))
            metrics.REALIZED_PNL.labels(sym).set(float(view.realized_pnl - view.fees))
            metrics.UNREALIZED_PNL.labels(sym).set(float(view.unrealized_pnl()))
            mid = view.mid
            if mid is not None:
                metrics.POSITION_NOTIONAL.labels(sym).set(float(mid * view.position_qty))
            view.sample(now_ms)
        self._watch_trip()
        metrics.ENGINE_READY.set(1 if self.readiness().ready else 0)

    # ============================================================= ops hooks
    def readiness(self) -> Readiness:
        reasons: list[str] = []
        if self._phase != "running":
            reasons.append(f"engine {self._phase}")
        now_ms = self.clock.now_ms()
        for sym, view in self.views.items():
            if not view.last_tick_ms:
                reasons.append(f"no market data yet for {sym}")
            elif now_ms - view.last_tick_ms > self.config.stale_feed_s * 1000:
                reasons.append(f"market data for {sym} stale ({(now_ms - view.last_tick_ms) / 1000:.1f}s)")
        if not self.parts.market_connected():
            reasons.append("market stream disconnected")
        if self.has_account and not self.parts.user_connected():
            reasons.append("user-data stream disconnected or silent (no event or pong in its liveness time)")
        if self._write_block is not None and self.parts.want_armed:
            reasons.append(f"writes blocked ({self._write_block})")
        cfg = self.parts.connector.config
        if self.parts.want_armed and not cfg.armed:
            reasons.append("follower: only the leader is armed" if self._role == "follower" else "disarmed")
        elif not self.parts.want_armed:
            reasons.append(f"not configured to trade (mode={cfg.mode.value} armed={cfg.armed})")
        if self.kill_switch:
            reasons.append("kill switch engaged")
        tripped = loss_tripped(self.parts.pipeline.guard)
        if tripped is not None:
            reasons.append(f"loss limit tripped ({tripped}): reset with POST /control/reset-trip")
        blocked = self.parts.exchange_block() if self.parts.exchange_block is not None else None
        if blocked is not None:
            reasons.append(blocked)
        return Readiness(role=self._role, ready=not reasons, reasons=tuple(reasons))

    def status(self) -> dict[str, Any]:
        cfg = self.parts.connector.config
        ready = self.readiness()
        now_ms = self.clock.now_ms()
        port = self.parts.port
        feed: dict[str, Any] = {
            s: {"age_s": None if not v.last_tick_ms else round((now_ms - v.last_tick_ms) / 1000, 3),
                "ticks": v.ticks}
            for s, v in self.views.items()
        }
        return {
            "mode": cfg.mode.value,
            "armed": cfg.armed,
            "role": ready.role,
            "ready": ready.ready,
            "reasons": list(ready.reasons),
            "phase": self._phase,
            "quoting": self._quoting and self._write_block is None,
            "write_block": self._write_block,
            "kill_switch": self.kill_switch,
            "uptime_s": round((self.clock.monotonic_ns() - self.started_mono) / 1e9, 3),
            "exchange": port.base_url,
            "gates": {
                "armed": cfg.armed,
                "mode_live_trade": cfg.mode is SafeMode.LIVE_TRADE,
                "mainnet_ok": not port.is_mainnet or env_flag(os.environ, "ALLOW_MAINNET_TRADE"),
                "futures_port": cfg.futures_port is not None,
            },
            "streams": {"market": self.parts.market_connected(), "user": self.parts.user_connected()},
            "symbols": {s: v.as_dict() for s, v in self.views.items()},
            "feed": feed,
            "orders": self.counts.as_dict(),
            "inflight": len(self._inflight),
            "latency": {"tick_to_order": self.tick_to_order.as_dict(),
                        "tick_to_first_order": self.tick_to_first_order.as_dict(),
                        "tick_to_all_orders": self.tick_to_all_orders.as_dict(),
                        "decision": self.decision.as_dict(),
                        "order_roundtrip": self.order_roundtrip.as_dict()},
            "recent_fills": list(self.recent_fills)[-10:],
            "pipeline": self.parts.pipeline.status(),
            "flatten": None if self.flattener is None else self.flattener.status(),
            "deadman": None if self.deadman is None else {"countdown_ms": self.deadman.countdown_ms,
                                                          "refreshes": self.deadman.refreshes},
        }

    async def disarm(self, reason: str) -> Mapping[str, Any]:
        return await control.disarm(self, reason)

    async def engage_kill_switch(self, reason: str) -> Mapping[str, Any]:
        """Stop quoting, cancel our working orders, then disarm (latched until restart)."""
        return await control.kill_switch(self, reason)


class EngineHooks:
    """Adapter from the engine to the ops server's `OpsHooks` protocol."""

    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine

    def readiness(self) -> Readiness:
        return self.engine.readiness()

    def status(self) -> Mapping[str, Any]:
        return self.engine.status()

    async def disarm(self, reason: str) -> Mapping[str, Any]:
        return await self.engine.disarm(reason)

    async def kill_switch(self, reason: str) -> Mapping[str, Any]:
        return await self.engine.engage_kill_switch(reason)

    async def cancel_all(self, reason: str) -> Mapping[str, Any]:
        return await control.cancel_all(self.engine, reason)

    async def reset_trip(self, reason: str) -> Mapping[str, Any]:
        return await control.reset_trip(self.engine, reason)
