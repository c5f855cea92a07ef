"""`WriteBudget`: one per account, shared by every symbol: writes stay under a share of Binance's limits.

Three sliding windows (ORDERS per 10 s, ORDERS per minute, REQUEST_WEIGHT per minute, each write
weighing 1), each capped at `write_share` of the exchange limit: a write is allowed only while
fewer than that many were taken in the window before it, so no sliding window can exceed the
share, and a steady writer may use all of it (ADR-262; the token buckets of ADR-171 allowed a
steady rate of only half the share). `pressure` says how much of the tightest window is spent, and
how fast the last third of each window spent a third of its limit (ADR-312), so the strategy can
quote fewer, wider levels before the budget runs out instead of bursting into it. Time comes from
the caller (`now_ms`); a clock that steps back counts as no time passing.
"""

from __future__ import annotations

from collections import deque

from grinder.execution.config import ExecutionConfig

# pressure levels: 0 normal, 1 thin (tightest window over 60 % spent), 2 thinner (over 85 %)
PRESSURE_THIN = 1
PRESSURE_THINNER = 2
_THIN_LEFT = 0.4  # share of a window still free under which the grid thins
_THINNER_LEFT = 0.15
# pace: the last third of each window is also held to a third of its limit, for the pressure only
# (a writer faster than the window can sustain thins before it spends the window and stalls)
_PACE_PARTS = 3


class _Window:
    """At most `limit` takes inside any `window_ms` sliding window: the times of the last takes."""

    __slots__ = ("_times", "limit", "window_ms")

    def __init__(self, limit: int, window_ms: int) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self._times: deque[int] = deque()

    def available(self, now_ms: int) -> int:
        times = self._times
        while times and times[0] <= now_ms - self.window_ms:
            times.popleft()
        return self.limit - len(times)

    def recent(self, now_ms: int, span_ms: int) -> int:
        """Takes inside the last `span_ms` (newest first: stops at the first older one)."""
        n = 0
        for t in reversed(self._times):
            if t <= now_ms - span_ms:
                break
            n += 1
        return n

    def take(self, now_ms: int) -> None:
        times = self._times
        times.append(max(now_ms, times[-1]) if times else now_ms)  # never out of order


class WriteBudget:
    """Sliding windows at `write_share` of the account's order and weight limits."""

    __slots__ = ("_windows",)

    def __init__(self, cfg: ExecutionConfig) -> None:
        share = cfg.write_share
        self._windows = tuple(
            _Window(max(1, int(limit * share)), window_ms)
            for limit, window_ms in (
                (cfg.orders_per_10s_limit, 10_000),
                (cfg.orders_per_minute_limit, 60_000),
                (cfg.weight_per_minute_limit, 60_000),
            )
        )

    @property
    def limits(self) -> tuple[tuple[int, int], ...]:
        """(most writes, window ms) each window allows."""
        return tuple((w.limit, w.window_ms) for w in self._windows)

    def available(self, now_ms: int) -> int:
        return max(0, min(w.available(now_ms) for w in self._windows))

    def take(self, now_ms: int, force: bool = False) -> bool:
        """Spend one write in every window, or none when one of them is spent. `force` (shutdown
        cancels, which are never held back) records the write even then."""
        if not force and self.available(now_ms) <= 0:
            return False
        for w in self._windows:
            w.take(now_ms)
        return True

    def pressure(self, now_ms: int) -> int:
        """0 while every window has at least 40 % left, 1 under 40 %, 2 under 15 %; the same for the
        last third of every window against a third of its limit (the pace a window can sustain: a
        burst at the 10 s share spends the minute's in 40 s and then leaves nothing resting for 20 s,
        ADR-312)."""
        left = min(w.available(now_ms) / w.limit for w in self._windows)
        for w in self._windows:
            part = w.limit / _PACE_PARTS
            left = min(left, (part - w.recent(now_ms, w.window_ms // _PACE_PARTS)) / part)
        if left < _THINNER_LEFT:
            return PRESSURE_THINNER
        if left < _THIN_LEFT:
            return PRESSURE_THIN
        return 0
