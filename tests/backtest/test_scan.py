"""The quiet-band scan never jumps over a row that must be processed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.backtest.scan import NO_BUY, NO_SELL, QuietScanner, SymbolGuard
from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.data.tape import OTHER, QUOTE, TRADE_BUY_AGGR, Tape


def make_tape(rows: list[tuple[int, int, int, int]], nsym: int) -> Tape:
    """rows: (kind, sym, a, b) with times 0, 1, 2, ..."""
    n = len(rows)
    kind = np.array([r[0] for r in rows], dtype=np.int8)
    rules = (btcusdt_rules(), ethusdt_rules())[:nsym]
    return Tape(
        symbols=tuple(r.symbol for r in rules),
        rules=rules,
        time_ms=np.arange(n, dtype=np.int64),
        kind=kind,
        sym=np.array([r[1] for r in rows], dtype=np.int16),
        a=np.array([r[2] if r[0] != OTHER else 0 for r in rows], dtype=np.int32),
        b=np.array([r[3] if r[0] != OTHER else 0 for r in rows], dtype=np.int32),
        qa=np.ones(n, np.int32),
        qb=np.ones(n, np.int32),
        ident=np.arange(n, dtype=np.int64),
        event_ms=np.arange(n, dtype=np.int64),
        objects=[],
    )


def must_stop(row: tuple[int, int, int, int], g: SymbolGuard, queue: bool) -> bool:
    kind, _, a, b = row
    if kind == OTHER:
        return True
    buy_px, sell_px = (a, b) if queue else (b, a)
    if buy_px <= g.max_buy_ticks or sell_px >= g.min_sell_ticks:
        return True
    if kind == QUOTE:
        return not (
            g.mid2_lo <= a + b <= g.mid2_hi
            and g.bid_lo <= a <= g.bid_hi
            and g.ask_lo <= b <= g.ask_hi
            and b - a <= g.spread_max
        )
    return False  # a trade inside the band that reaches no order changes nothing


row_st = st.tuples(
    st.sampled_from([QUOTE, QUOTE, QUOTE, TRADE_BUY_AGGR, OTHER]),
    st.integers(0, 1),
    st.integers(90, 110),
    st.integers(0, 4),
).map(lambda r: (r[0], r[1], r[2], r[2] + (r[3] if r[0] == QUOTE else 0)))
guard_st = st.builds(
    SymbolGuard,
    mid2_lo=st.integers(170, 200),
    mid2_hi=st.integers(200, 230),
    max_buy_ticks=st.one_of(st.just(NO_BUY), st.integers(80, 100)),
    min_sell_ticks=st.one_of(st.just(NO_SELL), st.integers(100, 120)),
    bid_lo=st.one_of(st.just(NO_BUY), st.integers(85, 100)),
    spread_max=st.one_of(st.just(NO_SELL), st.integers(0, 4)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(row_st, min_size=1, max_size=3000),
    st.lists(guard_st, min_size=2, max_size=2),
    st.integers(0, 50),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 3000)),
)
def test_scan_stops_no_later_than_the_first_row_that_matters(
    rows: list[tuple[int, int, int, int]],
    guards: list[SymbolGuard],
    start: int,
    multi: bool,
    queue: bool,
    until: int | None,
) -> None:
    nsym = 2 if multi else 1
    rows = [(k, s if multi else 0, a, b) for k, s, a, b in rows]
    tape = make_tape(rows, nsym)
    start = min(start, len(rows))
    sc = QuietScanner(tape, first_window=7)
    got = sc.next_active(start, list(guards[:nsym]), until, queue_model=queue)
    first = next(
        (
            i
            for i in range(start, len(rows))
            if must_stop(rows[i], guards[rows[i][1]], queue) or (until is not None and i >= until)
        ),
        len(rows),
    )
    assert start <= got <= first
    # exact for quotes and other rows: only a trade (tested with 2 x price against the band) may stop early
    if got < first:
        assert rows[got][0] not in (QUOTE, OTHER)
