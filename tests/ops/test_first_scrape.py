"""The first /metrics scrape of `grinder live` and `grinder demo` already holds every labelled series.

Runbook 17's post-checks read `grinder_ws_reconnect_total`, `grinder_orders_cancelled_total` and
`grinder_connector_errors_total`; a counter created only at its first increment is invisible to
`increase()` and shows "no data" on a dashboard. The scrape also passes `promtool check metrics`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grinder.ops.metrics import RUNBOOK17_METRICS
from tests.live.procs import EngineProcess, SimProcess, child_env, free_port, write_config
from tests.ops.scrape import POST_CHECK_COUNTERS, first_scrape, promtool, promtool_check_metrics, samples

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=10.0)
    yield proc
    proc.stop()


def _assert_series_at_start(text: str) -> None:
    found = samples(text)
    for name in POST_CHECK_COUNTERS:
        assert found.get(name), f"{name} has no series at the first scrape"
    reconnects = {(labels["stream"], labels["reason"]) for labels, _ in found["grinder_ws_reconnect_total"]}
    assert {("public", "stale"), ("market", "closed"), ("private", "connect_failed")} <= reconnects
    cancelled = {labels["mode"]: v for labels, v in found["grinder_orders_cancelled_total"]}
    assert set(cancelled) == {"READ_ONLY", "PAPER", "LIVE_TRADE"}
    errors = {labels["reason"] for labels, _ in found["grinder_connector_errors_total"]}
    assert {"rejected", "unknown_outcome", "rate_limited"} <= errors
    for sym in ("BTCUSDT", "ETHUSDT"):
        assert any(labels == {"symbol": sym} for labels, _ in found["grinder_ticks_received_total"])
    exposed = {name.removesuffix("_total") for name in found} | set(found)
    for name in RUNBOOK17_METRICS:
        assert name in exposed, f"{name} missing at the first scrape"


async def test_live_first_scrape_has_every_post_check_series_and_passes_promtool(
    sim: SimProcess, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "grinder.toml", sim, tmp_path / "journal.sqlite3")
    engine = EngineProcess(cfg, tmp_path / "engine.log")
    try:
        text = await first_scrape(f"{engine.url}/metrics")
    finally:
        rc = engine.terminate()
    _assert_series_at_start(text)
    assert rc == 0, engine.log_text()
    if promtool() is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == "", checked.stdout + checked.stderr


async def test_demo_first_scrape_has_every_post_check_series(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "grinder.cli", "demo", "--duration", "3", "--speed", "10", "--out",
         str(tmp_path / "out"), "--ops-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=tmp_path,
    )
    try:
        text = await first_scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        out, err = proc.communicate(timeout=90)
    _assert_series_at_start(text)
    assert proc.returncode == 0, out + err
    # Not a terminal: warnings go to stderr, at most 3 of each kind, the rest summarised in one line.
    kinds: dict[str, int] = {}
    for line in err.splitlines():
        if " WARNING " in line:
            kind = " ".join(line.split(" WARNING ", 1)[1].split()[:2])
            kinds[kind] = kinds.get(kind, 0) + 1
    assert all(n <= 3 for n in kinds.values()), kinds
