"""`Tape`: every market event of a backtest, merged in event-time order, as flat numpy columns.

One row per event. Quotes (bookTicker) and trades live in integer columns so the backtester can
scan millions of rows with numpy; anything else (depth diffs and snapshots, mark prices) is kept
as its core event object and referenced by row. `Tape.event(i)` rebuilds the core event of a row.

Columns: `time_ms` (exchange time: the virtual clock), `kind` (QUOTE, TRADE_BUY_AGGR,
TRADE_SELL_AGGR, OTHER), `sym` (index into `symbols`), `a`/`b` (quote bid/ask ticks; a trade's
price in both), `qa`/`qb` (bid/ask lots; a trade's qty in `qa`), `ident` (update id / trade id /
index into `objects`), `event_ms` (the stream's E).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from grinder.core.events import BookTicker, DepthSnapshot, MarketEvent, Trade
from grinder.core.rules import SymbolRules

I64 = npt.NDArray[np.int64]
ReplayEvent = MarketEvent | DepthSnapshot  # what replay yields: stream events plus REST depth snapshots
AnyInt = npt.NDArray[np.signedinteger]

QUOTE = 0
TRADE_BUY_AGGR = 1  # buyer_is_maker False: the aggressor bought
TRADE_SELL_AGGR = 2  # buyer_is_maker True
OTHER = 3

COLUMNS = ("time_ms", "kind", "sym", "a", "b", "qa", "qb", "ident", "event_ms")


@dataclass(slots=True)
class SourceColumns:
    """One source's rows (already in its own time order) before the merge."""

    name: str
    key: I64  # merge key: exchange ms for public files, receive ns for captures/recordings
    columns: dict[str, npt.NDArray[np.generic]]
    objects: list[ReplayEvent] = field(default_factory=list)
    key_is_ns: bool = False
    symbols: list[str] = field(default_factory=list)  # what the `sym` column numbers
    feed_latency_ms: int | None = None  # measured from local receive times (see feed_latency_from)

    def __len__(self) -> int:
        return len(self.key)


