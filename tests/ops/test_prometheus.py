"""A real Prometheus scraping a real engine that trades against `grinder sim`, all on loopback.

The rules are deploy/prometheus/alerts.yml as shipped, except that GrinderStaleFeed's `for:` is cut
from 20 s to 1 s so the test does not wait; its expression (no tick for 10 s) is unchanged. When the
simulator's market stops (every WebSocket stalled), the alert must go pending and fire, naming the
symbols. Dashboard queries are checked against the same server (test_dashboards.py shares it).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.live.procs import EngineProcess, SimProcess, write_config
from tests.ops.prom import (
    ALERTS,
    PrometheusProcess,
    alert_rules,
    exported_names,
    metric_names_in,
    prometheus_binary,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def http_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read().decode())


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


class Stack:
    def __init__(self, sim: SimProcess, engine: EngineProcess, prom: PrometheusProcess) -> None:
        self.sim, self.engine, self.prom = sim, engine, prom

    def query(self, expr: str) -> dict[str, Any]:
        url = f"{self.prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            return dict(http_json(url))
        except urllib.error.HTTPError as exc:  # 400 carries the parse error as JSON
            return dict(json.loads(exc.read().decode()))

    def alerts(self) -> list[dict[str, Any]]:
        return list(http_json(f"{self.prom.url}/api/v1/alerts")["data"]["alerts"])

    def engine_scrape(self) -> str:
        return http_text(f"{self.engine.url}/metrics")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if prometheus_binary() is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    tmp = tmp_path_factory.mktemp("prom")
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == "GrinderStaleFeed":
                rule["for"] = "1s"
    rules = tmp / "alerts.yml"
    rules.write_text(yaml.safe_dump(doc), encoding="utf-8")
    sim = SimProcess(tmp / "sim.log", speed=5.0)
    engine = prom = None
    try:
        engine = EngineProcess(write_config(tmp / "grinder.toml", sim, tmp / "journal.sqlite3"), tmp / "engine.log")
        prom = PrometheusProcess(tmp, [f"127.0.0.1:{engine.ops_port}"], rules)
        st = Stack(sim, engine, prom)

        def trading_and_scraped() -> bool:
            try:
                res = st.query('sum(grinder_ticks_received_total{job="grinder"}) > 0 and on() up{job="grinder"} == 1')
            except OSError:
                return False
            return bool(res.get("data", {}).get("result"))

        wait_for(trading_and_scraped, 60, "Prometheus to scrape a trading engine")
        yield st
    finally:
        if prom is not None:
            prom.stop()
        if engine is not None and engine.proc.poll() is None:
            engine.terminate()
        sim.stop()


def test_alert_rules_use_only_metrics_the_engine_exports(stack: Stack) -> None:
    exported = exported_names(stack.engine_scrape())
    for rule in alert_rules():
        missing = metric_names_in(rule["expr"]) - exported
        assert not missing, f"{rule['alert']} uses metrics the engine does not export: {sorted(missing)}"


def test_rules_load_and_no_alert_fires_on_a_healthy_engine(stack: Stack) -> None:
    groups = http_json(f"{stack.prom.url}/api/v1/rules")["data"]["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    assert {r["alert"] for r in alert_rules()} == loaded
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
    active = [a["labels"]["alertname"] for a in stack.alerts()]
    assert "GrinderStaleFeed" not in active and "GrinderEngineDown" not in active, active


def test_stale_feed_alert_fires_when_the_simulator_market_stops(stack: Stack) -> None:
    stalled = http_json(f"{stack.sim.rest_url}/_sim/actions/stall_ws", {"ms": 120_000})
    assert stalled["stalled"] > 0

    def firing() -> set[str]:
        return {a["labels"].get("symbol", "") for a in stack.alerts()
                if a["labels"]["alertname"] == "GrinderStaleFeed" and a["state"] == "firing"}

    symbols = wait_for(firing, 40, "GrinderStaleFeed to fire")
    assert symbols <= {"BTCUSDT", "ETHUSDT"} and symbols, symbols
