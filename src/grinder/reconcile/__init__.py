"""Reconciliation: expected state vs the exchange, typed mismatches, and gated remediation."""

from grinder.reconcile.config import ReconcileConfig
from grinder.reconcile.diff import find_mismatches
from grinder.reconcile.reconciler import Reconciler, ReconcileReport
from grinder.reconcile.remediation import (
    ActionKind,
    ActionOutcome,
    ActionResult,
    RemediationAction,
    execute_remediation,
    plan_remediation,
)
from grinder.reconcile.state import ExpectedOrder, ExpectedState, Mismatch, MismatchKind

__all__ = [
    "ActionKind",
    "ActionOutcome",
    "ActionResult",
    "ExpectedOrder",
    "ExpectedState",
    "Mismatch",
    "MismatchKind",
    "ReconcileConfig",
    "ReconcileReport",
    "Reconciler",
    "RemediationAction",
    "execute_remediation",
    "find_mismatches",
    "plan_remediation",
]