@dataclass(slots=True)
class Tape:
    symbols: tuple[str, ...]
    rules: tuple[SymbolRules, ...]
    time_ms: I64
    kind: npt.NDArray[np.int8]
    sym: npt.NDArray[np.int16]
    a: AnyInt
    b: AnyInt
    qa: AnyInt
    qb: AnyInt
    ident: I64
    event_ms: I64
    objects: list[ReplayEvent]
    sources: tuple[str, ...] = ()
    _clock: I64 | None = None
    feed_latency_ms: int | None = None  # market-data latency measured from the data, if it can be


    def __len__(self) -> int:
        return len(self.time_ms)

    @property
    def clock_ms(self) -> I64:
        """The virtual clock at each row: the running maximum of `time_ms` (sorted, even where the
        exchange times of interleaved streams step back a little, as in real captures)."""
        if self._clock is None:
            t = self.time_ms
            monotonic = len(t) < 2 or bool(np.all(t[1:] >= t[:-1]))
            self._clock = t if monotonic else np.maximum.accumulate(t)
        return self._clock

    def symbol_index(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def event(self, i: int) -> ReplayEvent:
        """The core event of row `i` (what the live stream parser would have produced)."""
        k = int(self.kind[i])
        if k == QUOTE:
            return BookTicker(
                symbol=self.symbols[int(self.sym[i])],
                bid_ticks=int(self.a[i]),
                bid_lots=int(self.qa[i]),
                ask_ticks=int(self.b[i]),
                ask_lots=int(self.qb[i]),
                update_id=int(self.ident[i]),
                event_time_ms=int(self.event_ms[i]),
                transaction_time_ms=int(self.time_ms[i]),
            )
        if k == OTHER:
            return self.objects[int(self.ident[i])]
        return Trade(
            symbol=self.symbols[int(self.sym[i])],
            trade_id=int(self.ident[i]),
            price_ticks=int(self.a[i]),
            qty_lots=int(self.qa[i]),
            buyer_is_maker=k == TRADE_SELL_AGGR,
            trade_time_ms=int(self.time_ms[i]),
            event_time_ms=int(self.event_ms[i]),
        )

    def events(self, start: int = 0, stop: int | None = None) -> Iterator[ReplayEvent]:
        for i in range(start, len(self) if stop is None else stop):
            yield self.event(i)

    def slice(self, stop: int) -> Tape:
        """The first `stop` rows (views, no copy)."""
        return Tape(
            self.symbols,
            self.rules,
            self.time_ms[:stop],
            self.kind[:stop],
            self.sym[:stop],
            self.a[:stop],
            self.b[:stop],
            self.qa[:stop],
            self.qb[:stop],
            self.ident[:stop],
            self.event_ms[:stop],
            self.objects,
            self.sources,
            None if self._clock is None else self._clock[:stop],
            self.feed_latency_ms,
        )

    def counts(self) -> dict[str, int]:
        kinds = np.bincount(self.kind, minlength=4)
        return {
            "quotes": int(kinds[QUOTE]),
            "trades": int(kinds[TRADE_BUY_AGGR] + kinds[TRADE_SELL_AGGR]),
            "other": int(kinds[OTHER]),
        }


def event_time_ms(ev: MarketEvent | DepthSnapshot) -> int:
    """The exchange time an event happened (what the virtual clock shows while it is processed)."""
    if isinstance(ev, BookTicker):
        return ev.transaction_time_ms
    if isinstance(ev, Trade):
        return ev.trade_time_ms
    t = getattr(ev, "transaction_time_ms", 0) or getattr(ev, "event_time_ms", 0)
    return int(t)


def feed_latency_from(recv_ns: I64, event_ms: I64) -> int | None:
    """Typical market-data latency (ms) of a recording: local receive time minus exchange event time.

    The recorder's clock is rarely synchronised with Binance's to the millisecond (the real captures
    run ~1.27 s behind), so when any message seems to arrive before it was sent the clock offset is
    removed by taking the fastest message as zero-latency: the figure is then the median delay above
    the fastest one (a lower bound). None when no row carries an exchange event time.
    """
    ok = event_ms > 0
    if not bool(ok.any()):
        return None
    d = recv_ns[ok] // 1_000_000 - event_ms[ok]
    lo = int(d.min())
    med = int(np.median(d))
    return med - lo if lo < 0 else med


def merge_order(keys: Sequence[I64]) -> npt.NDArray[np.int16]:
    """Source index of every row of the stable merge of sorted key arrays (ties: earlier source first)."""
    if not keys:
        return np.empty(0, np.int16)
    src = np.zeros(len(keys[0]), dtype=np.int16)
    merged = keys[0]
    for n, k in enumerate(keys[1:], start=1):
        ins = np.searchsorted(merged, k, side="right")  # new rows go after equal keys
        ins += np.arange(len(k), dtype=ins.dtype)
        is_new = np.zeros(len(src) + len(k), dtype=np.bool_)
        is_new[ins] = True
        out = np.empty(len(is_new), dtype=np.int16)
        out[is_new] = n
        out[~is_new] = src
        src = out
        if n + 1 < len(keys):  # the merged keys are only needed to place a further source
            mk = np.empty(len(is_new), dtype=np.int64)
            mk[is_new] = k
            mk[~is_new] = merged
            merged = mk
        del ins, is_new
    return src


def merge_positions(keys: Sequence[I64]) -> list[npt.NDArray[Any]]:
    """Row positions of each source in the stable merge of sorted key arrays (ties: earlier source first).

    Two sources (quotes + trades, the usual case) cost one binary search per row of the smaller.
    """
    total = sum(len(k) for k in keys)
    # intp: numpy converts any other index type to intp on every scatter (a temporary per column)
    itype = np.intp
    if len(keys) == 1:
        return [np.arange(total, dtype=itype)]
    if len(keys) == 2:
        a, b = keys
        if len(a) <= len(b):  # a goes before equal keys of b
            small: npt.NDArray[Any] = np.searchsorted(b, a, side="left").astype(itype)
            small = small + np.arange(len(a), dtype=itype)
        else:  # b goes after equal keys of a
            small = np.searchsorted(a, b, side="right").astype(itype)
            small = small + np.arange(len(b), dtype=itype)
        rest = np.ones(total, dtype=np.bool_)
        rest[small] = False
        big = np.flatnonzero(rest)
        return [small, big] if len(a) <= len(b) else [big, small]
    src = merge_order(keys)
    return [np.flatnonzero(src == k).astype(itype) for k in range(len(keys))]


def _fits_int32(arrays: Sequence[npt.NDArray[np.generic]], limit: int = 1 << 30) -> bool:
    """True when every value fits well inside int32 (halves memory and scan time); sums stay < 2^31."""
    return all(len(x) == 0 or (int(x.max()) < limit and int(x.min()) > -limit) for x in arrays)


def merge_sources(
    sources: Sequence[SourceColumns], symbols: Sequence[str], rules: Sequence[SymbolRules]
) -> Tape:
    """Merge per-source rows into one tape ordered by key (stable: source order breaks ties)."""
    srcs = [s for s in sources if len(s)]
    latencies = [s.feed_latency_ms for s in srcs if s.feed_latency_ms is not None]
    mixed = any(s.key_is_ns for s in srcs) and not all(s.key_is_ns for s in srcs)
    for s in srcs:
        if mixed and not s.key_is_ns:
            s.key = s.key * 1_000_000
            s.key_is_ns = True
        if len(s) > 1 and bool(np.any(s.key[1:] < s.key[:-1])):
            order = np.argsort(s.key, kind="stable")
            s.key = s.key[order]
            s.columns = {n: c[order] for n, c in s.columns.items()}
    masks = merge_positions([s.key for s in srcs]) if len(srcs) > 1 else []
    for s in srcs:
        s.key = np.empty(0, np.int64)
    total = sum(len(s.columns["kind"]) for s in srcs)
    objects: list[ReplayEvent] = []
    obj_base = []
    for s in srcs:
        obj_base.append(len(objects))
        objects.extend(s.objects)
    fixed: dict[str, type[np.generic]] = {
        "time_ms": np.int64,
        "kind": np.int8,
        "sym": np.int16,
        "ident": np.int64,
        "event_ms": np.int64,
    }
    out: dict[str, npt.NDArray[np.generic]] = {}
    for name in COLUMNS:
        dtype = fixed.get(name)
        if dtype is None:
            parts = [s.columns[name] for s in srcs]
            narrow = all(p.dtype == np.int32 for p in parts) or _fits_int32(parts)
            dtype = np.int32 if narrow else np.int64
        if name == "sym" and len(symbols) == 1:
            col = np.zeros(total, dtype=np.int16)  # one symbol: zero pages, nothing to scatter
        elif len(srcs) == 1:
            col = np.ascontiguousarray(srcs[0].columns[name], dtype=dtype)
        else:
            col = np.empty(total, dtype=dtype)
            for s, mask, base in zip(srcs, masks, obj_base, strict=True):
                values = s.columns[name]
                if name == "ident" and base:
                    values = np.where(s.columns["kind"] == OTHER, values + base, values)
                col[mask] = values
        for s in srcs:  # free source memory column by column
            if name != "kind":
                s.columns.pop(name, None)
        out[name] = col
    return Tape(
        symbols=tuple(symbols),
        rules=tuple(rules),
        time_ms=out["time_ms"],  # type: ignore[arg-type]
        kind=out["kind"],  # type: ignore[arg-type]
        sym=out["sym"],  # type: ignore[arg-type]
        a=out["a"],  # type: ignore[arg-type]
        b=out["b"],  # type: ignore[arg-type]
        qa=out["qa"],  # type: ignore[arg-type]
        qb=out["qb"],  # type: ignore[arg-type]
        ident=out["ident"],  # type: ignore[arg-type]
        event_ms=out["event_ms"],  # type: ignore[arg-type]
        objects=objects,
        sources=tuple(s.name for s in srcs),
        feed_latency_ms=max(latencies) if latencies else None,
    )
