"""A stop that lands right after start-up still shuts the engine down (SIGTERM during the first
loop iterations: the reconciliation loop has just been started and is cancelled at once).

On Python 3.11 `asyncio.wait_for` can lose a cancellation that arrives in the same loop iteration
as the awaited event (CPython gh-86296); the reconciliation loop then ran on and the shutdown
waited for it for ever (`grinder live` ignored SIGTERM). `grinder.core.aio` waits without that race.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from grinder.core.enums import SafeMode
from grinder.live.journal import open_journal
from grinder.live.wiring import build_engine
from grinder.sim.server import SimServer
from tests.live.test_engine_inprocess import settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.mark.parametrize("spins", range(6))
async def test_shutdown_right_after_start_ends_with_no_order_left(
    sim_server: SimServer, tmp_path: Path, spins: int
) -> None:
    cfg = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    journal, epoch = open_journal(cfg.store)
    engine = await build_engine(cfg, journal=journal, api_key="grinder-sim-key",
                                api_secret="grinder-sim-secret", lease=None, id_epoch_s=epoch)
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
    assert engine.phase == "stopped" and engine.exit_code == 0
    assert sim_server.venue.open_orders() == []
