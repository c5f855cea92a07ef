"""Vectorised skipping of quiet events: find the next tape row that can change anything.

Between two rows where something happens (a fill, a re-quote), a grid does nothing: the market
stays inside the strategy's declared quiet band and touches none of our resting orders. The scan
finds, with numpy over growing windows, the first row from `start` that
- is a quote whose mid (bid + ask, half ticks) leaves the band [mid2_lo, mid2_hi] (trades are tested
  with 2 × price: a conservative superset),
- could fill a resting or in-flight order, or move its queue position (the venue's fill rule,
  `grinder.venue.fill_rule`, applied to the highest buy / lowest sell),
- is not a quote or trade (mark price, snapshot; a depth diff too unless the caller crosses them,
  `cross_depth`, and then processes each one itself), or
- is at or after the band's `until_ms`.
Stopping early is always safe (that row is simply processed in full); the scan never skips a row
that meets one of those conditions, which the tests prove against the per-event path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grinder.core.events import DepthUpdate
from grinder.data.tape import OTHER, QUOTE, Tape
from grinder.venue.fill_rule import NO_BUY, NO_SELL, quote_columns, reaches

__all__ = ["NO_BUY", "NO_SELL", "QuietScanner", "SymbolGuard"]


@dataclass(frozen=True, slots=True)
class SymbolGuard:
    """What keeps one symbol quiet: the strategy's band and the prices of our nearest orders.

    mid2 (bid + ask) must stay in [mid2_lo, mid2_hi]; on quotes also bid in [bid_lo, bid_hi], ask in
    [ask_lo, ask_hi] and ask - bid <= spread_max (grinder.strategy.QuietBand); no row may reach
    max_buy_ticks / min_sell_ticks.
    """

    mid2_lo: int
    mid2_hi: int
    max_buy_ticks: int = NO_BUY
    min_sell_ticks: int = NO_SELL
    bid_lo: int = NO_BUY
    bid_hi: int = NO_SELL
    ask_lo: int = NO_BUY
    ask_hi: int = NO_SELL
    spread_max: int = NO_SELL

    @property
    def quote_bounds(self) -> bool:
        """True when bid/ask/spread limits are narrower than the mid band can express."""
        return (
            self.bid_lo > NO_BUY
            or self.bid_hi < NO_SELL
            or self.ask_lo > NO_BUY
            or self.ask_hi < NO_SELL
            or self.spread_max < NO_SELL
        )


class QuietScanner:
    """Finds the next row that needs full processing; `skipped` counts the rows it jumped over."""

    def __init__(self, tape: Tape, first_window: int = 256, max_window: int = 1 << 18) -> None:
        self.tape = tape
        self.n = len(tape)
        self.first_window = first_window
        self.max_window = max_window
        other = np.flatnonzero(tape.kind == OTHER) if self.n else np.empty(0, np.intp)
        self.has_other = len(other) > 0
        # rows that are always processed (depth, marks), in order: a scan never looks past the next one
        self._other = np.append(other, self.n)
        # of those, the depth diffs: a scan with cross_depth passes over them (the caller processes
        # them in order), the others (marks, snapshots) still end it
        objects, ident = tape.objects, tape.ident
        is_depth = np.array(
            [
                int(ident[o]) < len(objects) and isinstance(objects[int(ident[o])], DepthUpdate)
                for o in other.tolist()
            ],
            np.bool_,
        )
        self.depth = np.zeros(self.n, np.bool_)
        self.depth[other[is_depth]] = True
        self.depth_rows = other[is_depth].astype(np.int64)
        self._stops = np.append(other[~is_depth], self.n)
        self.multi = len(tape.symbols) > 1
        self.skipped = 0
        self.scans = 0

    def always_rows(self, cross_depth: bool = False) -> list[int]:
        """The rows always processed in full (not quotes or trades; with `cross_depth` not depth diffs
        either) in order, then `n` (a sentinel)."""
        return [int(x) for x in (self._stops if cross_depth else self._other).tolist()]

    def next_active(
        self,
        start: int,
        guards: list[SymbolGuard | None],
        until_ms: int | None,
        *,
        queue_model: bool = False,
        cross_depth: bool = False,
    ) -> int:
        """First row >= start that must be processed (n when none). `guards[i]` None = no skipping.

        queue_model: a quote whose bid reaches a buy (ask reaches a sell) moves our queue position,
        so it must be processed even if it does not touch the order. cross_depth: depth diffs do not
        end the scan (the caller processes every one of them in order, see `depth_rows`).
        """
        n = self.n
        if start >= n or any(g is None for g in guards):
            return start
        self.scans += 1
        stop = n
        if self.has_other:
            stops = self._stops if cross_depth else self._other
            stop = int(stops[stops.searchsorted(start)])
            if stop <= start:
                return start
        if until_ms is not None:
            stop = start + int(self.tape.clock_ms[start:stop].searchsorted(until_ms, side="left"))
            if stop <= start:
                return start
        found = self._scan(start, stop, guards, queue_model, cross_depth)  # type: ignore[arg-type]
        self.skipped += found - start
        return found

    def _scan(
        self, start: int, stop: int, guards: list[SymbolGuard], queue_model: bool, cross_depth: bool = False
    ) -> int:
        t = self.tape
        w = self.first_window
        s = start
        # quote columns: a = bid, b = ask (a trade carries its price in both)
        buy_col, sell_col = quote_columns(t.a, t.b, queue_model)
        bounded = any(g.quote_bounds for g in guards)
        if self.multi:
            # one row per symbol, one column per bound (a single array: this runs once per scan)
            bounds = np.array([_bounds(g) for g in guards], dtype=np.int64).T
            lo, hi, mb, ms, blo, bhi, alo, ahi, spr = bounds
        else:
            g = _fit(guards[0], t.a.dtype if t.b.dtype == t.a.dtype else np.dtype(np.int64))
        while s < stop:
            e = min(stop, s + w)
            a = t.a[s:e]
            b = t.b[s:e]
            if self.multi:
                sym = t.sym[s:e]
                mid2 = a.astype(np.int64) + b
                hit = reaches(buy_col[s:e], sell_col[s:e], mb[sym], ms[sym])
                hit |= (mid2 < lo[sym]) | (mid2 > hi[sym])
                if bounded:
                    q = t.kind[s:e] == QUOTE
                    hit |= q & (
                        (a < blo[sym])
                        | (a > bhi[sym])
                        | (b < alo[sym])
                        | (b > ahi[sym])
                        | ((b - a) > spr[sym])
                    )
            else:
                mid2 = a + b
                hit = reaches(buy_col[s:e], sell_col[s:e], g.max_buy_ticks, g.min_sell_ticks)
                hit |= (mid2 < g.mid2_lo) | (mid2 > g.mid2_hi)
                if bounded:
                    q = t.kind[s:e] == QUOTE
                    hit |= q & (
                        (a < g.bid_lo)
                        | (a > g.bid_hi)
                        | (b < g.ask_lo)
                        | (b > g.ask_hi)
                        | ((b - a) > g.spread_max)
                    )
            if cross_depth:
                hit &= ~self.depth[s:e]  # a diff's columns are no quote: the caller processes it
            k = int(hit.argmax())
            if hit[k]:
                return s + k
            s = e
            w = min(w * 2, self.max_window)
        return stop


def _bounds(g: SymbolGuard) -> tuple[int, ...]:
    return (
        g.mid2_lo,
        g.mid2_hi,
        g.max_buy_ticks,
        g.min_sell_ticks,
        g.bid_lo,
        g.bid_hi,
        g.ask_lo,
        g.ask_hi,
        g.spread_max,
    )


def _fit(g: SymbolGuard, dtype: np.dtype[np.signedinteger]) -> SymbolGuard:
    """The guard with its bounds clamped to the tape's integer range (int32 tapes hold values of
    magnitude < 2^30, so a bound beyond the range compares the same as the range's end; clamping
    only ever adds hits, so the scan can stop earlier, never later). Comparing an int32 column with
    a Python int outside int32 makes numpy widen the column: ~4x slower."""
    if dtype != np.int32:
        return g
    lo, hi = -(1 << 31), (1 << 31) - 1

    def c(v: int) -> int:
        return lo if v < lo else hi if v > hi else v

    return SymbolGuard(
        c(g.mid2_lo),
        c(g.mid2_hi),
        c(g.max_buy_ticks),
        c(g.min_sell_ticks),
        c(g.bid_lo),
        c(g.bid_hi),
        c(g.ask_lo),
        c(g.ask_hi),
        c(g.spread_max),
    )
