"""Client-side rate-limit governor: throttle BEFORE Binance's limits are hit.

Three pools (protocol sheet §7): request weight per minute (per IP) and order counts per 10 s and
per minute (per account), in fixed windows of server time. Each request reserves its cost before it
is sent; response headers (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S/1M`, any case) then
replace the local estimate with the exchange's count. 429/418 (and `Retry-After`) block the pools.
A request that would have to wait longer than its deadline is refused locally (`RateLimitRefused`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from grinder.binance import metrics
from grinder.binance.constants import (
    DEFAULT_ORDERS_1M,
    DEFAULT_ORDERS_10S,
    DEFAULT_REQUEST_WEIGHT_1M,
    ORDER_COUNT_HEADER_PREFIX,
    USED_WEIGHT_HEADER_PREFIX,
    Endpoint,
)
from grinder.binance.errors import RateLimitRefused
from grinder.core.clock import Clock, WallClock
from grinder.core.errors import ErrorCode

log = logging.getLogger(__name__)

WEIGHT_1M = "REQUEST_WEIGHT_1M"
ORDERS_10S = "ORDERS_10S"
ORDERS_1M = "ORDERS_1M"
BAN_418_DEFAULT_S = 120.0  # shortest Binance IP ban

_INTERVAL_MS = {"S": 1_000, "M": 60_000, "H": 3_600_000, "D": 86_400_000}


@dataclass(slots=True)
class _Pool:
    name: str
    interval_ms: int
    limit: int
    window_start_ms: int = 0
    used: int = 0
    blocked_until_ms: int = 0  # saturated by a 429 until this time

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.interval_ms
        if start != self.window_start_ms:
            self.window_start_ms = start
            self.used = 0

    def window_end_ms(self) -> int:
        return self.window_start_ms + self.interval_ms


def _pool_name(kind: str, interval_num: int, letter: str) -> str:
    return f"{kind}_{interval_num}{letter.upper()}"


class RateLimitGovernor:
    """Tracks used weight/order counts and makes requests wait (or refuses them) before a breach."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        weight_limit_1m: int = DEFAULT_REQUEST_WEIGHT_1M,
        orders_limit_10s: int = DEFAULT_ORDERS_10S,
        orders_limit_1m: int = DEFAULT_ORDERS_1M,
        headroom: float = 0.9,
        default_deadline_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0.0 < headroom <= 1.0:
            raise ValueError(f"governor headroom must be in (0, 1], got {headroom}")
        self._clock: Clock = clock or WallClock()
        self._headroom = headroom
        self._sleep = sleep
        self.default_deadline_s = default_deadline_s
        self.offset_ms = 0  # server time - local time; set by the REST client after a time sync
        self._banned_until_ms = 0
        self._pools: dict[str, _Pool] = {
            WEIGHT_1M: _Pool(WEIGHT_1M, 60_000, weight_limit_1m),
            ORDERS_10S: _Pool(ORDERS_10S, 10_000, orders_limit_10s),
            ORDERS_1M: _Pool(ORDERS_1M, 60_000, orders_limit_1m),
        }
        for pool in self._pools.values():
            metrics.RATE_LIMIT_LIMIT.labels(pool.name).set(pool.limit)

    # ----------------------------------------------------------------- configuration
    def set_limits(self, rate_limits: Iterable[Mapping[str, object]]) -> None:
        """Adopt exchangeInfo `rateLimits[]` ({rateLimitType, interval, intervalNum, limit})."""
        for item in rate_limits:
            kind = str(item.get("rateLimitType", ""))
            interval = str(item.get("interval", ""))[:1]
            num = int(str(item.get("intervalNum", 1)))
            limit = int(str(item.get("limit", 0)))
            if kind not in ("REQUEST_WEIGHT", "ORDERS") or interval not in _INTERVAL_MS or limit <= 0:
                continue
            name = _pool_name("REQUEST_WEIGHT" if kind == "REQUEST_WEIGHT" else "ORDERS", num, interval)
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = _Pool(name, num * _INTERVAL_MS[interval], limit)
            pool.limit = limit
            metrics.RATE_LIMIT_LIMIT.labels(name).set(limit)

    # ----------------------------------------------------------------- state
    def server_now_ms(self) -> int:
        return self._clock.now_ms() + self.offset_ms

    def usage(self) -> dict[str, tuple[int, int]]:
        """pool → (used in the current window, limit)."""
        now = self.server_now_ms()
        out: dict[str, tuple[int, int]] = {}
        for pool in self._pools.values():
            pool.roll(now)
            out[pool.name] = (pool.used, pool.limit)
        return out

    @property
    def banned_until_ms(self) -> int:
        return self._banned_until_ms

    def self_block(self) -> tuple[int, str]:
        """Until when (server ms) Binance's 429/418 makes us refuse requests, and why; (0, "") when
        nothing is blocked now. A 429 without Retry-After blocks its pools to the end of the window."""
        now = self.server_now_ms()
        until, why = 0, ""
        if self._banned_until_ms > now:
            until, why = self._banned_until_ms, "418/429 with Retry-After"
        for pool in self._pools.values():
            if pool.blocked_until_ms > max(now, until):
                until = pool.blocked_until_ms
                why = f"429 without Retry-After: {pool.name} until the window ends"
        return until, why

    def _costs(self, endpoint: Endpoint, params: Mapping[str, object] | None) -> list[tuple[_Pool, int]]:
        costs: list[tuple[_Pool, int]] = []
        weight = endpoint.weight_for(params)
        if weight:
            costs.extend((p, weight) for p in self._pools.values() if p.name.startswith("REQUEST_WEIGHT"))
        if endpoint.orders:
            costs.extend((p, endpoint.orders) for p in self._pools.values() if p.name.startswith("ORDERS"))
        return costs

    def _wait_ms(self, costs: list[tuple[_Pool, int]], now: int) -> tuple[int, str, str]:
        """How long until all costs fit: (ms, pool name, reason); (0, "", "") when they fit now."""
        if now < self._banned_until_ms:
            return self._banned_until_ms - now, "ALL", "Binance rate-limit ban (429/418) in force"
        worst = (0, "", "")
        for pool, cost in costs:
            pool.roll(now)
            usable = max(1, int(pool.limit * self._headroom))
            if cost > usable:
                return 1 << 62, pool.name, f"cost {cost} exceeds the pool's usable limit {usable}"
            if now < pool.blocked_until_ms:
                wait = pool.blocked_until_ms - now
                reason = "pool saturated by a 429 from Binance"
            elif pool.used + cost > usable:
                wait = pool.window_end_ms() - now
                reason = f"{pool.used}+{cost} would exceed {usable} of {pool.limit} in this window"
            else:
                continue
            if wait > worst[0]:
                worst = (wait, pool.name, reason)
        return worst

    async def acquire(
        self,
        endpoint: Endpoint,
        params: Mapping[str, object] | None = None,
        *,
        deadline_s: float | None = None,
    ) -> None:
        """Reserve this request's cost, waiting for window rollover; refuse past the deadline."""
        deadline = self.default_deadline_s if deadline_s is None else deadline_s
        costs = self._costs(endpoint, params)
        waited_s = 0.0
        while True:
            now = self.server_now_ms()
            wait_ms, pool_name, reason = self._wait_ms(costs, now)
            if wait_ms == 0:
                for pool, cost in costs:
                    pool.used += cost
                    metrics.RATE_LIMIT_USED.labels(pool.name).set(pool.used)
                if waited_s > 0:
                    log.info("rate_limit_waited endpoint=%s waited_s=%.3f", endpoint.name, waited_s)
                return
            wait_s = wait_ms / 1000.0
            if waited_s + wait_s > deadline:
                metrics.RATE_LIMIT_REFUSED_TOTAL.labels(pool_name).inc()
                log.warning(
                    "rate_limit_refused endpoint=%s pool=%s wait_s=%.3f deadline_s=%.3f reason=%s",
                    endpoint.name,
                    pool_name,
                    wait_s,
                    deadline,
                    reason,
                )
                raise RateLimitRefused(endpoint.name, pool_name, wait_s, deadline, reason)
            metrics.RATE_LIMIT_WAIT_SECONDS.labels(pool_name).inc(wait_s)
            waited_s += wait_s
            await self._sleep(wait_s)

    # ----------------------------------------------------------------- feedback from responses
    def update_from_headers(self, headers: Mapping[str, str]) -> None:
        """Adopt the exchange's counts from `X-MBX-USED-WEIGHT-1M` / `X-MBX-ORDER-COUNT-*` (any case)."""
        now = self.server_now_ms()
        for raw_name, raw_value in headers.items():
            name = raw_name.lower()
            if name.startswith(USED_WEIGHT_HEADER_PREFIX):
                kind, suffix = "REQUEST_WEIGHT", name[len(USED_WEIGHT_HEADER_PREFIX) :]
            elif name.startswith(ORDER_COUNT_HEADER_PREFIX):
                kind, suffix = "ORDERS", name[len(ORDER_COUNT_HEADER_PREFIX) :]
            else:
                continue
            pool = self._pools.get(f"{kind}_{suffix.upper()}")
            if pool is None:
                continue
            try:
                used = int(raw_value)
            except ValueError:
                log.warning("rate_limit_header_malformed header=%s value=%r", raw_name, raw_value)
                continue
            pool.roll(now)
            # The header counts everything Binance saw in its window (other processes on this IP
            # too); our in-flight reservations may not be in it yet. Keep the larger: conservative.
            pool.used = max(used, pool.used)
            metrics.RATE_LIMIT_USED.labels(pool.name).set(pool.used)

    def on_rate_limited(self, http_status: int, code: int | None, retry_after_s: float | None) -> None:
        """A 429 or 418 arrived: block until Retry-After, or the window end (429) / ban (418)."""
        now = self.server_now_ms()
        metrics.RATE_LIMIT_HITS_TOTAL.labels(str(http_status)).inc()
        if retry_after_s is not None and retry_after_s > 0:
            self._banned_until_ms = max(self._banned_until_ms, now + int(retry_after_s * 1000))
        elif http_status == 418:
            self._banned_until_ms = max(self._banned_until_ms, now + int(BAN_418_DEFAULT_S * 1000))
        else:
            prefix = "ORDERS" if code == ErrorCode.TOO_MANY_ORDERS else "REQUEST_WEIGHT"
            for pool in self._pools.values():
                if pool.name.startswith(prefix):
                    pool.roll(now)
                    pool.blocked_until_ms = pool.window_end_ms()
        log.warning(
            "rate_limited status=%s code=%s retry_after_s=%s blocked_until_ms=%s",
            http_status,
            code,
            retry_after_s,
            self._banned_until_ms,
        )
