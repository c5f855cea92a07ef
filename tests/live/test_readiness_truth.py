"""Readiness that means "can trade" and start-up refusals, in-process against an in-process simulator.

- the account's position mode differs from `[connector] position_mode`: the engine refuses to
  start with an error naming both and the fix, and sends nothing;
- a Binance 418 ban: /readyz is not ready, naming the self-block, while it lasts; the shutdown
  that follows cannot cancel and says so with exit code 3 instead of hanging.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from grinder.core.enums import SafeMode
from grinder.live.startup import StartupRefused
from grinder.sim.server import SimServer
from tests.live.procs import poll
from tests.live.test_engine_inprocess import settings, start

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def sim_post(sim: SimServer, path: str, body: dict[str, object]) -> None:
    """A fault through the simulator's HTTP control API (`/_sim`)."""
    async with aiohttp.ClientSession() as http, http.post(f"{sim.rest_url}{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def test_start_is_refused_when_the_account_position_mode_differs(sim_server: SimServer, tmp_path: Path) -> None:
    sim_server.venue.set_dual_side(True)
    run = await start(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True), keys=True)
    try:
        with pytest.raises(StartupRefused, match=r'hedge position mode .* position_mode = "one-way"; switch'):
            await asyncio.wait_for(run.task, 20)
    finally:
        await run.ops.stop()
    assert run.engine.counts.placed == 0 and sim_server.venue.open_orders() == []


async def test_readyz_names_the_418_self_block(sim_server: SimServer, tmp_path: Path) -> None:
    run = await start(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True), keys=True)
    try:
        await poll(lambda: run.engine.counts.placed > 0, 20, "orders placed")
        assert not any("self-blocked" in r for r in run.engine.readiness().reasons)
        sim_server.control.set_faults(ban=1)
        ready = await poll(lambda: any("self-blocked by the exchange (418/429)" in r
                                       for r in run.engine.readiness().reasons), 20, "/readyz to name the ban")
        assert ready and not run.engine.readiness().ready
    finally:
        code = await run.stop()
    assert code == 3  # banned: our orders could not be cancelled, and the exit code says so


async def test_readyz_is_not_ready_after_a_429_without_retry_after(sim_server: SimServer, tmp_path: Path) -> None:
    """A 429 without Retry-After blocks the request-weight pool to the end of Binance's minute window:
    /readyz (over HTTP) must say not ready, naming that back-off, while it lasts."""
    run = await start(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True), keys=True)
    try:
        await poll(lambda: run.engine.counts.placed > 0, 20, "orders placed")
        # At least 15 s of the minute window left, so the back-off cannot end before we look.
        # (The simulator runs on this machine's clock: its minute windows are ours.)
        await poll(lambda: time.time() % 60 < 45, 20, "the early part of a minute window")
        assert run.engine.readiness().ready
        await sim_post(sim_server, "/_sim/faults", {"too_many_requests": 1})
        await poll(lambda: any("429 without Retry-After" in r for r in run.engine.readiness().reasons), 10,
                   "/readyz to name the 429 back-off")
        async with aiohttp.ClientSession() as http, http.get(f"{run.ops.url}/readyz") as resp:
            body = await resp.json()
        assert resp.status == 503 and not body["ready"]
        assert any("self-blocked by the exchange" in r and "REQUEST_WEIGHT_1M" in r for r in body["reasons"])
    finally:
        await run.stop()


async def test_readyz_is_not_ready_while_the_user_stream_is_silent(sim_server: SimServer, tmp_path: Path) -> None:
    """Liveness of the (quiet by nature) user stream is ping/pong: pongs keep a quiet stream ready; a
    stall that also leaves pings unanswered makes /readyz name the user stream until it is back."""
    run = await start(settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=False), keys=True)
    user = run.engine.parts.user_feed
    seen: list[str] = []

    def user_reasons() -> list[str]:
        reasons = [r for r in run.engine.readiness().reasons if "user-data stream" in r]
        seen.extend(reasons)
        return reasons

    try:
        await poll(lambda: user.connection is not None and user.connection.is_connected, 20, "user stream up")
        conn = user.connection
        # Disarmed: nothing of ours trades, the stream carries no event; two heartbeats answered by pongs.
        pongs = conn.pongs
        await poll(lambda: not user_reasons() and conn.pongs >= pongs + 2, 15, "two pongs on a quiet stream",
                   interval=0.05)
        assert seen == [], seen
        # A network stall: frames held AND pings unanswered.
        await sim_post(sim_server, "/_sim/actions/stall_ws", {"ms": 8000, "silent": True})
        stalled_at = time.monotonic()
        await poll(user_reasons, 10, "/readyz to name the silent user stream", interval=0.05)
        assert time.monotonic() - stalled_at <= 1.5 * 2.0 + 1.5  # liveness window (heartbeat_s 2) + slack
        async with aiohttp.ClientSession() as http, http.get(f"{run.ops.url}/readyz") as resp:
            body = await resp.json()
        assert resp.status == 503 and any("user-data stream" in r for r in body["reasons"]), body
        # The engine drops the dead socket and reconnects (a new connection is not stalled).
        await poll(lambda: not user_reasons(), 15, "the user stream alive again")
    finally:
        await run.stop()
