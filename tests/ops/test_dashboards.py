"""deploy/grafana: one row per area, every panel's PromQL parses in a real Prometheus and names only
metrics the engine exports (the server and engine come from the session fixture in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.conftest import Stack
from tests.ops.prom import DEPLOY, exported_names, metric_names_in

GRAFANA = DEPLOY / "grafana"
ROWS = ["Feed", "Orders", "PnL and risk", "HA", "Reconcile", "Latency"]


def dashboards() -> list[Path]:
    return sorted((GRAFANA / "dashboards").glob("*.json"))


def panel_exprs(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in doc["panels"] if p["type"] != "row" for t in p["targets"]]


def concrete(expr: str) -> str:
    """Grafana variables replaced the way Grafana would ("All" = .*)."""
    return expr.replace("$instance", ".*")


def test_dashboard_has_one_row_per_area_and_panels_under_each() -> None:
    files = dashboards()
    assert files, "no dashboard JSON in deploy/grafana/dashboards"
    doc = json.loads(files[0].read_text(encoding="utf-8"))
    rows = [p["title"] for p in doc["panels"] if p["type"] == "row"]
    assert rows == ROWS
    current = None
    per_row: dict[str, int] = {}
    for panel in doc["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            continue
        assert current is not None
        per_row[current] = per_row.get(current, 0) + 1
        assert panel["datasource"]["uid"] == "prometheus" and panel["targets"], panel["title"]
    assert set(per_row) == set(ROWS)
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert ds["apiVersion"] == 1 and ds["datasources"][0]["uid"] == "prometheus"
    dash = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "grinder.yml").read_text())
    assert dash["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_every_panel_query_parses_and_names_only_exported_metrics(stack: Stack) -> None:
    exported = exported_names(stack.engine_scrape())
    for path in dashboards():
        doc = json.loads(path.read_text(encoding="utf-8"))
        exprs = panel_exprs(doc)
        exprs.append(("variable", doc["templating"]["list"][0]["definition"].replace("label_values(", "")
                      .rsplit(",", 1)[0]))
        for title, expr in exprs:
            missing = metric_names_in(expr) - exported
            assert not missing, f"{path.name} panel {title!r} uses unexported metrics {sorted(missing)}"
            answer = stack.query(concrete(expr))
            assert answer["status"] == "success", f"{path.name} panel {title!r}: {answer.get('error')}"
