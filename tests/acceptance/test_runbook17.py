"""Runbook 17 as an acceptance test: its commands, output, logs, metrics and rollback, as it shows them.

The expected blocks are read from the runbook itself (docs/runbooks/17_…), so the document and the
system cannot drift apart. Everything runs in subprocesses over loopback against `grinder sim`;
nothing here is mocked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from grinder.ops.metrics import RUNBOOK17_METRICS
from tests.fixtures.paths import REPO_DIR
from tests.live.procs import SIM_KEY, SIM_SECRET, SimProcess, child_env, free_port, poll, sim_all_orders

pytestmark = pytest.mark.integration

RUNBOOK = REPO_DIR / "docs" / "runbooks" / "17_LIVE_TRADE_CONNECTOR_ENABLEMENT.md"
TS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def runbook_block(after_heading: str, nth: int = 0) -> str:
    """The nth fenced code block following a heading line of the runbook."""
    text = RUNBOOK.read_text(encoding="utf-8")
    start = text.index(after_heading)
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text[start:], flags=re.S)
    return str(blocks[nth])


def line_pattern(line: str) -> str:
    """A runbook line as a regex: numbers and order ids become wildcards, everything else is literal."""
    parts = re.split(r"(grinder_[A-Za-z0-9_]+|\d+(?:\.\d+)?)", line)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        elif part.startswith("grinder_"):
            out.append(r"grinder_[A-Za-z0-9_]+")
        else:
            out.append(r"\d+(?:\.\d+)?")
    return "".join(out)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=5.0, seed=17)
    try:
        yield proc
    finally:
        proc.stop()


def run_smoke(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.smoke_lc22_live_trade", *args],
        cwd=REPO_DIR, env={**env, "PYTHONPATH": "src"}, capture_output=True, text=True, timeout=90,
    )


def test_step1_environment_check_never_echoes_secrets() -> None:
    commands = runbook_block("### Step 1: Verify Environment")
    env = child_env(BINANCE_API_KEY="k" * 64, BINANCE_API_SECRET="s" * 64)
    out = subprocess.run(["bash", "-c", commands], env=env, capture_output=True, text=True, timeout=10).stdout
    assert out.splitlines() == ["BINANCE_API_KEY: set", "BINANCE_API_SECRET: set", "ALLOW_MAINNET_TRADE: NOT SET"]


def test_step2_dry_run_prints_exactly_the_runbook_output() -> None:
    command = runbook_block("### Step 2: Run Dry-Run Smoke Test").strip()
    assert command == "PYTHONPATH=src python -m scripts.smoke_lc22_live_trade"
    expected = runbook_block("### Step 2: Run Dry-Run Smoke Test", nth=1)
    proc = run_smoke([], child_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected


def test_step3_confirmed_smoke_places_and_cancels_on_the_simulator(sim: SimProcess) -> None:
    env = child_env(BINANCE_FUTURES_BASE_URL=sim.rest_url, BINANCE_FUTURES_WS_URL=sim.ws_url,
                    BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET, ALLOW_MAINNET_TRADE="1")
    proc = run_smoke(["--confirm", "LC22_LIVE_TRADE"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = [ln for ln in runbook_block("### Step 3: Real Smoke Test", nth=1).splitlines() if ln != "..."]
    out = proc.stdout.splitlines()
    # Every runbook line appears, in the runbook's order (values differ: the simulator's market).
    pos = 0
    for want in expected:
        pattern = re.compile(line_pattern(want) + "$")
        while pos < len(out) and not pattern.match(out[pos]):
            pos += 1
        assert pos < len(out), f"runbook line missing or out of order: {want!r}\n{proc.stdout}"
        pos += 1
    placed = re.search(r"order_id: (grinder_s_BTCUSDT_1_\d+_\d+)", proc.stdout)
    assert placed is not None
    assert SIM_SECRET not in proc.stdout + proc.stderr and SIM_KEY not in proc.stdout + proc.stderr


def test_wrong_confirm_token_is_refused_and_sends_nothing() -> None:
    proc = run_smoke(["--confirm", "yes"], child_env())
    assert proc.returncode != 0
    assert "LC22_LIVE_TRADE" in proc.stdout + proc.stderr


def write_live_config(path: Path, sim: SimProcess, tmp_path: Path, extra: str = "") -> Path:
    path.write_text(
        f"""
