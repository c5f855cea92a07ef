"""Leader lease against a real redis-server: one leader, failover, fencing, fail-safe step-down."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable

import pytest

from grinder.core.clock import VirtualClock
from grinder.ha import HAConfig, LeaderLease, Standalone, leadership_from_config
from grinder.ha import metrics as ha_metrics
from tests.fixtures.redis_server import free_port

pytestmark = pytest.mark.integration
TTL = 400
RENEW = 100


async def eventually(cond: Callable[[], Awaitable[bool] | bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def lease(url: str, key: str, holder: str, **kw: object) -> LeaderLease:
    return LeaderLease(url, key, holder, TTL, RENEW, **kw)  # type: ignore[arg-type]


async def test_two_contenders_one_leader(redis_url: str) -> None:
    a, b = lease(redis_url, "t1", "a"), lease(redis_url, "t1", "b")
    assert await a.acquire()
    # grinder_ha_is_leader / grinder_ha_fencing_token (Runbook 17) follow the instance's own role
    assert ha_metrics.HA_IS_LEADER._value.get() == 1
    assert ha_metrics.HA_FENCING_TOKEN._value.get() == a.fencing_token
    assert not await b.acquire()
    assert ha_metrics.HA_IS_LEADER._value.get() == 0  # b published its (follower) role last
    assert (a.role, b.role) == ("leader", "follower")
    assert a.may_arm and not b.may_arm
    assert await a.current_holder() == f"a:{a.fencing_token}"
    await a.stop()
    await b.stop()


async def test_failover_after_ttl_with_larger_fencing_token(redis_url: str) -> None:
    a, b = lease(redis_url, "t2", "a"), lease(redis_url, "t2", "b")
    assert await a.acquire()
    token_a = a.fencing_token
    assert token_a is not None
    # a stops renewing (hung process): it must stop calling itself leader before the key expires
    await eventually(lambda: not a.is_leader, 2.0)
    await eventually(b.acquire, 3.0)
    assert b.is_leader and b.fencing_token is not None and b.fencing_token > token_a
    await a.stop()
    await b.stop()


async def test_stale_leader_cannot_renew(redis_url: str) -> None:
    frozen = VirtualClock(0)  # a's local deadline never passes: only Redis can tell it the truth
    a = lease(redis_url, "t3", "a", clock=frozen)
    b = lease(redis_url, "t3", "b")
    assert await a.acquire()
    await eventually(b.acquire, 3.0)  # the key expired in Redis; b took it
    assert a.is_leader  # a still believes it ...
    assert not await a.verify()  # ... until Redis tells it otherwise
    assert await b.verify()
    assert a.role == "follower" and b.role == "leader"
    await a.release()  # must not delete b's lease
    assert await b.current_holder() == f"b:{b.fencing_token}"
    await a.stop()
    await b.stop()


async def test_release_hands_over_immediately_and_listeners_fire(redis_url: str) -> None:
    a, b = lease(redis_url, "t4", "a"), lease(redis_url, "t4", "b")
    roles: list[str] = []
    b.add_listener(roles.append)
    await a.start()
    await b.start()
    assert a.role == "leader" and b.role == "follower"
    await a.stop()  # clean shutdown releases the key
    await a.stop()  # idempotent (the engine and its runner may both stop it)
    await eventually(lambda: b.role == "leader", 2.0)
    assert roles == ["leader"]
    # the background loop keeps renewing: b's deadline moves on, past where its first term would end
    first_deadline = b._deadline_ns
    await eventually(lambda: b._deadline_ns > first_deadline + TTL * 1_000_000, 3.0)
    assert b.is_leader and roles == ["leader"]
    assert await b.current_holder() == f"b:{b.fencing_token}"
    await b.stop()


async def test_steps_down_when_redis_is_unreachable() -> None:
    exe = shutil.which("redis-server")
    assert exe is not None
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        await eventually(up, 10.0)
        clock = VirtualClock(0)  # the lease's local deadline is read from this clock only
        a = lease(url, "t5", "a", clock=clock)
        roles: list[str] = []
        a.add_listener(roles.append)
        assert await a.acquire() and a.is_leader
        proc.kill()
        proc.wait(timeout=5)
        # Redis is gone: a renewal fails, but the lease is still ours until the local deadline,
        # which is a safety margin *before* Redis would expire the key for someone else.
        step_down_ms = TTL - a.margin_ms
        assert 0 < step_down_ms < TTL
        clock.advance_ms(step_down_ms - 1)
        assert await a.tick() == "leader"
        assert not await a.renew() and a.is_leader
        clock.advance_ms(1)
        assert await a.tick() == "follower"
        assert not a.may_arm and a.fencing_token is None
        assert roles == ["leader", "follower"]
        assert ha_metrics.HA_IS_LEADER._value.get() == 0
        await a.stop()
    finally:
        proc.kill()
        proc.wait(timeout=5)


async def test_standalone_and_config() -> None:
    s = leadership_from_config(HAConfig())
    assert isinstance(s, Standalone) and s.role == "standalone" and s.may_arm
    await s.start()
    assert ha_metrics.HA_IS_LEADER._value.get() == 1
    with pytest.raises(ValueError, match="renew_every_ms"):
        HAConfig(ttl_ms=1000, renew_every_ms=600)
    lease_ = leadership_from_config(HAConfig(enabled=True, ttl_ms=1000, renew_every_ms=300))
    assert isinstance(lease_, LeaderLease) and ":" in lease_.holder_id
    await lease_.stop()


async def test_stale_leader_compare_and_renew_is_refused(redis_url: str) -> None:
    frozen = VirtualClock(0)
    a = lease(redis_url, "t6", "a", clock=frozen)
    b = lease(redis_url, "t6", "b")
    assert await a.acquire()
    await eventually(b.acquire, 3.0)
    assert a.is_leader and not await a.renew()  # the Lua compare sees b's value
    assert a.role == "follower" and await b.current_holder() == f"b:{b.fencing_token}"
    await a.stop()
    await b.stop()
