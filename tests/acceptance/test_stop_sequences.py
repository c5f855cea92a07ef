"""Runbook 02's stop sequence and Runbook 17's rollback, run as the runbooks print them, against
`grinder sim` (every piece a separate process). They end with 0 open orders of ours confirmed on the
simulator, or, when a gate forbids the cancels, with the documented ERROR line and exit code 3 and
then `grinder orders cancel-all` clearing the book. The kill switch of a disarmed engine reports 0
accepted cancels.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grinder.live.shutdown import EXIT_ORDERS_LEFT
from tests.acceptance.test_runbook17 import Engine, write_live_config
from tests.fixtures.paths import REPO_DIR
from tests.live.procs import SIM_KEY, SIM_SECRET, SimProcess, child_env, poll

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

RUNBOOK02 = REPO_DIR / "docs" / "runbooks" / "02_HEALTH_TRIAGE.md"
RUNBOOK17 = REPO_DIR / "docs" / "runbooks" / "17_LIVE_TRADE_CONNECTOR_ENABLEMENT.md"
TOKEN = "stop-sequence-token"


def block(path: Path, heading: str, nth: int = 0) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index(heading)
    return str(re.findall(r"```[a-z]*\n(.*?)```", text[start:], flags=re.S)[nth])


def run_lines(text: str, engine: Engine, config: Path) -> list[subprocess.CompletedProcess[str]]:
    """Each command line of a runbook block, as written, with our URL, config and interpreter."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cmd = (line.replace("http://127.0.0.1:9090", engine.url).replace("grinder.toml", str(config))
               .replace("grinder orders", f"{sys.executable} -m grinder.cli orders"))
        env = child_env(GRINDER_CONTROL_TOKEN=TOKEN, BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET,
                        PYTHONPATH=str(REPO_DIR / "src"))
        out.append(subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=60,
                                  cwd=REPO_DIR))
    return out


def last_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=5.0, seed=23)
    try:
        yield proc
    finally:
        proc.stop()


async def ours_open(sim: SimProcess) -> list[str]:
    client = sim.client()
    try:
        orders = await client.open_orders("BTCUSDT")
        return [o.clientOrderId for o in orders if o.clientOrderId.startswith("grinder_")]
    finally:
        await client.close()


async def test_runbook02_stop_sequence_ends_with_no_order_of_ours(sim: SimProcess, tmp_path: Path) -> None:
    config = write_live_config(tmp_path / "grinder.toml", sim, tmp_path)
    engine = Engine(config, tmp_path / "engine.log", TOKEN)
    try:
        await poll(lambda: ours_open(sim), 60, f"orders of ours resting (log: {engine.log})")
        disarm, cancel_all = run_lines(block(RUNBOOK02, "## 6. Stopping trading"), engine, config)
        assert disarm.returncode == 0 and cancel_all.returncode == 0
        disarmed = json.loads(disarm.stdout)
        assert disarmed["armed"] is False
        report = json.loads(cancel_all.stdout)
        assert report["clean"] is True and report["open_orders_after"] == []
        assert report["accepted"] + report["gone"] == report["requested"] >= len(disarmed["open_orders"]) - 1
        assert report["blocked"] == 0
        assert await ours_open(sim) == []
    finally:
        rc = engine.stop()
    assert rc == 0, engine.text()[-3000:]
    assert "shutdown complete" in engine.text()
    assert await ours_open(sim) == []


async def test_runbook17_rollback_when_disarmed_exits_3_then_orders_cancel_all_clears(
    sim: SimProcess, tmp_path: Path
) -> None:
    config = write_live_config(tmp_path / "grinder.toml", sim, tmp_path)
    engine = Engine(config, tmp_path / "engine.log", TOKEN)
    try:
        await poll(lambda: ours_open(sim), 60, f"orders of ours resting (log: {engine.log})")
        (disarm,) = run_lines(block(RUNBOOK17, "On a running engine, option 3"), engine, config)
        assert json.loads(disarm.stdout)["armed"] is False
        resting = await ours_open(sim)
        assert resting
        (kill,) = run_lines(block(RUNBOOK02, "The kill switch does the same"), engine, config)
        answer = json.loads(kill.stdout)
        # Truthful: every cancel was blocked by the armed gate, none accepted, the orders still rest.
        assert answer["accepted"] == 0 and answer["cancelled"] == 0
        assert answer["blocked"] == answer["requested"] >= 1
        assert {o["reason"] for o in answer["orders"]} == {"gate:armed"}
        assert answer["clean"] is False and "cancel-all" in answer["fix"]
        async with aiohttp.ClientSession() as session, session.get(engine.url + "/readyz") as resp:
            assert resp.status == 503
            assert "kill switch engaged" in (await resp.json())["reasons"]
    finally:
        rc = engine.stop()
    assert rc == EXIT_ORDERS_LEFT, engine.text()[-3000:]
    errors = [ln for ln in engine.text().splitlines() if " ERROR " in ln]
    assert len(errors) == 1 and "grinder orders cancel-all" in errors[0]
    left = await ours_open(sim)
    assert left and all(cid in errors[0] for cid in left)
    cli = [ln for ln in block(RUNBOOK17, "### Clear our resting orders").splitlines() if ln.startswith("grinder")]
    listed, cancelled = run_lines("\n".join(cli), engine, config)
    # (The market keeps moving: a resting order may fill between two commands.)
    assert listed.returncode == 0 and 0 < last_json(listed)["open_orders"] <= len(left)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    report = last_json(cancelled)
    assert report["clean"] is True and report["accepted"] >= 1
    assert report["accepted"] + report["gone"] == report["requested"] and report["blocked"] == 0
    assert await ours_open(sim) == []
    text = engine.text() + listed.stdout + cancelled.stdout + cancelled.stderr
    assert SIM_SECRET not in text and SIM_KEY not in text
