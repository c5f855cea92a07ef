"""Order-rate budget: token buckets sized so no window of Binance's ORDERS limits can be exceeded.

A bucket of capacity B refilled at r per ms lets through at most B + r·W orders in any window of
W ms. With B = L/2 and r = L/(2W) that is exactly L, so every sliding (and therefore fixed) window
stays inside the exchange limit L / W (ADR-045). Levels are integers scaled by the window length,
so refills are exact; time comes from the caller (`now_ms`).
"""

from __future__ import annotations

from collections.abc import Iterable


class TokenBucket:
    """Burst `limit // 2`, refill `limit / 2` per `window_ms`; integer arithmetic only."""

    __slots__ = ("_capacity_units", "_last_ms", "_level_units", "_rate_units", "_unit", "limit", "window_ms")

    def __init__(self, limit: int, window_ms: int) -> None:
        if limit < 2 or window_ms < 1:
            raise ValueError(
                f"rate limit {limit}/{window_ms} ms is too small: need limit >= 2 and window >= 1 ms"
            )
        self.limit = limit
        self.window_ms = window_ms
        # One token = 2·W units; refilling L units per ms gives L/(2W) tokens per ms.
        self._unit = 2 * window_ms
        self._capacity_units = (limit // 2) * self._unit
        self._rate_units = limit
        self._level_units = self._capacity_units
        self._last_ms: int | None = None

    def _refill(self, now_ms: int) -> None:
        if self._last_ms is None:
            self._last_ms = now_ms
            return
        elapsed = now_ms - self._last_ms
        if elapsed > 0:  # time never runs backwards for the bucket
            self._level_units = min(self._capacity_units, self._level_units + elapsed * self._rate_units)
            self._last_ms = now_ms

    def available(self, now_ms: int) -> int:
        self._refill(now_ms)
        return self._level_units // self._unit

    def take(self, now_ms: int, n: int = 1) -> bool:
        self._refill(now_ms)
        need = n * self._unit
        if self._level_units < need:
            return False
        self._level_units -= need
        return True

    def give_back(self, n: int = 1) -> None:
        self._level_units = min(self._capacity_units, self._level_units + n * self._unit)


class BucketSet:
    """Token buckets spent together: a write passes only if every bucket has a token."""

    __slots__ = ("_buckets",)

    def __init__(self, buckets: Iterable[TokenBucket]) -> None:
        self._buckets = tuple(buckets)

    def available(self, now_ms: int) -> int:
        return min(b.available(now_ms) for b in self._buckets)

    def take(self, now_ms: int) -> bool:
        """Spend one token in every bucket, or none when one of them is empty."""
        taken: list[TokenBucket] = []
        for bucket in self._buckets:
            if not bucket.take(now_ms):
                for t in taken:
                    t.give_back()
                return False
            taken.append(bucket)
        return True


class OrderRateBudget(BucketSet):
    """Both ORDERS windows together (the risk guard's order-rate check)."""

    __slots__ = ()

    def __init__(self, orders_per_10s: int, orders_per_minute: int) -> None:
        super().__init__((TokenBucket(orders_per_10s, 10_000), TokenBucket(orders_per_minute, 60_000)))
