"""The live engine against Binance's connection lifecycle, accelerated through `/_sim/lifecycle`:
every WebSocket is cut after its (shortened) 24 h, and the listenKey expires without keepalive. The
engine must keep trading through both and journal exactly the fills the simulator made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grinder.core.enums import SafeMode
from grinder.live.journal import journal_fills
from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer
from tests.live.procs import poll
from tests.live.test_engine_inprocess import SYMBOLS, Running, settings, start

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
DAY_MS = 86_400_000


class Watch:
    """The engine and simulator under test, and the listenKeys the simulator expired."""

    def __init__(self, sim: SimServer, run: Running, journal: str) -> None:
        self.sim, self.run, self.journal = sim, run, journal
        self.expired: list[str] = []
        expire = sim.user.expire_due

        def counting(now_ms: int, force: bool = False) -> list[str]:
            keys = expire(now_ms, force)
            self.expired.extend(keys)
            return keys

        sim.user.expire_due = counting  # type: ignore[method-assign]

    def fills(self) -> int:
        return sum(v.fill_count for v in self.run.engine.views.values())

    async def lifecycle(self, **body: int) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.sim.rest_url}/_sim/lifecycle", json=body) as r,
        ):
            assert r.status == 200 and (await r.json()).items() >= body.items()

    async def streams_back(self, timeout: float) -> None:
        parts = self.run.engine.parts
        await poll(
            lambda: parts.user_connected() and parts.market_connected(), timeout, "both streams connected"
        )

    async def trades_on(self) -> None:
        after = self.fills()
        await poll(lambda: self.fills() > after, 30, "fills after the lifecycle events")

    def assert_no_fill_lost(self) -> None:
        assert self.sim.venue.open_orders() == []
        journaled = {(f["symbol"], f["trade_id"]) for f in journal_fills(self.journal)}
        simulated = {(s, t.trade_id) for s in SYMBOLS for t in self.sim.venue.user_trades(s)}
        assert journaled == simulated


@pytest.fixture
async def watch(sim_factory: Any, tmp_path: Path) -> AsyncIterator[Watch]:
    sim = await sim_factory(SimConfig(port=0, seed=7, speed=5.0))
    cfg = settings(sim, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    run = await start(cfg, keys=True)
    w = Watch(sim, run, cfg.store.journal_path)
    try:
        await poll(lambda: w.fills() >= 1, 30, "first fill")
        yield w
    finally:
        if not run.task.done():
            assert await run.stop() == 0


async def test_engine_survives_the_cutoff_then_a_listen_key_expiry(watch: Watch) -> None:
    sim = watch.sim
    first = list(sim.hub.conns)  # held: an id() of a freed connection can be reused
    await watch.lifecycle(max_connection_lifetime_ms=1000)
    await poll(lambda: not any(c is old for c in sim.hub.conns for old in first), 10, "every connection cut at its lifetime")
    await watch.lifecycle(max_connection_lifetime_ms=DAY_MS)
    await watch.streams_back(15)
    # No keepalive for longer than the (shortened) validity: the key expires while the stream is up.
    await watch.lifecycle(listen_key_ttl_ms=1500)
    await poll(lambda: bool(watch.expired), 10, "listenKey expired")
    await poll(lambda: bool(sim.user.keys) and sim.hub.has_subscribers(next(iter(sim.user.keys))), 15,
               "the engine's new listenKey subscribed")  # fmt: skip
    await watch.lifecycle(listen_key_ttl_ms=3_600_000)
    await watch.trades_on()
    assert await watch.run.stop() == 0
    watch.assert_no_fill_lost()


async def test_engine_survives_a_listen_key_expiry_while_disconnected(watch: Watch) -> None:
    sim = watch.sim
    # A network cut, and the key runs out before the engine is back: listenKeyExpired reaches nobody.
    assert sim.control.drop_ws() > 0
    assert sim.control.expire_listen_key()
    await poll(lambda: not watch.run.engine.parts.user_connected(), 5, "the engine saw the cut")
    await watch.streams_back(8)
    await watch.trades_on()
    assert await watch.run.stop() == 0
    watch.assert_no_fill_lost()
