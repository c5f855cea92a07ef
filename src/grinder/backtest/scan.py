"""Vectorised skipping of quiet events: find the next tape row that can change anything.

Between two rows where something happens (a fill, a re-quote), a grid does nothing: the market
stays inside the strategy's declared quiet band and touches none of our resting orders. The scan
finds, with numpy over growing windows, the first row from `start` that
- is a quote whose mid (bid + ask, half ticks) leaves the band [mid2_lo, mid2_hi] (trades are tested
  with 2 × price: a conservative superset),
- could fill a resting or in-flight order (quote ask / trade price <= highest buy; bid / price >=
  lowest sell),
- is not a quote or trade (depth, mark price, snapshot), or
- is at or after the band's `until_ms`.
Stopping early is always safe (that row is simply processed in full); the scan never skips a row
that meets one of those conditions, which the tests prove against the per-event path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grinder.data.tape import OTHER, Tape

NO_BUY = -(1 << 62)
NO_SELL = 1 << 62


@dataclass(frozen=True, slots=True)
class SymbolGuard:
    """What keeps one symbol quiet: the band on mid2 and the prices of our nearest orders."""

    mid2_lo: int
    mid2_hi: int
    max_buy_ticks: int = NO_BUY
    min_sell_ticks: int = NO_SELL


class QuietScanner:
    """Finds the next row that needs full processing; `skipped` counts the rows it jumped over."""

    def __init__(self, tape: Tape, first_window: int = 256, max_window: int = 1 << 18) -> None:
        self.tape = tape
        self.n = len(tape)
        self.first_window = first_window
        self.max_window = max_window
        self.has_other = bool(np.any(tape.kind == OTHER)) if self.n else False
        self.multi = len(tape.symbols) > 1
        self.skipped = 0
        self.scans = 0

    def next_active(self, start: int, guards: list[SymbolGuard | None], until_ms: int | None) -> int:
        """First row >= start that must be processed (n when none). `guards[i]` None = no skipping."""
        n = self.n
        if start >= n or any(g is None for g in guards):
            return start
        self.scans += 1
        stop = n
        if until_ms is not None:
            stop = int(np.searchsorted(self.tape.time_ms, until_ms, side="left"))
            if stop <= start:
                return start
        found = self._scan(start, stop, guards)  # type: ignore[arg-type]
        self.skipped += found - start
        return found

    def _scan(self, start: int, stop: int, guards: list[SymbolGuard]) -> int:
        t = self.tape
        w = self.first_window
        s = start
        if self.multi:
            lo = np.array([g.mid2_lo for g in guards], dtype=np.int64)
            hi = np.array([g.mid2_hi for g in guards], dtype=np.int64)
            mb = np.array([g.max_buy_ticks for g in guards], dtype=np.int64)
            ms = np.array([g.min_sell_ticks for g in guards], dtype=np.int64)
        else:
            g = guards[0]
            lo_s, hi_s, mb_s, ms_s = g.mid2_lo, g.mid2_hi, g.max_buy_ticks, g.min_sell_ticks
        while s < stop:
            e = min(stop, s + w)
            a = t.a[s:e]
            b = t.b[s:e]
            if self.multi:
                sym = t.sym[s:e]
                mid2 = a.astype(np.int64) + b
                hit = (b <= mb[sym]) | (a >= ms[sym]) | (mid2 < lo[sym]) | (mid2 > hi[sym])
            else:
                mid2 = a + b
                hit = (b <= mb_s) | (a >= ms_s) | (mid2 < lo_s) | (mid2 > hi_s)
            if self.has_other:
                hit |= t.kind[s:e] == OTHER
            k = int(hit.argmax())
            if hit[k]:
                return s + k
            s = e
            w = min(w * 2, self.max_window)
        return stop
