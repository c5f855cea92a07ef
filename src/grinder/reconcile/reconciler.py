"""`Reconciler`: one pass = read the exchange, compare with what we expect, remediate within limits.

The exchange is the source of truth. A pass reads open orders and positions through the connector
(reads work in every mode), reports every mismatch (log + metrics), and — only when enabled —
sends the planned remediation through the connector's gates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import msgspec

from grinder.connector.live import LiveConnectorV0
from grinder.connector.port import OrderState, PositionState
from grinder.core.clock import Clock, WallClock
from grinder.reconcile import metrics
from grinder.reconcile.config import ReconcileConfig
from grinder.reconcile.diff import find_mismatches
from grinder.reconcile.remediation import ActionResult, execute_remediation, plan_remediation
from grinder.reconcile.state import ExpectedState, Mismatch, MismatchKind

log = logging.getLogger(__name__)


class ReconcileReport(msgspec.Struct, frozen=True):
    at_ms: int
    mismatches: list[Mismatch]
    actions: list[ActionResult]  # sent (done / blocked / failed) and skipped, in plan order

    @property
    def clean(self) -> bool:
        return not self.mismatches


class Reconciler:
    def __init__(
        self, connector: LiveConnectorV0, config: ReconcileConfig | None = None, clock: Clock | None = None
    ) -> None:
        self.connector = connector
        self.config = config or ReconcileConfig()
        self._clock: Clock = clock or WallClock()

    async def run_once(self, expected: ExpectedState | Callable[[], ExpectedState]) -> ReconcileReport:
        """Read the exchange, then compare. A callable `expected` is evaluated AFTER the reads, so an
        order placed while they were in flight is expected, not taken for an orphan."""
        orders = await self.connector.open_orders()
        positions = await self.connector.positions()
        return await self.compare(expected() if callable(expected) else expected, orders, positions)

    async def compare(
        self, expected: ExpectedState, orders: Sequence[OrderState], positions: Sequence[PositionState]
    ) -> ReconcileReport:
        """Compare what we expect with what was read, report, and remediate within the limits."""
        mismatches = find_mismatches(expected, orders, positions, self.config)
        counts = {kind: 0 for kind in MismatchKind}
        for m in mismatches:
            counts[m.kind] += 1
            metrics.MISMATCHES_TOTAL.labels(kind=m.kind.value).inc()
            log.warning("reconcile_mismatch %s", m.describe())
        for kind, n in counts.items():
            metrics.MISMATCHES_CURRENT.labels(kind=kind.value).set(n)
        planned, skipped = plan_remediation(mismatches, positions, self.config)
        done = await execute_remediation(self.connector, planned, self.config)
        for result in skipped:
            metrics.ACTIONS_TOTAL.labels(action=result.action.kind.value, outcome=result.outcome.value).inc()
            log.warning(
                "remediation action=%s symbol=%s order_id=%s outcome=skipped detail=%s",
                result.action.kind.value,
                result.action.symbol,
                result.action.client_order_id or "-",
                result.detail,
            )
        now_ms = self._clock.now_ms()
        metrics.RUNS_TOTAL.inc()
        metrics.LAST_RUN_TS.set(now_ms / 1000)
        log.info(
            "reconcile_done mismatches=%d actions=%d skipped=%d", len(mismatches), len(done), len(skipped)
        )
        return ReconcileReport(now_ms, mismatches, done + skipped)
