"""Connector and reconcile metric names are a contract (Runbook 17 Post-Check Metrics, Runbooks 11/12).

The names are checked as Prometheus scrapes them (`generate_latest`), and the connector counters are
checked to move when the connector really places, amends, cancels, blocks and fails a write.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY, generate_latest

import grinder.reconcile.metrics  # noqa: F401 - registers the reconcile metrics, as `grinder live` does
from grinder.connector import ConnectorNonRetryableError, LiveConnectorConfig, LiveConnectorV0, SafeMode
from grinder.connector.metrics import code_label, count_error
from grinder.core.enums import Side
from tests.connector.recording_port import RecordingPort

RUNBOOK_NAMES = (
    "grinder_orders_placed_total", "grinder_orders_cancelled_total", "grinder_connector_errors_total",
    "grinder_connector_gate_blocks_total", "grinder_orders_amended_total",
    "grinder_connector_unknown_outcomes_total", "grinder_reconcile_runs_total",
    "grinder_reconcile_mismatches_total", "grinder_reconcile_mismatches_current",
    "grinder_reconcile_actions_total", "grinder_reconcile_last_run_timestamp_seconds",
)


def test_metric_names_are_pinned_as_scraped() -> None:
    scraped = generate_latest(REGISTRY).decode()
    helped = {line.split()[2] for line in scraped.splitlines() if line.startswith("# HELP ")}
    missing = [name for name in RUNBOOK_NAMES if name not in helped]
    assert not missing, f"metric names the runbooks rely on are not exposed: {missing}"


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_connector_writes_move_the_runbook_counters() -> None:
    port = RecordingPort("paper://venue", name="paper")
    config = LiveConnectorConfig(mode=SafeMode.PAPER, armed=True, paper_port=port)
    connector = LiveConnectorV0(config, environ={})
    paper = {"mode": "PAPER"}
    before = {name: sample(name, paper) for name in
              ("grinder_orders_placed_total", "grinder_orders_amended_total", "grinder_orders_cancelled_total")}
    blocked_before = sample("grinder_connector_gate_blocks_total", {"gate": "armed"})

    cid = await connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=Decimal("40000.00"),
                                      quantity=Decimal("0.003"))
    await connector.replace_order(cid, symbol="BTCUSDT", price=Decimal("39000.00"))
    assert await connector.cancel_order(cid, "BTCUSDT")
    config.armed = False
    with pytest.raises(ConnectorNonRetryableError):
        await connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=Decimal("40000.00"),
                                    quantity=Decimal("0.003"))

    for name, value in before.items():
        assert sample(name, paper) == value + 1, name
    assert sample("grinder_connector_gate_blocks_total", {"gate": "armed"}) == blocked_before + 1
    assert len(port.received) == 3  # the blocked write never reached the port


def test_error_counter_labels_are_bounded() -> None:
    assert code_label(-4164) == "-4164"
    assert code_label(-2015) == "-2015"
    assert code_label(-9999) == "other"
    assert code_label(None) == "none"
    other = {"reason": "rejected", "code": "other"}
    before = sample("grinder_connector_errors_total", other)
    count_error("some_new_reason", -9999)  # an unbounded reason or code never becomes a label value
    assert sample("grinder_connector_errors_total", other) == before + 1
    assert sample("grinder_connector_errors_total", {"reason": "some_new_reason", "code": "-9999"}) == 0.0
