"""Rate-limit governor on a virtual clock: waits before a breach, refuses past a deadline, obeys 429/418."""

from __future__ import annotations

import asyncio

import pytest

from grinder.binance.constants import ENDPOINTS, Endpoint
from grinder.binance.errors import RateLimitRefused
from grinder.binance.governor import ORDERS_10S, WEIGHT_1M, RateLimitGovernor
from grinder.core.clock import VirtualClock

DEPTH = ENDPOINTS[("GET", "/fapi/v1/depth")]
NEW_ORDER = ENDPOINTS[("POST", "/fapi/v1/order")]
TIME = ENDPOINTS[("GET", "/fapi/v1/time")]


def make(limit_w: int = 100, limit_o10: int = 10, headroom: float = 1.0, deadline: float = 120.0
         ) -> tuple[RateLimitGovernor, VirtualClock, list[float]]:
    clock = VirtualClock.from_ms(1_700_000_000_000)  # a minute boundary + 20 s
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock.advance_ns(int(s * 1e9))

    gov = RateLimitGovernor(clock, weight_limit_1m=limit_w, orders_limit_10s=limit_o10, orders_limit_1m=1000,
                            headroom=headroom, default_deadline_s=deadline, sleep=sleep)
    return gov, clock, slept


def test_endpoint_weights_are_data() -> None:
    assert DEPTH.weight_for({"symbol": "BTCUSDT", "limit": 1000}) == 20
    assert DEPTH.weight_for({"symbol": "BTCUSDT", "limit": 100}) == 5
    assert DEPTH.weight_for({"symbol": "BTCUSDT", "limit": 5}) == 2
    assert ENDPOINTS[("GET", "/fapi/v1/openOrders")].weight_for(None) == 40
    assert ENDPOINTS[("GET", "/fapi/v1/openOrders")].weight_for({"symbol": "BTCUSDT"}) == 1
    assert NEW_ORDER.weight_for({}) == 0 and NEW_ORDER.orders == 1 and NEW_ORDER.is_write


async def test_waits_for_the_next_window_instead_of_breaching() -> None:
    gov, _clock, slept = make()
    for _ in range(5):
        await gov.acquire(DEPTH, {"symbol": "X", "limit": 1000})  # 5 × 20 = 100
    assert gov.usage()[WEIGHT_1M] == (100, 100) and slept == []
    await gov.acquire(TIME)
    # 1_700_000_000_000 ms is 20 s into its minute: the next window opens 40 s later.
    assert slept == [pytest.approx(40.0)]
    assert gov.usage()[WEIGHT_1M] == (1, 100)


async def test_refuses_locally_when_the_wait_exceeds_the_deadline() -> None:
    gov, _, slept = make(deadline=5.0)
    for _ in range(5):
        await gov.acquire(DEPTH, {"limit": 1000})
    with pytest.raises(RateLimitRefused, match="REQUEST_WEIGHT_1M") as info:
        await gov.acquire(TIME)
    assert info.value.wait_s == pytest.approx(40.0) and slept == []
    assert "deadline" in str(info.value)


async def test_order_count_pool_and_headroom() -> None:
    gov, _, slept = make(limit_o10=10, headroom=0.5)
    for _ in range(5):
        await gov.acquire(NEW_ORDER)
    assert gov.usage()[ORDERS_10S] == (5, 10)
    await gov.acquire(NEW_ORDER)  # 6 > 50 % of 10: waits for the 10 s window
    assert slept == [pytest.approx(10.0)]
    assert gov.usage()[WEIGHT_1M][0] == 0  # new orders cost no IP weight


async def test_headers_replace_the_local_estimate_any_case() -> None:
    gov, _, _ = make(limit_w=2400)
    await gov.acquire(TIME)
    gov.update_from_headers({"x-mbx-used-weight-1m": "2000", "X-MBX-ORDER-COUNT-10S": "7"})
    assert gov.usage()[WEIGHT_1M] == (2000, 2400)
    assert gov.usage()[ORDERS_10S] == (7, 10)
    gov.update_from_headers({"X-MBX-USED-WEIGHT-1M": "not-a-number"})  # ignored, logged
    assert gov.usage()[WEIGHT_1M] == (2000, 2400)


async def test_429_blocks_weight_pool_until_window_end() -> None:
    gov, _, slept = make()
    gov.on_rate_limited(429, -1003, None)
    await gov.acquire(TIME)
    assert slept == [pytest.approx(40.0)]


async def test_retry_after_and_418_ban() -> None:
    gov, _, slept = make()
    gov.on_rate_limited(429, -1003, 3.0)
    await gov.acquire(NEW_ORDER)
    assert slept == [pytest.approx(3.0)]
    gov2, _, _ = make(deadline=60)
    gov2.on_rate_limited(418, -1003, None)  # no Retry-After: the 2-minute minimum ban
    with pytest.raises(RateLimitRefused, match="ban"):
        await gov2.acquire(TIME)


async def test_limits_from_exchange_info_and_unknown_endpoint_default() -> None:
    gov, _, _ = make()
    gov.set_limits([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 600}])
    assert gov.usage()[WEIGHT_1M] == (0, 6000)
    assert gov.usage()[ORDERS_10S] == (0, 600)
    with pytest.raises(RateLimitRefused, match="exceeds the pool"):
        await gov.acquire(Endpoint("GET", "/x", DEPTH.security, 7000))


async def test_concurrent_requests_never_exceed_a_window() -> None:
    gov, clock, _ = make(limit_o10=10, deadline=120.0)
    sent_at: list[int] = []

    async def send() -> None:
        await gov.acquire(NEW_ORDER)
        sent_at.append(clock.now_ms())

    await asyncio.gather(*(send() for _ in range(35)))
    per_window: dict[int, int] = {}
    for t in sent_at:
        per_window[t // 10_000] = per_window.get(t // 10_000, 0) + 1
    assert len(sent_at) == 35 and max(per_window.values()) <= 10
