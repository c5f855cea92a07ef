"""`WriteBudget`: one per account, shared by every symbol: writes stay under a share of Binance's limits.

Three token buckets (ORDERS per 10 s, ORDERS per minute, REQUEST_WEIGHT per minute, each write
weighing 1), each sized at `write_share` of the exchange limit, so no sliding window of any of them
can exceed that share (the bucket argument of `grinder.risk.rate`, ADR-045). `pressure` says how
close the tightest bucket is to empty, so the strategy can quote fewer, wider levels before the
budget runs out instead of bursting into it (ADR-171).
"""

from __future__ import annotations

from grinder.execution.config import ExecutionConfig
from grinder.risk.rate import BucketSet, TokenBucket

# pressure levels: 0 normal, 1 thin (tightest bucket under 30 % full), 2 thinner (under 10 %)
PRESSURE_THIN = 1
PRESSURE_THINNER = 2


class WriteBudget(BucketSet):
    """Token buckets at `write_share` of the account's order and weight limits."""

    __slots__ = ()

    def __init__(self, cfg: ExecutionConfig) -> None:
        share = cfg.write_share
        super().__init__(
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

    def pressure(self, now_ms: int) -> int:
        """0 while every bucket is at least 30 % full, 1 under 30 %, 2 under 10 %."""
        fill = min(2 * b.available(now_ms) / b.limit for b in self._buckets)  # capacity = limit // 2
        if fill < 0.1:
            return PRESSURE_THINNER
        if fill < 0.3:
            return PRESSURE_THIN
        return 0
