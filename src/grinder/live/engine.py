"""The live engine: market streams → TradingPipeline → LiveConnectorV0 → exchange, fills back in.

One process trades one account and any number of symbols. The engine is the thin async shell
around the pure decision code: it owns the tasks, the market and user event paths, the HA role and
the graceful shutdown. Its other jobs live beside it: start-up recovery (`startup`), command
dispatch and outcome resolution (`dispatch`), latency (`latency`), /readyz and /status (`status`),
the /control actions (`control`). Every write goes through the connector, so the Runbook 17 gates
hold for every command.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from grinder.binance.user_stream import UserStreamResynced
from grinder.core.aio import wait_set, within
from grinder.core.clock import Clock, WallClock
from grinder.core.enums import SafeMode
from grinder.core.events import AccountUpdate, BookTicker, Fill, MarketEvent, OrderUpdate
from grinder.execution.order_manager import WorkingState
from grinder.ha.metrics import HA_IS_LEADER
from grinder.live import control, shutdown, startup, status
from grinder.live.deadman import DeadMansSwitch
from grinder.live.dispatch import CommandDispatcher
from grinder.live.latency import LatencyTracker, TickOrders
from grinder.live.parts import EngineParts, Reconciliation
from grinder.live.state import SymbolView
from grinder.live.trip import Flattener, TripKeeper, loss_tripped
from grinder.ops import metrics
from grinder.ops.server import Readiness

log = logging.getLogger(__name__)

MAX_DEFERRED_EVENTS = 64  # market events allowed to wait behind order sends before we catch up inline


class LiveEngine:
    """Runs the parts until `stop()`; see the module docstring for the data flow."""

    def __init__(self, parts: EngineParts, *, clock: Clock | None = None) -> None:
        self.parts = parts
        self.config = parts.config
        self.clock: Clock = clock or WallClock()
        self.views = {s: SymbolView(s, parts.rules[s]) for s in parts.config.symbols}
        self.latency = LatencyTracker()
        self.dispatcher = CommandDispatcher(parts, self.clock, self.latency, self.request_reconcile)
        self.counts = self.dispatcher.counts
        self.recent_fills: deque[dict[str, Any]] = deque(maxlen=50)
        self.kill_switch = False
        self.started_mono = self.clock.monotonic_ns()
        # Set by the wiring: asks the market stream to let the loop run before its next frame.
        self.yield_market: Callable[[], None] | None = None
        # Once started: collect, then `gc.freeze()` the start-up heap (rules, modules, clients) so
        # the collector's older generations stop re-scanning it on the trading path (a full
        # collection of it took ~40 ms, a gen-1 one ms). For the engine's own process only.
        self.gc_freeze = False
        self._phase = "created"
        self._stop = asyncio.Event()
        self._quoting = False
        self._role = "standalone" if parts.lease is None else "follower"
        if parts.lease is None:
            HA_IS_LEADER.set(1)  # standalone: the only instance, so the one that may trade (Runbook 07)
        self._takeover: asyncio.Task[None] | None = None
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
                await wait_set(self._stop, 0.25)
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
        for task in (*self._jobs, self.dispatcher.resolving, self._takeover):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await p.market_feed.stop()
        await self.dispatcher.drain(deadline)
        report = None
        if started:
            report = await shutdown.stop_orders(self, deadline)
            await asyncio.sleep(0.2)  # let the user stream deliver the last fills and cancels
        self.dispatcher.journal_blocked()
        if self.has_account:
            await p.user_feed.stop()
            # Fills that raced the stream's close, or whose frames were lost, are in the exchange's
            # trade list: journal them too (from the reconcile cursor: the newest journaled trade id
            # may sit above a lost one).
            last_look = self.reconcile.recover_fills() if self.reconcile is not None else (
                p.recovery.recover(self.clock.now_ms()) if p.recovery is not None else None)
            if last_look is not None:
                try:
                    await within(last_look, 5.0)
                except Exception as exc:
                    log.warning("shutdown fill recovery failed error=%s: %s (the journal may lack fills "
                                "the exchange lists; the next start recovers them)", type(exc).__name__, exc)
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
    def phase(self) -> str:
        return self._phase

    @property
    def quoting(self) -> bool:
        return self._quoting

    @property
    def write_block(self) -> str | None:
        return self._write_block

    def writable(self) -> bool:
        return self._writable()

    def apply_role(self) -> None:
        self._apply_role()

    def recorder(self) -> control.EngineRecorder:
        return control.EngineRecorder(self)

    def pause_quoting(self) -> None:
        self._quoting = False

    def resume_quoting(self) -> None:
        tripped = loss_tripped(self.parts.pipeline.guard) is not None
        if self._phase == "running" and not self.kill_switch and not tripped:
            self._quoting = True

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
        self.dispatcher.dispatch(self.parts.pipeline.cancel_all(now_ms))
        self.flattener = Flattener(self, guard.config, self.parts.pipeline.orders.ids)
        if guard.config.flatten_on_trip and self.has_account:
            self._flatten_task = asyncio.get_running_loop().create_task(self.flattener.run())
            self._jobs.append(self._flatten_task)

    def stop_flatten(self) -> None:
        self.flattener = None
        if self._flatten_task is not None:
            self._flatten_task.cancel()
            self._flatten_task = None

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
            self.latency.decision.add(self.clock.monotonic_ns() - start)
            self.dispatcher.dispatch(cmds, TickOrders(recv, ev.symbol, len(cmds)))
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
            self.dispatcher.recheck(
                (wo.client_order_id for wo in self.parts.pipeline.working_orders()
                 if wo.state is WorkingState.OPEN and wo.client_order_id not in listed),
                "user_stream_resync",
            )
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
        self.dispatcher.recheck(client_order_ids, why)

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
            self.dispatcher.dispatch(cmds)

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
                self._takeover = asyncio.get_running_loop().create_task(startup.take_over(self))
        self._apply_role()
        if self.parts.poll_user_events is not None:
            self.parts.poll_user_events()
        self.parts.pipeline.take_fills()  # fills reach us from on_user_event; keep its buffer empty
        if self.parts.pipeline.orders.unknown_orders():
            self.dispatcher.schedule_resolve("periodic")
        self.dispatcher.journal_blocked()
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
        return status.readiness(self)

    def status(self) -> dict[str, Any]:
        return status.status(self)
