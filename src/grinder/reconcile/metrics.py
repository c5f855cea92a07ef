"""Prometheus metrics of reconciliation and remediation (module-level singletons, ADR-003).
Labels are bounded: `kind` is a MismatchKind, `action` an ActionKind, `outcome` an ActionOutcome."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RUNS_TOTAL = Counter("grinder_reconcile_runs_total", "Reconciliation passes completed")
MISMATCHES_TOTAL = Counter(
    "grinder_reconcile_mismatches_total", "Mismatches found, by kind (counted per pass)", ["kind"]
)
MISMATCHES_CURRENT = Gauge(
    "grinder_reconcile_mismatches_current", "Mismatches found by the last pass, by kind", ["kind"]
)
ACTIONS_TOTAL = Counter(
    "grinder_reconcile_actions_total", "Remediation actions, by action and outcome", ["action", "outcome"]
)
LAST_RUN_TS = Gauge(
    "grinder_reconcile_last_run_timestamp_seconds", "Unix time of the last completed reconciliation pass"
)

FILLS_RECOVERED_TOTAL = Counter(
    "grinder_reconcile_fills_recovered_total",
    "Fills of ours found in the exchange's trade list but missing from the journal (journaled and applied)",
)
TRIGGERS_TOTAL = Counter(
    "grinder_reconcile_triggers_total",
    "Reconciliation passes by what asked for them (start, interval, reconnect, unknown_outcome, takeover)",
    ["why"],
)
FAILED_TOTAL = Counter("grinder_reconcile_failed_total", "Reconciliation passes that could not complete")
TRIGGER_REASONS = ("start", "interval", "reconnect", "unknown_outcome", "takeover")


def init_series() -> None:
    """Every mismatch kind and action/outcome pair at 0."""
    from grinder.reconcile.remediation import ActionKind, ActionOutcome
    from grinder.reconcile.state import MismatchKind

    for kind in MismatchKind:
        MISMATCHES_TOTAL.labels(kind=kind.value)
        MISMATCHES_CURRENT.labels(kind=kind.value).set(0)
    for action in ActionKind:
        for outcome in ActionOutcome:
            ACTIONS_TOTAL.labels(action=action.value, outcome=outcome.value)
    for why in TRIGGER_REASONS:
        TRIGGERS_TOTAL.labels(why=why)
