"""Reconciliation inside the live engine: at start, after a stream reconnect, after an unknown
outcome, after a takeover, and every `[reconcile] interval_s` (Runbooks 11 and 12, ADR-112).

One pass, leader (or standalone) only:
1. fills — `userTrades` since the last trade id we journaled, per symbol; every fill of ours
   (`grinder_` client id) missing from the journal is journaled and applied to the engine;
2. orders and positions — the exchange's open orders and positions against the order manager's
   working orders and the engine's positions (`grinder.reconcile`): an order we expect but the
   exchange does not list is re-checked by query; an open order of ours we do not know is an
   orphan, cancelled when remediation is enabled (alerted otherwise); foreign orders are never
   touched; a position different from ours raises the mismatch metric, is adopted from the
   exchange (the source of truth) and, when `flatten_enabled`, flattened within the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.port import PositionState
from grinder.core.aio import wait_set
from grinder.core.clock import Clock
from grinder.core.ids import is_grinder_order
from grinder.core.rules import SymbolRules
from grinder.live.journal import EngineJournal
from grinder.reconcile import metrics
from grinder.reconcile.config import ReconcileConfig
from grinder.reconcile.reconciler import Reconciler
from grinder.reconcile.state import ExpectedState, MismatchKind

if TYPE_CHECKING:
    from grinder.live.engine import LiveEngine

log = logging.getLogger(__name__)

TRADES_PAGE = 1000  # userTrades limit per request (Binance maximum)
START_LOOKBACK_MS = 2_000  # an empty journal looks this far before the engine started


class ReconcileLoop:
    """Runs reconciliation passes for one engine; `request(why)` asks for a pass soon."""

    def __init__(
        self, engine: LiveEngine, port: BinanceFuturesPort, journal: EngineJournal, config: ReconcileConfig
    ) -> None:
        """`port` and `journal` are the engine's own; the symbols and the clock are read from it too."""
        self.engine = engine
        self.port = port
        self.journal = journal
        self.config = config
        self.rules: Mapping[str, SymbolRules] = engine.parts.rules
        self.clock: Clock = engine.clock
        self.reconciler = Reconciler(engine.parts.connector, config, engine.clock)
        self.passes = 0
        self.last_report: dict[str, object] = {}
        self._wake = asyncio.Event()
        self._reasons: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._started_ms = engine.clock.now_ms()
        self._last_trade_id: dict[str, int] = {}
        self._last_diffs: dict[str, int] = {}  # symbol → exchange − ours (lots) seen by the last pass
        self._lock = asyncio.Lock()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Begin: a first pass now, then one per interval and per request."""
        for sym in self.rules:
            last = self.journal.store.last_trade_id(sym)
            if last is not None:
                self._last_trade_id[sym] = last
        self.request("start")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reconcile-loop")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def recover_fills(self) -> int:
        """Journal our fills the exchange lists that the journal lacks, from this loop's cursor.

        The cursor only advances over pages the exchange listed, never over a fill the user stream
        journaled out of order, so a frame lost before a later one is still found (shutdown's last
        look: `LiveEngine.shutdown`)."""
        async with self._lock:
            return await self._recover_fills()

    def request(self, why: str) -> None:
        self._reasons.add(why)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await wait_set(self._wake, self.config.interval_s)
            self._wake.clear()
            reasons, self._reasons = self._reasons or {"interval"}, set()
            why = ",".join(sorted(reasons))
            try:
                await self.run_once(why)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next pass re-reads everything
                metrics.FAILED_TOTAL.inc()
                log.warning("reconcile_failed why=%s error=%s: %s", why, type(exc).__name__, exc)

    # ----------------------------------------------------------------- one pass
    async def run_once(self, why: str) -> dict[str, object]:
        """One pass (see the module docstring); returns what it found and did."""
        engine = self.engine
        if not engine.may_reconcile:
            return {}  # the leader reconciles (after its takeover); a follower's view does not trade
        async with self._lock:
            for reason in why.split(","):
                metrics.TRIGGERS_TOTAL.labels(why=reason).inc()
            recovered = await self._recover_fills()
            fills_seen = sum(v.fill_count for v in engine.views.values())
            port = engine.parts.connector
            symbols = set(self.rules)
            before = self._expected()  # orders placed or ended while we read are not held to the lists
            positions = [p for p in await port.positions() if p.symbol in symbols]
            orders = [o for sym in sorted(symbols) for o in await port.open_orders(sym)]  # weight 1 each
            if not engine.may_reconcile:
                return {}  # leadership changed while we read: this pass's view is not ours to act on
            expected = ExpectedState.across_read(before, self._expected())
            report = await self.reconciler.compare(expected, orders, positions)
            recheck: list[str] = []
            adopted: dict[str, int] = {}
            # A fill in flight on the stream at the read shows as a difference for one pass; a
            # difference that is still exactly the same one pass later (and no fill was booked while
            # we read) is an offset: a fill counted twice or never. The exchange is the truth.
            quiet = fills_seen == sum(v.fill_count for v in engine.views.values())
            diffs: dict[str, int] = {}
            for m in report.mismatches:
                if m.kind is MismatchKind.ORDER_MISSING_ON_EXCHANGE:
                    recheck.append(m.client_order_id)
                elif m.kind is MismatchKind.POSITION_MISMATCH and m.observed is not None:
                    diff = diffs[m.symbol] = m.observed - (m.expected or 0)
                    if quiet and self._last_diffs.get(m.symbol) == diff:
                        adopted[m.symbol] = engine.parts.pipeline.position_lots(m.symbol) + diff
            self._last_diffs = {sym: d for sym, d in diffs.items() if sym not in adopted}
            if recheck:
                engine.recheck_orders(recheck, "reconcile")
            for sym, lots in adopted.items():
                engine.adopt_position(sym, lots, _entry_price(positions, sym))
            orphans = [m.client_order_id for m in report.mismatches
                       if m.kind is MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE and m.ours]
            self.passes += 1
            self.last_report = {
                "why": why, "at_ms": report.at_ms, "fills_recovered": recovered,
                "mismatches": len(report.mismatches), "orphans": orphans,
                "positions_adopted": {s: n for s, n in adopted.items()},
                "actions": [f"{a.action.kind.value}:{a.outcome.value}" for a in report.actions],
            }
            log.info("reconcile_pass why=%s fills_recovered=%d mismatches=%d orphans=%d adopted=%s", why,
                     recovered, len(report.mismatches), len(orphans), adopted or "-")
            return self.last_report

    def _expected(self) -> ExpectedState:
        pipeline = self.engine.parts.pipeline
        positions = {sym: pipeline.position_lots(sym) for sym in self.rules}
        return ExpectedState.from_working_orders(pipeline.working_orders(), positions)

    # ----------------------------------------------------------------- fills
    async def _recover_fills(self) -> int:
        """Journal and apply our fills the exchange lists after the last trade id we know."""
        added = 0
        store = self.journal.store
        since_ms = self._started_ms - START_LOOKBACK_MS  # only while nothing of a symbol is journaled
        for sym in self.rules:
            after = self._last_trade_id.get(sym)
            while True:
                page = await self.port.fills_after(sym, after, since_ms, TRADES_PAGE)
                for fill in page:
                    if not is_grinder_order(fill.client_order_id) or store.has_trade(sym, fill.trade_id):
                        continue
                    added += int(self.engine.apply_recovered_fill(fill))
                if page:
                    after = self._last_trade_id[sym] = max(f.trade_id for f in page)
                if len(page) < TRADES_PAGE:
                    break
        if added:
            metrics.FILLS_RECOVERED_TOTAL.inc(added)
            log.warning("reconcile_fills_recovered count=%d (missed by the user stream)", added)
        return added


def _entry_price(positions: list[PositionState], symbol: str) -> Decimal | None:
    for p in positions:
        if p.symbol == symbol:
            return p.entry_price
    return None
