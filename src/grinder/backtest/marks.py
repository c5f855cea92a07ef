"""The equity watch's re-marks over skipped rows (ADR-330).

A per-event run re-marks equity (wallet plus unrealized PnL at the pipeline's reference prices) on
the first event at least `equity_refresh_ms` after the last re-mark, i.e. about once per second of
data. Inside a skip the position, the entry price and the wallet are fixed (a fill, funding or a
command ends every skip), so each of those re-marks is known from the tape alone: its row, its time,
and the mid of each symbol's last quote at or before that row (what the pipeline's reference price is
then, as every skip hands the last skipped quote over). The backtester makes them itself instead of
stopping at each one, and ends a skip at the first re-mark that could move the risk guard's latches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from grinder.data.tape import Tape
from grinder.execution.pipeline import TradingPipeline
from grinder.risk.guard import watch_equity

# A skip ends at any re-mark within this share of a loss limit (a re-mark processed in full is always
# exact; the margin keeps this module's reading of the limits on the safe side of the guard's).
_LIMIT_SHARE = Decimal("0.5")

Mark = tuple[int, int, Decimal]  # (row, time ms, equity)


def read_rows(
    clock_ms: npt.NDArray[np.int64], start: int, stop: int, last_ms: int, every_ms: int
) -> Iterator[int]:
    """The rows in [start, stop) on which a value read on the first row at least `every_ms` after the
    previous read (the last one at `last_ms`) is read."""
    if int(clock_ms[stop - 1]) - last_ms < every_ms:
        return
    while True:
        k = max(int(clock_ms.searchsorted(last_ms + every_ms, side="left")), start)
        if k >= stop:
            return
        yield k
        last_ms = int(clock_ms[k])


def emulable(pipeline: TradingPipeline, quote_rows: Sequence[npt.NDArray[np.intp]], row: int) -> bool:
    """Re-marks from row `row` on can be made from the tape: the watch has made a re-mark (so it has
    a wallet, which is never unset), and every symbol's reference price comes from a quote already
    seen (not a trade or a mark)."""
    if pipeline.last_equity_ms is None:
        return False
    return all(len(rows) and int(rows[0]) < row for rows in quote_rows)


def equity_marks(
    tape: Tape,
    quote_rows: Sequence[npt.NDArray[np.intp]],
    pipeline: TradingPipeline,
    start: int,
    stop: int,
    refresh_ms: int,
) -> list[Mark]:
    """The re-marks a per-event run makes on rows [start, stop), from the pipeline's state now."""
    last = pipeline.last_equity_ms
    assert last is not None
    clock = tape.clock_ms
    marks: list[Mark] = []
    for r in read_rows(clock, start, stop, last, refresh_ms):
        refs = {}
        for si, rows in enumerate(quote_rows):
            q = int(rows[int(rows.searchsorted(r, side="right")) - 1])
            refs[tape.symbols[si]] = (int(tape.a[q]) + int(tape.b[q])) // 2
        equity = pipeline.equity_at(refs)
        assert equity is not None
        marks.append((r, int(clock[r]), equity))
    return marks


def first_risky(pipeline: TradingPipeline, marks: Sequence[Mark]) -> int | None:
    """The row of the first re-mark that could engage the kill switch (DRAWDOWN, DAILY_LOSS, equity
    at or below 0), following the guard's high-water mark and UTC-day start equity through `marks`
    with the guard's own rule (`watch_equity`) at `_LIMIT_SHARE` of its limits; None when none can
    (or the latch is engaged already: a re-mark then changes no decision)."""
    guard = pipeline.guard
    if guard.kill_switch_engaged:
        return None
    state = guard.trip_state()
    high, day, day_start = state.high_water, state.utc_day, state.day_start_equity
    max_dd = guard.config.max_drawdown_pct * _LIMIT_SHARE
    max_loss = guard.config.daily_loss_limit * _LIMIT_SHARE
    for row, t, equity in marks:
        high, day, day_start, trip = watch_equity(high, day, day_start, equity, t, max_dd, max_loss)
        if trip is not None:
            return row
    return None
