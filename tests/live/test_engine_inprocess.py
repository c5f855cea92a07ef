"""The engine in-process against an in-process simulator: safe defaults, control endpoints, HA arming."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from grinder.binance.config import BinanceConfig
from grinder.connector.config import LiveConnectorConfig
from grinder.core.enums import SafeMode
from grinder.ha import HAConfig
from grinder.live.config import EngineConfig
from grinder.live.engine import LiveEngine
from grinder.live.journal import open_journal
from grinder.live.run import start_lease
from grinder.live.status import EngineHooks
from grinder.live.wiring import EngineSettings, build_engine
from grinder.ops.config import OpsConfig
from grinder.ops.server import OpsServer
from grinder.risk.config import RiskConfig
from grinder.sim.server import SimServer
from grinder.store import StoreConfig, Synchronous
from grinder.strategy import GridConfig, StrategyConfig
from tests.live.procs import poll

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def settings(sim: SimServer, tmp: Path, *, mode: SafeMode, armed: bool, ha: HAConfig | None = None,
             name: str = "journal") -> EngineSettings:
    grid = GridConfig(levels=2, spacing_bps=Decimal("3"), order_notional=Decimal("110"), max_position=Decimal("0.2"))
    return EngineSettings(
        engine=EngineConfig(symbols=SYMBOLS, stale_feed_s=5.0, shutdown_timeout_s=5.0),
        connector=LiveConnectorConfig(mode=mode, armed=armed, symbols=SYMBOLS, max_notional_per_order=Decimal("125")),
        binance=BinanceConfig(rest_url=sim.rest_url, ws_url=sim.ws_url),
        strategy=StrategyConfig(grid=grid, strategy_tag="t"),
        risk=RiskConfig(max_position_notional=Decimal("1500"), max_total_position_notional=Decimal("3000")),
        ops=OpsConfig(port=0),
        store=StoreConfig(journal_path=str(tmp / f"{name}.sqlite3"), synchronous=Synchronous.NORMAL),
        ha=ha,
    )


class Running:
    def __init__(self, engine: LiveEngine, ops: OpsServer, task: asyncio.Task[int], lease: Any) -> None:
        self.engine, self.ops, self.task, self.lease = engine, ops, task, lease

    async def stop(self) -> int:
        self.engine.stop()
        code = await asyncio.wait_for(self.task, 20)
        await self.ops.stop()
        return code


async def start(cfg: EngineSettings, *, keys: bool, env: dict[str, str] | None = None) -> Running:
    lease = await start_lease(cfg)
    journal, epoch = open_journal(cfg.store)
    engine = await build_engine(cfg, journal=journal, api_key="grinder-sim-key" if keys else None,
                                api_secret="grinder-sim-secret" if keys else None, lease=lease, id_epoch_s=epoch)
    ops = OpsServer(cfg.ops, EngineHooks(engine), env=env or {})
    await ops.start()
    task = asyncio.get_running_loop().create_task(engine.run())
    return Running(engine, ops, task, lease)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def readyz(session: aiohttp.ClientSession, run: Running) -> tuple[int, dict[str, Any]]:
    async with session.get(f"{run.ops.url}/readyz") as resp:
        return resp.status, await resp.json()


async def market_moves_on(run: Running, ticks: int = 20) -> None:
    """Await `ticks` more market events processed on every symbol (the engine had its chances to act)."""
    start = {name: view.ticks for name, view in run.engine.views.items()}
    await poll(lambda: all(v.ticks >= start[n] + ticks for n, v in run.engine.views.items()), 20,
               f"{ticks} more market events on every symbol", interval=0.05)


def ws_reconnects() -> float:
    """grinder_ws_reconnect_total summed over stream groups and reasons."""
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "grinder_ws_reconnect"
               for sample in metric.samples if sample.name == "grinder_ws_reconnect_total")


async def test_safe_defaults_without_keys_stream_but_never_write(
    sim_server: SimServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    cfg = settings(sim_server, tmp_path, mode=SafeMode.READ_ONLY, armed=False)
    assert EngineSettings().connector.mode is SafeMode.READ_ONLY and not EngineSettings().connector.armed
    run = await start(cfg, keys=False)
    try:
        await poll(lambda: all(v.ticks > 5 for v in run.engine.views.values()), 20, "ticks on both symbols")
        status, body = await readyz(session, run)
        assert status == 503 and body["role"] == "standalone" and body["ready"] is False
        assert any("not configured to trade" in r for r in body["reasons"])
        assert run.engine.counts.placed == 0
        assert sim_server.venue.open_orders() == []
    finally:
        assert await run.stop() == 0


async def test_control_disarm_and_kill_switch_need_the_token(
    sim_server: SimServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    cfg = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    run = await start(cfg, keys=True, env={"GRINDER_CONTROL_TOKEN": "tok-123456"})
    try:
        await poll(lambda: len(sim_server.venue.open_orders()) > 0, 20, "working orders on the simulator")
        async with session.post(f"{run.ops.url}/control/kill-switch") as resp:
            assert resp.status == 401
        assert sim_server.venue.open_orders()
        auth = {"Authorization": "Bearer tok-123456"}
        async with session.post(f"{run.ops.url}/control/kill-switch", headers=auth,
                                json={"reason": "test"}) as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["kill_switch"] is True and body["armed"] is False
        await poll(lambda: sim_server.venue.open_orders() == [], 10, "our orders cancelled by the kill switch")
        status, ready = await readyz(session, run)
        assert status == 503 and "kill switch engaged" in ready["reasons"]
        placed = run.engine.counts.placed
        # nothing new after the kill switch, while the engine keeps processing market data
        await market_moves_on(run)
        assert run.engine.counts.placed == placed
        assert sim_server.venue.open_orders() == []
    finally:
        assert await run.stop() == 0


async def test_only_the_leader_is_armed_and_a_follower_takes_over(
    sim_server: SimServer, tmp_path: Path, session: aiohttp.ClientSession, redis_url: str
) -> None:
    ha = HAConfig(enabled=True, redis_url=redis_url, lease_key=f"grinder:test:{os.getpid()}:{tmp_path.name}",
                  holder_id="a", ttl_ms=1000, renew_every_ms=300)
    first = await start(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True, ha=ha, name="a"),
                        keys=True)
    second: Running | None = None
    try:
        await poll(lambda: first.engine.parts.connector.config.armed, 10, "first engine armed as leader")
        second = await start(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True,
                                      ha=dataclasses.replace(ha, holder_id="b"), name="b"), keys=True)
        await poll(lambda: _ready_role(session, first, 200, "leader"), 15, "leader ready")
        assert await _ready_role(session, second, 503, "follower")
        assert second.engine.parts.connector.config.armed is False
        assert second.engine.counts.placed == 0
        assert await first.stop() == 0  # releases the lease
        await poll(lambda: second.engine.parts.connector.config.armed, 10, "follower promoted and armed")
        await poll(lambda: _ready_role(session, second, 200, "leader"), 15, "new leader ready")
    finally:
        if not first.task.done():
            await first.stop()
        if second is not None:
            assert await second.stop() == 0


async def _ready_role(session: aiohttp.ClientSession, run: Running, status: int, role: str) -> bool:
    got, body = await readyz(session, run)
    return got == status and body["role"] == role


async def test_stream_drops_lose_no_fill_and_leave_no_order(sim_factory: Any, tmp_path: Path) -> None:
    from grinder.live.journal import journal_fills
    from grinder.sim.config import SimConfig

    sim_server = await sim_factory(SimConfig(port=0, seed=7, speed=5.0))
    cfg = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    run = await start(cfg, keys=True)
    try:
        await poll(lambda: sum(v.fill_count for v in run.engine.views.values()) >= 1, 30, "first fill")
        reconnects = ws_reconnects()
        dropped = sim_server.control.drop_ws()  # every WebSocket, market and user data
        assert dropped > 0
        await poll(lambda: ws_reconnects() >= reconnects + dropped, 15, "every dropped stream reconnecting")
        await poll(lambda: run.engine.parts.user_connected() and run.engine.parts.market_connected(), 15,
                   "streams reconnected")
        fills_before = sum(v.fill_count for v in run.engine.views.values())
        await poll(lambda: sum(v.fill_count for v in run.engine.views.values()) > fills_before, 30,
                   "fills after the reconnects")
        # Tick-to-order is stamped when order requests reach the socket: per request, and per
        # market message for its first and its last request.
        lat = run.engine.status()["latency"]
        first, every = lat["tick_to_first_order"], lat["tick_to_order"]
        assert 0 < first["count"] <= every["count"]
        assert 0 < lat["tick_to_all_orders"]["count"] <= first["count"]
        assert 0 < first["p50_us"] <= lat["tick_to_all_orders"]["p99_us"]
    finally:
        assert await run.stop() == 0
    assert sim_server.venue.open_orders() == []
    journaled = {(f["symbol"], f["trade_id"]) for f in journal_fills(cfg.store.journal_path)}
    simulated = {(s, t.trade_id) for s in SYMBOLS for t in sim_server.venue.user_trades(s)}
    assert journaled == simulated


async def test_restart_with_adopt_keeps_leftover_orders_without_duplicating_levels(
    sim_server: SimServer, tmp_path: Path
) -> None:
    base = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    keep = dataclasses.replace(base, engine=dataclasses.replace(base.engine, cancel_on_shutdown=False))
    first = await start(keep, keys=True)
    await poll(lambda: len(sim_server.venue.open_orders()) >= 4, 20, "first engine's grid on the book")
    assert await first.stop() == 0
    left = {o.client_order_id for o in sim_server.venue.open_orders()}
    assert left, "cancel_on_shutdown=false must leave the grid resting"
    adopt = dataclasses.replace(base, engine=dataclasses.replace(base.engine, leftover_orders="adopt"))
    second = await start(adopt, keys=True)
    try:
        await poll(lambda: second.engine._phase == "running", 20, "second engine running")
        adopted = {o.client_order_id for o in second.engine.parts.pipeline.working_orders()}
        assert left <= adopted | _closed_since(sim_server, left)
        await market_moves_on(second, 50)  # the adopting engine re-plans on fresh market data
        levels = [(o.symbol, o.client_order_id.split("_")[3]) for o in sim_server.venue.open_orders()]
        assert len(levels) == len(set(levels)), f"two live orders on one grid level: {levels}"
    finally:
        assert await second.stop() == 0
    assert sim_server.venue.open_orders() == []


def _closed_since(sim: SimServer, ids: set[str]) -> set[str]:
    """Leftovers that filled between the two engines (they cannot be adopted)."""
    still_open = {o.client_order_id for o in sim.venue.open_orders()}
    return ids - still_open


async def test_paper_mode_trades_the_in_process_venue_on_live_data_without_keys(
    sim_factory: Any, tmp_path: Path
) -> None:
    from grinder.sim.config import SimConfig

    sim_server = await sim_factory(SimConfig(port=0, seed=7, speed=5.0))
    cfg = settings(sim_server, tmp_path, mode=SafeMode.PAPER, armed=True)
    run = await start(cfg, keys=False)
    try:
        await poll(lambda: run.engine.counts.placed > 0, 20, "paper orders placed")
        await poll(lambda: sum(v.fill_count for v in run.engine.views.values()) > 0, 30, "paper fills")
        assert run.engine.status()["exchange"] == "paper://venue"
        # Nothing reached the exchange: the simulator saw no order at all.
        assert sim_server.venue.open_orders() == []
        assert all(not sim_server.venue.user_trades(s) for s in SYMBOLS)
    finally:
        assert await run.stop() == 0


async def test_stale_market_data_pulls_our_quotes_until_data_returns(sim_factory: Any, tmp_path: Path) -> None:
    from grinder.sim.config import SimConfig

    sim_server = await sim_factory(SimConfig(port=0, seed=7, speed=2.0))
    base = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    cfg = dataclasses.replace(base, engine=dataclasses.replace(base.engine, stale_feed_s=1.0))
    run = await start(cfg, keys=True)
    try:
        await poll(lambda: len(sim_server.venue.open_orders()) >= 4, 20, "grid on the book")
        sim_server.control.stall_ws(3000)  # frames held back for 3 s; REST keeps working
        await poll(lambda: sim_server.venue.open_orders() == [], 5, "quotes pulled while the feed is stale")
        await poll(lambda: len(sim_server.venue.open_orders()) >= 4, 15, "grid back once data is fresh")
    finally:
        assert await run.stop() == 0
