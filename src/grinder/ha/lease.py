"""The leader lease: one Redis key per account, held with a TTL and a fencing token (ADR-049).

Acquire is `SET key value NX PX ttl` inside a Lua script that first takes a fencing token from
`INCR key:fencing`, raised to a floor the client passes: max(largest token this instance has seen
+ 1, wall-clock ms). So every leadership term has a larger token than the one before, also after a
Redis restart that lost the counter (ADR-110). Renew and
release are Lua compare-and-act on the exact value (`holder:token`): a stale leader whose key
expired (and was taken) cannot renew or delete the new leader's lease. Leadership is also bounded
locally: an instance stops calling itself leader at `last successful renewal start + TTL − margin`,
so when Redis is unreachable it steps down before any other instance can acquire the key.
`write_permit()` is the fence every write asks immediately before it is sent (ADR-110).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from grinder.core.aio import wait_set
from grinder.core.clock import Clock, WallClock
from grinder.ha import metrics
from grinder.ha.config import HAConfig

log = logging.getLogger(__name__)

ROLE_LEADER = "leader"
ROLE_FOLLOWER = "follower"
ROLE_STANDALONE = "standalone"

_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then return {0, held, 0} end
local t = redis.call('INCR', KEYS[2])
local fresh = 0
if t == 1 then fresh = 1 end
local floor = tonumber(ARGV[3])
if t < floor then
  t = floor
  redis.call('SET', KEYS[2], t)
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. t, 'NX', 'PX', ARGV[2])
return {t, '', fresh}
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class Leadership(Protocol):
    """What the engine uses: the role, whether arming is allowed, start/stop and change listeners."""

    @property
    def role(self) -> str: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def may_arm(self) -> bool: ...
    @property
    def fencing_token(self) -> int | None: ...
    def write_permit(self) -> str | None: ...
    def add_listener(self, callback: Callable[[str], None]) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Standalone:
    """HA disabled: this process is the only one and may arm (role "standalone")."""

    role = ROLE_STANDALONE
    is_leader = True
    may_arm = True
    fencing_token: int | None = None

    def write_permit(self) -> str | None:
        """Always permitted: nobody else can lead."""
        return None

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """The role never changes."""

    async def start(self) -> None:
        metrics.HA_IS_LEADER.set(1)

    async def stop(self) -> None:
        return None


def default_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLease:
    """A leader lease in Redis. `start()` tries once and keeps renewing / contending in the background."""

    def __init__(
        self,
        redis_url: str,
        key: str,
        holder_id: str,
        ttl_ms: int = 10_000,
        renew_every_ms: int = 3_000,
        *,
        clock: Clock | None = None,
    ) -> None:
        if not holder_id:
            raise ValueError("holder_id must identify this instance (e.g. hostname:pid)")
        if not 0 < renew_every_ms < ttl_ms:
            raise ValueError(f"renew_every_ms ({renew_every_ms}) must be > 0 and below ttl_ms ({ttl_ms})")
        self.key = key
        self.fencing_key = f"{key}:fencing"
        self.holder_id = holder_id
        self.ttl_ms = ttl_ms
        self.renew_every_ms = renew_every_ms
        self.margin_ms = max(ttl_ms // 10, 20)  # step down this long before Redis would expire the key
        self._clock = clock or WallClock()
        timeout_s = max(0.05, min(renew_every_ms, ttl_ms - self.margin_ms) / 2000)
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
        )
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._token: int | None = None
        self._highest_seen = 0  # the largest fencing token observed in Redis (ours or another holder's)
        self._deadline_ns = 0
        self._writes_from_ns = 0  # after a Redis state loss: no write before every older lease expired
        self._role = ROLE_FOLLOWER
        self._listeners: list[Callable[[str], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopped = False

    # ----------------------------------------------------------------- state
    @property
    def is_leader(self) -> bool:
        """True only while our lease is certainly still valid in Redis (local deadline not passed)."""
        return self._token is not None and self._clock.monotonic_ns() < self._deadline_ns

    @property
    def role(self) -> str:
        return ROLE_LEADER if self.is_leader else ROLE_FOLLOWER

    @property
    def may_arm(self) -> bool:
        return self.is_leader

    @property
    def fencing_token(self) -> int | None:
        """The token of the term we hold; compare it where a write must be fenced."""
        return self._token if self.is_leader else None

    def write_permit(self) -> str | None:
        """None when a write may be sent now, else why not (the write is then not sent).

        Checked immediately before every order request: our term's token must be the largest seen,
        and the monotonic clock must be before the lease deadline (the last renewal's SEND time + TTL
        − margin). A process resumed after SIGSTOP fails here at once, before its first request.
        """
        token = self._token
        if token is None:
            return "not the HA leader (no lease held)"
        left_ns = self._deadline_ns - self._clock.monotonic_ns()
        if left_ns <= 0:
            return f"HA lease deadline passed {-left_ns // 1_000_000} ms ago (fencing token {token})"
        if self._highest_seen > token:
            return f"fencing token {token} superseded by {self._highest_seen}"
        wait_ns = self._writes_from_ns - self._clock.monotonic_ns()
        if wait_ns > 0:
            return (f"lease taken after Redis lost its state: writes wait {wait_ns // 1_000_000} ms more, "
                    "until any earlier leader's lease has expired")
        return None

    def _observe(self, token: int) -> None:
        if token > self._highest_seen:
            self._highest_seen = token

    def _token_floor(self) -> int:
        """The least token a new term may take: above all we saw, and above wall-clock ms (ADR-110)."""
        return max(self._highest_seen + 1, self._clock.now_ms())

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """`callback(role)` on every role change (the engine disarms on "follower")."""
        self._listeners.append(callback)

    def _value(self) -> str:
        return f"{self.holder_id}:{self._token}"

    def _publish(self) -> None:
        if self._token is not None and not self.is_leader:
            log.warning("ha_lease_expired_locally holder=%s fencing_token=%s", self.holder_id, self._token)
            self._token = None
        role = self.role
        metrics.HA_IS_LEADER.set(1 if role == ROLE_LEADER else 0)
        metrics.HA_FENCING_TOKEN.set(self._token or 0)
        if role != self._role:
            self._role = role
            metrics.HA_TRANSITIONS.labels(to=role).inc()
            log.warning(
                "ha_role_changed holder=%s role=%s fencing_token=%s", self.holder_id, role, self._token
            )
            for cb in list(self._listeners):
                cb(role)

    # ----------------------------------------------------------------- operations
    async def acquire(self) -> bool:
        """Try to become leader; True with a new, larger fencing token on success."""
        if self.is_leader:
            return True
        started = self._clock.monotonic_ns()
        try:
            token_raw, held, fresh = await self._acquire(
                keys=[self.key, self.fencing_key], args=[self.holder_id, self.ttl_ms, self._token_floor()]
            )
            token = int(token_raw)
        except _ERRORS as exc:
            metrics.HA_REDIS_ERRORS.inc()
            log.warning("ha_redis_error op=acquire error=%s", type(exc).__name__)
            token, held, fresh = 0, "", 0
        if token == 0 and held:
            self._observe(_token_of(str(held)))
        if token > 0 and int(fresh):
            # The fencing counter did not exist: Redis lost its state (or this is its first lease).
            # A leader from before the loss may still be inside its lease; let it run out first.
            self._writes_from_ns = started + self.ttl_ms * 1_000_000
            log.warning("ha_lease_after_state_loss holder=%s: writes wait %d ms", self.holder_id, self.ttl_ms)
        if token > 0:
            self._observe(token)
            self._token = token
            self._deadline_ns = started + (self.ttl_ms - self.margin_ms) * 1_000_000
        self._publish()
        return token > 0

    async def renew(self) -> bool:
        """Extend our lease; False (and follower) if it is no longer ours or Redis did not answer in time."""
        if not self.is_leader:
            self._publish()
            return False
        started = self._clock.monotonic_ns()
        try:
            ok = int(await self._renew(keys=[self.key], args=[self._value(), self.ttl_ms])) == 1
        except _ERRORS as exc:
            metrics.HA_REDIS_ERRORS.inc()
            log.warning("ha_redis_error op=renew error=%s", type(exc).__name__)
            self._publish()  # keep the lease until the local deadline, then step down
            return False
        if ok:
            self._deadline_ns = started + (self.ttl_ms - self.margin_ms) * 1_000_000
        else:
            log.warning("ha_lease_lost holder=%s fencing_token=%s", self.holder_id, self._token)
            self._token = None
        self._publish()
        return ok

    async def release(self) -> None:
        """Give the lease up (clean shutdown) so a follower takes over without waiting for the TTL."""
        if self._token is not None:
            try:
                await self._release(keys=[self.key], args=[self._value()])
            except _ERRORS as exc:
                metrics.HA_REDIS_ERRORS.inc()
                log.warning("ha_redis_error op=release error=%s", type(exc).__name__)
            self._token = None
        self._publish()

    async def verify(self) -> bool:
        """Ask Redis whether the lease is still ours (call before arming or a fenced write).

        Steps down at once when Redis holds another value; a Redis error answers False but keeps
        the lease until its local deadline, like a failed renewal.
        """
        if not self.is_leader:
            self._publish()
            return False
        try:
            value = await self._redis.get(self.key)
        except _ERRORS as exc:
            metrics.HA_REDIS_ERRORS.inc()
            log.warning("ha_redis_error op=verify error=%s", type(exc).__name__)
            return False
        if value is not None:
            self._observe(_token_of(str(value)))
        if value != self._value():
            log.warning("ha_lease_lost holder=%s fencing_token=%s", self.holder_id, self._token)
            self._token = None
            self._publish()
            return False
        return True

    async def tick(self) -> str:
        """One round: renew if leader, else contend. Returns the role afterwards."""
        if self._token is not None:
            await self.renew()
        else:
            await self.acquire()
        return self.role

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self.tick()
        self._task = asyncio.create_task(self._run(), name=f"ha-lease-{self.holder_id}")

    async def _run(self) -> None:
        while True:
            delay_ms = self.renew_every_ms
            if self._token is not None:
                left_ms = (self._deadline_ns - self._clock.monotonic_ns()) // 1_000_000
                delay_ms = max(1, min(delay_ms, left_ms))
            self._wake.clear()
            await wait_set(self._wake, delay_ms / 1000)
            await self.tick()

    async def stop(self) -> None:
        """Stop renewing, release the lease and close the connection (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.release()
        await self._redis.aclose()

    async def current_holder(self) -> str | None:
        """The lease value in Redis ("holder:token"), for operators and tests."""
        value = await self._redis.get(self.key)
        return None if value is None else str(value)


def _token_of(value: str) -> int:
    """The fencing token in a lease value "holder:token" (0 when unreadable)."""
    _, _, tail = value.rpartition(":")
    return int(tail) if tail.isdigit() else 0


def leadership_from_config(config: HAConfig, *, clock: Clock | None = None) -> Leadership:
    """Standalone when [ha] is disabled, otherwise a Redis leader lease."""
    if not config.enabled:
        return Standalone()
    return LeaderLease(
        config.redis_url,
        config.lease_key,
        config.holder_id or default_holder_id(),
        config.ttl_ms,
        config.renew_every_ms,
        clock=clock,
    )
