"""A stop that lands right after start-up still shuts the engine down (SIGTERM during the first
loop iterations: the reconciliation loop has just been started and is cancelled at once).

On Python 3.11 `asyncio.wait_for` can lose a cancellation that arrives in the same loop iteration
as the awaited event (CPython gh-86296); the reconciliation loop then ran on and the shutdown
waited for it for ever (`grinder live` ignored SIGTERM). `grinder.core.aio` waits without that race.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from grinder.core.enums import SafeMode
from grinder.ha import HAConfig
from grinder.live.engine import LiveEngine
from grinder.live.instance import instance_store
from grinder.live.journal import open_journal
from grinder.live.run import start_lease
from grinder.live.wiring import EngineSettings, build_engine
from grinder.sim.server import SimServer
from tests.live.test_engine_inprocess import settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def _start_then_stop(cfg: EngineSettings, spins: int) -> LiveEngine:
    """`grinder live`'s start-up, then a stop `spins` loop iterations after quoting began."""
    lease = await start_lease(cfg)
    journal, epoch = open_journal(instance_store(cfg.store, cfg.ha))
    engine = await build_engine(cfg, journal=journal, api_key="grinder-sim-key",
                                api_secret="grinder-sim-secret", lease=lease, id_epoch_s=epoch)
    engine.gc_freeze = False
    await engine.start()
    assert engine.reconcile is not None
    for _ in range(spins):  # the stop lands at a different point of the loops' first steps
        await asyncio.sleep(0)
    shutdown = asyncio.get_running_loop().create_task(engine.shutdown())
    done, _ = await asyncio.wait({shutdown}, timeout=30)  # the shutdown timeout is 5 s
    if not done:
        shutdown.cancel()
    assert done, f"shutdown did not end (stop after {spins} loop iterations)"
    shutdown.result()
    return engine


@pytest.mark.parametrize("spins", range(6))
async def test_shutdown_right_after_start_ends_with_no_order_left(
    sim_server: SimServer, tmp_path: Path, spins: int
) -> None:
    engine = await _start_then_stop(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True), spins)
    assert engine.phase == "stopped" and engine.exit_code == 0
    assert sim_server.venue.open_orders() == []


@pytest.mark.parametrize("spins", range(0, 6, 2))
async def test_an_ha_leader_stopped_right_after_start_releases_its_lease_and_leaves_no_order(
    sim_server: SimServer, tmp_path: Path, redis_url: str, spins: int
) -> None:
    key = f"grinder:test:stop:{os.getpid()}:{tmp_path.name}"
    ha = HAConfig(enabled=True, redis_url=redis_url, lease_key=key, holder_id="a", ttl_ms=1000, renew_every_ms=300)
    engine = await _start_then_stop(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True, ha=ha),
                                    spins)
    assert engine.role == "leader"
    assert engine.phase == "stopped" and engine.exit_code == 0
    assert sim_server.venue.open_orders() == []
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.get(key) is None  # released at once, not left to expire
    finally:
        await client.aclose()
