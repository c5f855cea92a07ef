"""HA fencing end to end: two `grinder.live.run` processes, a real redis-server, `grinder sim`.

The leader is paused with SIGSTOP beyond its lease TTL and resumed: the exchange must receive 0
order writes from it after its lease deadline (each instance reaches the simulator through its own
recording proxy, so every write is attributed), and the follower must take over within
TTL + one renew interval. Each instance keeps its own journal (Runbook 07 with one config path).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grinder.chaos.engines import Instance, InstanceSpec
from grinder.chaos.proxy import WireProxy
from tests.live.procs import SimProcess, free_port, get_json, poll

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TTL_MS = 2000
RENEW_MS = 500
TRIALS = int(os.environ.get("GRINDER_SIGSTOP_TRIALS", "2"))


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=10.0)
    yield proc
    proc.stop()


async def _role(session: aiohttp.ClientSession, inst: Instance) -> str | None:
    try:
        _, body = await get_json(session, f"{inst.ops_url}/readyz")
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None
    return str(body.get("role")) if isinstance(body, dict) else None


async def _placed(session: aiohttp.ClientSession, inst: Instance) -> Any:
    _, st = await get_json(session, f"{inst.ops_url}/status")
    return st["orders"]["placed"] > 0 and st


async def test_paused_leader_sends_nothing_after_its_lease_and_follower_takes_over(
    sim: SimProcess, redis_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"  # one path in both configs, as Runbook 07 runs them
    proxies = {h: WireProxy(sim.rest_url, sim.ws_url) for h in ("a", "b")}
    for p in proxies.values():
        await p.start()
    lease_key = f"grinder:test:fence:{os.getpid()}:{tmp_path.name}"
    inst = {
        h: Instance(InstanceSpec(h, p.rest_url, p.ws_url, redis_url, journal, lease_key=lease_key,
                                 ttl_ms=TTL_MS, renew_every_ms=RENEW_MS), tmp_path, free_port())
        for h, p in proxies.items()
    }
    failovers: list[float] = []
    late_writes: list[Any] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            inst["a"].start()
            await poll(lambda: _role(session, inst["a"]), 30, "instance a up")
            assert await _role(session, inst["a"]) == "leader"
            inst["b"].start()
            await poll(lambda: _role(session, inst["b"]), 30, "instance b up")
            leader, follower = "a", "b"
            for _ in range(TRIALS):
                await poll(lambda: _placed(session, inst[leader]), 40, f"{leader} placing orders")  # noqa: B023
                await asyncio.sleep(0.5)
                paused_ns = time.monotonic_ns()
                # the proxy sees the leader's order writes (REST and WebSocket API): else a late one
                # could not be seen either
                assert any(w.recv_ns < time.monotonic_ns() for w in proxies[leader].writes), leader
                inst[leader].signal(signal.SIGSTOP)
                deadline_ns = paused_ns + TTL_MS * 1_000_000  # the lease deadline is before this
                while await _role(session, inst[follower]) != "leader":
                    assert time.monotonic_ns() - paused_ns < 10e9, "follower never took over"
                    await asyncio.sleep(0.05)
                failovers.append((time.monotonic_ns() - paused_ns) / 1e9)
                await asyncio.sleep(max(0.0, 2 * TTL_MS / 1000 - (time.monotonic_ns() - paused_ns) / 1e9))
                inst[leader].signal(signal.SIGCONT)
                await poll(lambda: _role(session, inst[leader]) , 10, "resumed instance answering")  # noqa: B023
                await asyncio.sleep(2.0)  # the resumed process works through its backlog meanwhile
                assert await _role(session, inst[leader]) == "follower"
                late_writes += [w for w in proxies[leader].writes if w.recv_ns > deadline_ns]
                leader, follower = follower, leader
            await poll(lambda: _placed(session, inst[leader]), 40, "the last leader placing orders")
        logs = {h: i.log_text() for h, i in inst.items()}
        assert late_writes == [], f"writes after the lease deadline: {late_writes}"
        assert all(f <= (TTL_MS + RENEW_MS) / 1000 + 0.3 for f in failovers), failovers
        for h, text in logs.items():
            assert "IntegrityError" not in text and "Traceback" not in text, f"instance {h}: see {inst[h].log_path}"
        assert (tmp_path / "journal.a.sqlite3").exists() and (tmp_path / "journal.b.sqlite3").exists()
        assert not journal.exists()
        print(f"failover_s={failovers}")
    finally:
        for i in inst.values():
            await asyncio.to_thread(i.terminate)
        for p in proxies.values():
            await p.stop()
