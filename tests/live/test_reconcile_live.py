"""Reconciliation inside `grinder.live.run` with a `[reconcile]` section, against `grinder sim`.

The engine's user stream passes through a proxy that drops and corrupts frames (seeded), so fills
are lost on the wire. Every fill the exchange lists at a moment T must be in the journal one
reconcile interval later, and the reconcile metrics must show passes and recovered fills.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from grinder.chaos.engines import Instance, InstanceSpec
from grinder.chaos.proxy import FrameFaults, WireProxy
from grinder.live.journal import journal_fills
from tests.live.procs import SimProcess, free_port, get_json, poll, sim_trades

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

INTERVAL_S = 2.0


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=10.0)
    yield proc
    proc.stop()


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_lost_user_stream_frames_are_journaled_within_one_reconcile_interval(
    sim: SimProcess, tmp_path: Path
) -> None:
    faults = FrameFaults(drop_rate=0.25, corrupt_rate=0.1, path_part="/private/", seed=13)
    proxy = WireProxy(sim.rest_url, sim.ws_url, faults=faults)
    await proxy.start()
    journal = tmp_path / "journal.sqlite3"
    engine = Instance(InstanceSpec("solo", proxy.rest_url, proxy.ws_url, None, journal,
                                   reconcile_interval_s=INTERVAL_S), tmp_path, free_port())
    client = sim.client()
    try:
        engine.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            async def metrics() -> str:
                async with session.get(f"{engine.ops_url}/metrics") as resp:
                    return await resp.text()

            async def recovered() -> bool:
                return _metric(await metrics(), "grinder_reconcile_fills_recovered_total") >= 2

            await poll(lambda: get_json(session, f"{engine.ops_url}/readyz"), 30, "engine up")
            await poll(recovered, 90, f"fills lost on the wire and recovered ({engine.log_path})", interval=0.5)
            exchange_at_t = await sim_trades(client)
            await asyncio.sleep(INTERVAL_S + 1.0)
            journaled = {(f["symbol"], f["trade_id"]) for f in journal_fills(journal)}
            missing = exchange_at_t - journaled
            assert not missing, f"fills the exchange listed {INTERVAL_S + 1}s ago, not journaled: {missing}"
            text = await metrics()
            assert _metric(text, "grinder_reconcile_runs_total") >= 2
            assert _metric(text, 'grinder_reconcile_triggers_total{why="start"}') == 1
        assert faults.dropped + faults.corrupted > 0
        assert await asyncio.to_thread(engine.terminate) == 0
        log = engine.log_text()
        assert "reconcile_pass why=start" in log and "fill recovered by reconciliation" in log
        assert "Traceback" not in log
        # After the clean stop the journal is exactly the exchange's trade list, by trade id.
        fills = journal_fills(journal)
        assert len(fills) == len({(f["symbol"], f["trade_id"]) for f in fills})
        assert {(f["symbol"], f["trade_id"]) for f in fills} == await sim_trades(client)
    finally:
        await asyncio.to_thread(engine.terminate)
        await proxy.stop()
        await client.close()
