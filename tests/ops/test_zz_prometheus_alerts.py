"""GrinderStaleFeed fires in a real Prometheus when the simulator's market stops (see conftest.py).

The engine trades against `grinder sim`; stalling every simulator WebSocket stops market data. The
alert must go pending and fire, naming the symbols. The stall test comes last in this module (its
order is fixed under the suite's random order: the session's stack is shared, a stalled feed would
make the healthy-engine test fail) and stalls for a bounded 90 s, so a module run after it finds the
feed flowing again.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.ops.conftest import Stack, http_json
from tests.ops.prom import alert_rules, exported_names, metric_names_in, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.random_order(disabled=True)]


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


def test_prometheus_scrapes_with_the_read_token_others_are_refused(stack: Stack) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stack.engine.url}/metrics", timeout=5)
    assert refused.value.code == 401
    up = stack.query('up{job="grinder"}')["data"]["result"]
    assert [r["value"][1] for r in up] == ["1"]


def test_stale_feed_alert_fires_when_the_simulator_market_stops(stack: Stack) -> None:
    stalled = http_json(f"{stack.sim.rest_url}/_sim/actions/stall_ws", {"ms": 90_000})
    assert stalled["stalled"] > 0

    def firing() -> set[str]:
        return {a["labels"].get("symbol", "") for a in stack.alerts()
                if a["labels"]["alertname"] == "GrinderStaleFeed" and a["state"] == "firing"}

    symbols = wait_for(firing, 40, "GrinderStaleFeed to fire")
    assert symbols <= {"BTCUSDT", "ETHUSDT"} and symbols, symbols
