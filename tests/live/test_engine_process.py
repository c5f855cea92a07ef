"""The engine as users run it (`python -m grinder.live.run`) against `grinder sim`, both as processes.

Acceptance: it quotes both symbols, gets fills, its journal equals the simulator's trade list, the
ops endpoints answer (/readyz role, every Runbook 17 metric on /metrics), SIGTERM exits 0 with our
orders cancelled; and after kill -9 a restart leaves no duplicate or orphaned order and reports the
simulator's positions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grinder.binance.rest import BinanceRestClient
from grinder.live.journal import journal_fills
from grinder.ops.metrics import RUNBOOK17_METRICS
from tests.live.procs import (
    EngineProcess,
    SimProcess,
    get_json,
    poll,
    sim_all_orders,
    sim_positions,
    sim_trades,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=10.0)
    yield proc
    proc.stop()


async def _status(session: aiohttp.ClientSession, engine: EngineProcess) -> dict[str, Any]:
    _, body = await get_json(session, f"{engine.url}/status")
    return dict(body)


async def _trading_both(session: aiohttp.ClientSession, engine: EngineProcess, min_fills: int) -> Any:
    st = await _status(session, engine)
    syms = st["symbols"]
    return all(syms[s]["fills"] >= min_fills for s in ("BTCUSDT", "ETHUSDT")) and st


async def test_engine_trades_journals_serves_ops_and_stops_cleanly(sim: SimProcess, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    cfg = write_config(tmp_path / "grinder.toml", sim, journal)
    engine = EngineProcess(cfg, tmp_path / "engine.log")
    client = sim.client()
    try:
        async with aiohttp.ClientSession() as session:
            ready = await poll(
                lambda: _ready_200(session, engine), 30, f"/readyz 200 (log: {engine.log_path})"
            )
            assert ready == {"role": "standalone", "ready": True, "reasons": []}
            # Quotes on both symbols, then fills on both.
            st = await poll(lambda: _trading_both(session, engine, 1), 60, "fills on BTCUSDT and ETHUSDT")
            assert st["mode"] == "LIVE_TRADE" and st["armed"] is True
            assert st["orders"]["placed"] > 0
            placed_symbols = {o["symbol"] for o in await _open_ours(client)}
            assert placed_symbols == {"BTCUSDT", "ETHUSDT"}
            async with session.get(f"{engine.url}/metrics") as resp:
                text = await resp.text()
            for name in RUNBOOK17_METRICS:
                assert f"# TYPE {name} " in text, f"{name} missing from /metrics"
            assert 'grinder_orders_placed_total{mode="LIVE_TRADE"}' in text
            assert "grinder_tick_to_order_seconds_count" in text
            assert _sample(text, 'grinder_ws_connected{stream="public"}') == 1.0
        assert engine.terminate() == 0
        log = engine.log_text()
        assert "LiveConnectorV0 connected mode=LIVE_TRADE armed=True" in log
        assert f"BinanceFuturesPort initialized url={sim.rest_url}" in log
        assert "engine stopped" in log
        assert "Traceback" not in log
        # Our orders were cancelled on the way out; the journal is the simulator's trade list, exactly.
        assert await _open_ours(client) == []
        fills = journal_fills(journal)
        assert len(fills) == len({(f["symbol"], f["trade_id"]) for f in fills})
        assert {(f["symbol"], f["trade_id"]) for f in fills} == await sim_trades(client)
        assert len(fills) >= 2
    finally:
        if engine.proc.poll() is None:
            engine.proc.kill()
        await client.close()


async def test_kill9_restart_leaves_no_duplicate_or_orphan_and_matches_positions(
    sim: SimProcess, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    cfg = write_config(tmp_path / "grinder.toml", sim, journal)
    client = sim.client()
    first = EngineProcess(cfg, tmp_path / "engine1.log")
    second: EngineProcess | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await poll(lambda: _trading_both(session, first, 1), 60, "first engine fills on both symbols")
            first_open = {o["clientOrderId"] for o in await _open_ours(client)}
            assert first_open, "the first engine should have working orders when killed"
            first.kill9()
            # The dead engine's orders keep resting (and may fill) while it is down: let the
            # simulated market run on for 5 s of market time before the restart.
            down_at = (await client.book_ticker("BTCUSDT")).time
            await poll(lambda: _market_time_past(client, down_at + 5_000), 30, "5 s of market time with no engine")
            second = EngineProcess(cfg, tmp_path / "engine2.log")
            await poll(lambda: _ready_200(session, second), 40, f"restarted engine ready ({second.log_path})")
            # No orphan: nothing of the first process is left on the book.
            open_now = {o["clientOrderId"] for o in await _open_ours(client)}
            assert not (open_now & first_open), f"orphaned orders: {open_now & first_open}"
            # No duplicate: every client order id the simulator ever saw is unique.
            ids = [o["clientOrderId"] for o in await sim_all_orders(client)]
            assert len(ids) == len(set(ids))
        # Stopping cancels our orders, so the book and the positions stop moving: compare exactly then.
        assert second.terminate() == 0
        assert not await _open_ours(client)
        fills = journal_fills(journal)
        assert {(f["symbol"], f["trade_id"]) for f in fills} == await sim_trades(client)
        # Positions equal the simulator's: its position is the signed sum of the fills we journaled.
        from decimal import Decimal

        from grinder.core.rules import btcusdt_rules, ethusdt_rules

        rules = {"BTCUSDT": btcusdt_rules(), "ETHUSDT": ethusdt_rules()}
        journaled: dict[str, int] = dict.fromkeys(rules, 0)
        for f in fills:
            journaled[f["symbol"]] += f["qty_lots"] if f["side"] == "BUY" else -f["qty_lots"]
        expected = {s: str(Decimal(rules[s].lots_to_qty(n)).normalize()) for s, n in journaled.items()}
        assert await sim_positions(client) == expected
        assert "startup cancelling our leftover orders" in second.log_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.proc.poll() is None:
                proc.proc.kill()
        await client.close()


async def _ready_200(session: aiohttp.ClientSession, engine: EngineProcess) -> Any:
    status, body = await get_json(session, f"{engine.url}/readyz")
    return status == 200 and body


async def _open_ours(client: Any) -> list[dict[str, Any]]:
    rows = []
    for o in await client.open_orders():
        if o.clientOrderId.startswith("grinder_"):
            rows.append({"symbol": o.symbol, "clientOrderId": o.clientOrderId})
    return rows


def _sample(text: str, series: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_no_config_runs_read_only_on_market_data_and_exits_zero(sim: SimProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.live.procs import child_env, free_port

    port = free_port()
    env = child_env(BINANCE_FUTURES_BASE_URL=sim.rest_url, BINANCE_FUTURES_WS_URL=sim.ws_url)
    log = tmp_path / "engine.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "grinder.live.run", "--ops-port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    client = sim.client()
    try:
        async with aiohttp.ClientSession() as session:
            async def streaming() -> Any:
                status, body = await get_json(session, f"http://127.0.0.1:{port}/status")
                return status == 200 and body["symbols"]["BTCUSDT"]["ticks"] > 3 and body
            st = await poll(streaming, 30, f"market data in READ_ONLY ({log})")
            assert st["mode"] == "READ_ONLY" and st["armed"] is False
            status, ready = await get_json(session, f"http://127.0.0.1:{port}/readyz")
            assert status == 503 and ready["role"] == "standalone"
        proc.send_signal(15)
        assert proc.wait(30) == 0
        text = log.read_text()
        assert "no API credentials: market data only" in text
        assert f"BinanceFuturesPort initialized url={sim.rest_url}" in text
        assert await _open_ours(client) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        await client.close()


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.live.procs import child_env

    cfg = tmp_path / "bad.toml"
    cfg.write_text('[engine]\nleftover_orders = "keep"\n')
    proc = subprocess.run([sys.executable, "-m", "grinder.live.run", "--config", str(cfg)], capture_output=True,
                          text=True, timeout=30, env=child_env())
    assert proc.returncode == 2
    assert "leftover_orders" in proc.stderr and "cancel, adopt" in proc.stderr


async def _market_time_past(client: BinanceRestClient, ms: int) -> bool:
    return (await client.book_ticker("BTCUSDT")).time >= ms
