"""Connector and reconcile metric names are a contract (Runbook 17 Post-Check Metrics, Runbooks 11/12)."""

from __future__ import annotations

from prometheus_client import REGISTRY

import grinder.connector.metrics as connector_metrics
import grinder.reconcile.metrics as reconcile_metrics
from grinder.connector.metrics import code_label


def _names() -> set[str]:
    return {metric.name for metric in REGISTRY.collect()}


def test_metric_names_are_pinned() -> None:
    assert connector_metrics.ORDERS_PLACED_TOTAL is not None and reconcile_metrics.RUNS_TOTAL is not None
    names = _names()
    # prometheus-client reports counters without the _total suffix in `metric.name`.
    for name in ("grinder_orders_placed", "grinder_orders_cancelled", "grinder_connector_errors",
                 "grinder_connector_gate_blocks", "grinder_orders_amended", "grinder_connector_unknown_outcomes",
                 "grinder_reconcile_runs", "grinder_reconcile_mismatches", "grinder_reconcile_mismatches_current",
                 "grinder_reconcile_actions", "grinder_reconcile_last_run_ts"):
        assert name in names, name


def test_error_code_label_is_bounded() -> None:
    assert code_label(-4164) == "-4164"
    assert code_label(-2015) == "-2015"
    assert code_label(-9999) == "other"
    assert code_label(None) == "none"