[connector]
mode = "LIVE_TRADE"
armed = true
symbols = ["BTCUSDT"]

[binance]
rest_url = "{sim.rest_url}"
ws_url = "{sim.ws_url}"
tick_log_interval_s = 1.0

[engine]
symbols = ["BTCUSDT"]

[grid]
levels = 2
spacing_bps = "4"
order_notional = "110"
max_position = "0.02"

[store]
journal_path = "{tmp_path / 'journal.sqlite3'}"
synchronous = "NORMAL"
{extra}
""",
        encoding="utf-8",
    )
    return path


class Engine:
    """Runbook step 5: `ALLOW_MAINNET_TRADE=1 python -m grinder.live.run` (with a config naming the simulator)."""

    def __init__(self, config: Path, log: Path, token: str) -> None:
        self.port = free_port()
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 - closed in stop()
        env = child_env(ALLOW_MAINNET_TRADE="1", BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET,
                        GRINDER_CONTROL_TOKEN=token)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grinder.live.run", "--config", str(config), "--ops-port", str(self.port)],
            stdout=self._out, stderr=subprocess.STDOUT, env=env, cwd=REPO_DIR,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self._out.close()


async def metrics(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """Sum of every sample per metric name (labels folded), from /metrics."""
    async with session.get(url + "/metrics") as resp:
        body = await resp.text()
    out: dict[str, float] = {}
    for line in body.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name = re.split(r"[{ ]", line, maxsplit=1)[0]
        out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


async def test_step5_live_run_logs_metrics_readyz_and_clean_stop(sim: SimProcess, tmp_path: Path) -> None:
    engine = Engine(write_live_config(tmp_path / "live.toml", sim, tmp_path), tmp_path / "engine.log", "t" * 12)
    try:
        async with aiohttp.ClientSession() as session:
            await poll(lambda: "Order placed order_id=" in engine.text(), 60, "the engine to place orders")
            status, ready = await _get_json(session, engine.url + "/readyz")
            assert status == 200
            assert ready["role"] == "standalone" and ready["ready"] is True

            body = await _text(session, engine.url + "/metrics")
            for name in RUNBOOK17_METRICS:
                assert f"# TYPE {name} " in body, f"{name} not exposed"
            first = await metrics(session, engine.url)
            assert first["grinder_ws_connected"] >= 1
            assert first["grinder_ha_is_leader"] == 1  # standalone: this instance is the one that trades
            assert time.time() - first["grinder_last_tick_ts"] < 10
            assert first["grinder_orders_placed_total"] > 0
            await poll(lambda: _ticks_advanced(session, engine.url, first, 20), 20,
                       "grinder_ticks_received_total to increase")
    finally:
        rc = engine.stop()  # SIGTERM: stop quoting, cancel our orders, exit 0
    assert rc == 0, engine.text()[-3000:]
    client = sim.client()
    try:
        assert await client.open_orders("BTCUSDT") == []
    finally:
        await client.close()
    text = engine.text()
    # Step 5 "Verify in logs" and the "Expected Logs" block, line shapes as the runbook prints them.
    assert re.search(rf"^{TS} INFO LiveConnectorV0 connected mode=LIVE_TRADE armed=True$", text, re.M)
    assert re.search(rf"^{TS} INFO BinanceFuturesPort initialized url={re.escape(sim.rest_url)}$", text, re.M)
    for want in runbook_block("## Expected Logs (Normal Operation)").splitlines():
        body = want.split(" INFO ", 1)[1]
        if body.startswith("WebSocket connected to"):
            pattern = rf"^{TS} INFO WebSocket connected to ws://127\.0\.0\.1:\d+/\S+$"
        elif body.startswith("LiveConnectorV0 connected"):
            pattern = rf"^{TS} INFO {re.escape(body)}$"
        else:
            pattern = rf"^{TS} INFO " + line_pattern(body).replace("BUY", "(?:BUY|SELL)") + "$"
        assert re.search(pattern, text, re.M), f"no log line like {want!r}"
    assert SIM_SECRET not in text and SIM_KEY not in text


async def test_rollback_disarm_at_runtime_stops_every_write(sim: SimProcess, tmp_path: Path) -> None:
    token = "control-token-for-test"
    engine = Engine(write_live_config(tmp_path / "live.toml", sim, tmp_path), tmp_path / "engine.log", token)
    client = sim.client()
    try:
        async with aiohttp.ClientSession() as session:
            await poll(lambda: "Order placed order_id=" in engine.text(), 60, "the engine to place orders")
            refused = await session.post(engine.url + "/control/disarm")
            assert refused.status == 401
            resp = await session.post(engine.url + "/control/disarm",
                                      headers={"Authorization": f"Bearer {token}"}, json={"reason": "runbook"})
            assert resp.status == 200
            at_disarm = await metrics(session, engine.url)
            orders_at_disarm = {o["orderId"] for o in await sim_all_orders(client)}
            # Let the market move far enough that an armed engine would certainly re-quote.
            await poll(lambda: _ticks_advanced(session, engine.url, at_disarm, 200), 30, "ticks after disarm")
            later = await metrics(session, engine.url)
            assert later["grinder_orders_placed_total"] == at_disarm["grinder_orders_placed_total"]
            new_orders = {o["orderId"] for o in await sim_all_orders(client)} - orders_at_disarm
            assert not new_orders, f"orders reached the exchange after disarm: {new_orders}"
            status, ready = await _get_json(session, engine.url + "/readyz")
            assert status == 503 and ready["ready"] is False
            resting = [o for o in await client.open_orders("BTCUSDT") if o.clientOrderId.startswith("grinder_")]
    finally:
        await client.close()
        rc = engine.stop()
    # Disarmed, the engine may not cancel: orders left -> the documented ERROR line and exit 3.
    assert rc == (3 if resting else 0), engine.text()[-3000:]
    assert re.search(rf"^{TS} WARNING .*armed=False", engine.text(), re.M), "rollback must log armed=False"


async def _ticks_advanced(session: aiohttp.ClientSession, url: str, first: dict[str, float], n: int) -> bool:
    now = await metrics(session, url)
    return now["grinder_ticks_received_total"] > first["grinder_ticks_received_total"] + n


async def _get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with session.get(url) as resp:
        return resp.status, await resp.json(content_type=None)


async def _text(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        return await resp.text()


async def test_troubleshooting_6_readyz_reports_leader_in_ha_mode(
    sim: SimProcess, tmp_path: Path, redis_url: str
) -> None:
    extra = f'\n[ha]\nenabled = true\nredis_url = "{redis_url}"\nlease_key = "grinder:test:rb17"\nttl_ms = 6000\n'
    engine = Engine(write_live_config(tmp_path / "ha.toml", sim, tmp_path, extra), tmp_path / "ha.log", "t" * 12)
    try:
        async with aiohttp.ClientSession() as session:
            async def leader() -> bool:
                status, body = await _get_json(session, engine.url + "/readyz")
                return status == 200 and body.get("role") == "leader"

            await poll(leader, 40, '/readyz to answer {"role": "leader"}')
            assert (await metrics(session, engine.url))["grinder_ha_is_leader"] == 1
    finally:
        assert engine.stop() == 0, engine.text()[-3000:]


def test_runbook_links_resolve() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+\.md)\)", text)
    assert links, "the runbook links no other document: the link pattern no longer matches"
    for target in links:
        assert (RUNBOOK.parent / target).exists(), f"broken runbook link {target}"
    assert "ADR-056" in (REPO_DIR / "docs" / "DECISIONS.md").read_text(encoding="utf-8")
    assert os.path.exists(REPO_DIR / "scripts" / "smoke_lc22_live_trade.py")
