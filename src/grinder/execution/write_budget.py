"""`WriteBudget`: one per account, shared by every symbol: writes stay under a share of Binance's limits.

Three token buckets (ORDERS per 10 s, ORDERS per minute, REQUEST_WEIGHT per minute, each write
weighing 1), each sized at `write_share` of the exchange limit, so no sliding window of any of them
can exceed that share (the bucket argument of `grinder.risk.rate`, ADR-045). `pressure` says how
close the tightest bucket is to empty, so the strategy can quote fewer, wider levels before the
budget runs out instead of bursting into it (ADR-171).
"""

from __future__ import annotations

from grinder.execution.config import ExecutionConfig
from grinder.risk.rate import TokenBucket

# pressure levels: 0 normal, 1 thin (tightest bucket under 30 % full), 2 thinner (under 10 %)
PRESSURE_THIN = 1
PRESSURE_THINNER = 2


class WriteBudget:
    """Token buckets at `write_share` of the account's order and weight limits."""

    __slots__ = ("_buckets",)

    def __init__(self, cfg: ExecutionConfig) -> None:
        share = cfg.write_share
        self._buckets = tuple(
            TokenBucket(max(2, int(limit * share)), window_ms)
            for limit, window_ms in (
                (cfg.orders_per_10s_limit, 10_000),
                (cfg.orders_per_minute_limit, 60_000),
                (cfg.weight_per_minute_limit, 60_000),
            )
        )

    @property
    def limits(self) -> tuple[tuple[int, int], ...]:
        """(most writes, window ms) each bucket allows in any window."""
        return tuple((b.limit, b.window_ms) for b in self._buckets)

    def available(self, now_ms: int) -> int:
        return min(b.available(now_ms) for b in self._buckets)

    def take(self, now_ms: int) -> bool:
        """Spend one write in every bucket, or none when one of them is empty."""
        taken: list[TokenBucket] = []
        for bucket in self._buckets:
            if not bucket.take(now_ms):
                for t in taken:
                    t.give_back()
                return False
            taken.append(bucket)
        return True

    def pressure(self, now_ms: int) -> int:
        """0 while every bucket is at least 30 % full, 1 under 30 %, 2 under 10 %."""
        fill = min(2 * b.available(now_ms) / b.limit for b in self._buckets)  # capacity = limit // 2
        if fill < 0.1:
            return PRESSURE_THINNER
        if fill < 0.3:
            return PRESSURE_THIN
        return 0
