"""Write-rate figures of a run: writes per minute per symbol, rejects per 100 writes, busiest windows.

Pure: the caller passes the writes (time, symbol) and the rejected ones, e.g. read from the journal.
The busiest window is the most writes inside any sliding window of that length, the quantity
Binance's ORDERS limits (per 10 s and per minute, per account) are about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from grinder.binance.constants import DEFAULT_ORDERS_1M, DEFAULT_ORDERS_10S


@dataclass(frozen=True, slots=True)
class WriteStats:
    writes: int
    rejected: int
    duration_ms: int
    writes_by_symbol: dict[str, int]
    busiest_10s: int  # most writes (all symbols) in any 10 s window
    busiest_60s: int  # ... in any 60 s window

    @property
    def rejects_per_100(self) -> float:
        return 100.0 * self.rejected / self.writes if self.writes else 0.0

    def per_minute(self, symbol: str) -> float:
        minutes = max(self.duration_ms, 1) / 60_000
        return self.writes_by_symbol.get(symbol, 0) / minutes

    @property
    def busiest_10s_share(self) -> float:
        """The busiest 10 s window as a fraction of Binance's 300 orders per 10 s."""
        return self.busiest_10s / DEFAULT_ORDERS_10S

    def summary_line(self) -> str:
        per_symbol = " ".join(f"{s}={self.per_minute(s):.0f}/min" for s in sorted(self.writes_by_symbol))
        return (
            f"writes={self.writes} rejected={self.rejected} ({self.rejects_per_100:.2f} per 100 writes) "
            f"writes per symbol: {per_symbol}  busiest 10 s window={self.busiest_10s} "
            f"({100 * self.busiest_10s_share:.0f}% of {DEFAULT_ORDERS_10S}) "
            f"busiest minute={self.busiest_60s} (of {DEFAULT_ORDERS_1M})"
        )


def busiest_window(times_ms: Sequence[int], window_ms: int) -> int:
    """Most of `times_ms` (sorted ascending) inside any half-open window [t, t + window_ms)."""
    best = lo = 0
    for hi, t in enumerate(times_ms):
        while times_ms[lo] <= t - window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def write_stats(
    writes: Iterable[tuple[int, str]], rejected: int, duration_ms: int | None = None
) -> WriteStats:
    """Figures for `writes` ((time_ms, symbol) of every request sent) of which `rejected` were refused."""
    rows = sorted(writes)
    times = [t for t, _ in rows]
    by_symbol = Counter(s for _, s in rows)
    if duration_ms is None:
        duration_ms = times[-1] - times[0] if len(times) > 1 else 0
    return WriteStats(
        writes=len(rows),
        rejected=rejected,
        duration_ms=duration_ms,
        writes_by_symbol=dict(by_symbol),
        busiest_10s=busiest_window(times, 10_000),
        busiest_60s=busiest_window(times, 60_000),
    )
