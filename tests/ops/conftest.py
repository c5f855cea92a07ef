"""Shared fixture: a real Prometheus scraping a real engine that trades against `grinder sim`.

All on loopback, in a temp dir, 1 s scrape and rule evaluation. The rules are
deploy/prometheus/alerts.yml as shipped, except that GrinderStaleFeed's `for:` is cut from 20 s to
1 s so the stale-feed test does not wait; its expression (no tick for 10 s) is unchanged.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.live.procs import EngineProcess, SimProcess, write_config
from tests.ops.prom import ALERTS, PrometheusProcess, prometheus_binary, wait_for


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


@pytest.fixture(scope="session")
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
            except (OSError, ValueError):  # not listening yet / starting up (503 without JSON)
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
