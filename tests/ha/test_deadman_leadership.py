"""The dead-man's switch after a leader loses leadership: Redis stopped, or the lease taken away.

The engine's writes are fenced as soon as its lease is gone, so it cannot cancel its own orders;
the exchange's countdown (`countdownCancelAll`, refreshed only while armed) must do it. Confirmed
by query: 0 resting orders of ours on the simulator within TTL + countdown, and none placed after.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from grinder.chaos.engines import Instance, InstanceSpec, RedisProcess
from tests.live.procs import SimProcess, free_port, get_json, poll

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TTL_MS = 2000
COUNTDOWN_S = 3.0
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=5.0, seed=5)
    yield proc
    proc.stop()


@pytest.mark.parametrize("loss", ["redis_stopped", "lease_taken"])
async def test_leader_that_loses_leadership_leaves_no_resting_order(sim: SimProcess, tmp_path: Path,
                                                                    loss: str) -> None:
    redis = RedisProcess(tmp_path)
    redis.start()
    key = f"grinder:test:deadman:{os.getpid()}:{loss}"
    inst = Instance(InstanceSpec("a", sim.rest_url, sim.ws_url, redis.url, tmp_path / "journal.sqlite3",
                                 lease_key=key, ttl_ms=TTL_MS, renew_every_ms=500,
                                 deadman_countdown_s=COUNTDOWN_S, deadman_interval_s=0.5), tmp_path, free_port())
    client = sim.client()

    async def ours() -> list[str]:
        out: list[str] = []
        for sym in SYMBOLS:
            out += [o.clientOrderId for o in await client.open_orders(sym) if o.clientOrderId.startswith("grinder_")]
        return out

    async def none_left() -> bool:
        return not await ours()

    try:
        inst.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            async def leading_and_resting() -> bool:
                try:
                    _, st = await get_json(session, f"{inst.ops_url}/status")
                except (TimeoutError, aiohttp.ClientError, OSError):
                    return False
                return st.get("role") == "leader" and len(await ours()) >= 3

            await poll(leading_and_resting, 40, "a leader with 3+ resting orders")
            await poll(lambda: "dead-man switch armed" in inst.log_text(), 10, "the dead-man switch to arm")
            resting = await ours()
            lost_at = time.monotonic()
            if loss == "redis_stopped":
                redis.stop()
            else:  # another holder with a larger token owns the key now (and keeps it)
                r = aioredis.Redis.from_url(redis.url)
                try:
                    await r.set(key, f"intruder:{10**15}", px=60_000)
                finally:
                    await r.aclose()
            await poll(none_left, TTL_MS / 1000 + COUNTDOWN_S + 5, "the exchange to cancel our orders",
                       interval=0.05)
            elapsed = time.monotonic() - lost_at
            # Nothing new rests afterwards: the instance no longer writes.
            await asyncio.sleep(1.5)
            assert await ours() == []
            _, st = await get_json(session, f"{inst.ops_url}/status")
            assert st["role"] != "leader"
        assert resting
        assert elapsed <= TTL_MS / 1000 + COUNTDOWN_S + 1.0, f"cancelled after {elapsed:.2f}s"
        print(f"deadman loss={loss} resting_at_loss={len(resting)} all_cancelled_after_s={elapsed:.2f}")
    finally:
        await client.close()
        await asyncio.to_thread(inst.terminate)
        redis.stop()
