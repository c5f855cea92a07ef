"""Raw stream captures straight into tape columns (the loader's fast path, ADR-280).

`events_source(iter_capture(...))` builds a core event object per line and then takes it apart
into columns again: ~16 µs a line, five times the JSON decoding itself. Here book tickers and
trades (>90% of a capture) go from the typed wire schema (`grinder.binance.schemas`) straight into
the columns, with the price and quantity conversions of the live parser (the same `Grid` and its
`level_cache`), so each column value is what the event object would have carried. Every other line
(depth diffs, mark prices, the REST snapshot, acks, and any line the typed decoder refuses) goes
through the live wire parser exactly as in `iter_capture`. The whole file is inflated in large
chunks instead of line by line. `tests/data/test_capture_columns.py` checks the result equals the
per-event path on both real captures.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import cast

import msgspec
import numpy as np
import numpy.typing as npt

from grinder.binance.schemas import AggTradeMsg, BookTickerMsg, CombinedMsg, DepthUpdateMsg, TradeMsg
from grinder.binance.units import grids_for
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, Level, MarketEvent, Trade
from grinder.core.rules import SymbolRules
from grinder.data.binance_files import symbol_from_filename
from grinder.data.capture import decode_line, unreadable
from grinder.data.errors import DataError
from grinder.data.tape import (
    COLUMNS,
    OTHER,
    QUOTE,
    TRADE_BUY_AGGR,
    TRADE_SELL_AGGR,
    SourceColumns,
    event_time_ms,
    feed_latency_from,
)

Row = tuple[int, int, int, int, int, int, int, int]
_CHUNK = 1 << 22  # compressed bytes read at a time
_COMBINED = msgspec.json.Decoder(CombinedMsg)
_PREFIX = b'{"stream"'
_FLAT = (BookTickerMsg, TradeMsg, AggTradeMsg)
_TYPED = frozenset((*_FLAT, DepthUpdateMsg))
_CACHE_LIMIT = 1 << 20  # distinct strings per grid remembered while loading one file


class _Units(dict[str, int]):
    """Wire string -> grid units, converted on first sight and remembered (emptied when full): a hit is
    one C-level dict lookup, `__missing__` runs only on a miss."""

    __slots__ = ("_convert",)

    def __init__(self, convert: Callable[[str], int]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, text: str) -> int:
        v = self._convert(text)  # ValueError off the grid: the caller falls back to the live parser
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[text] = v
        return v


class _Conv:
    """One symbol's wire-string conversions for loading: the live parser's `Grid.level_units`, with
    a cache per file large enough for a capture's distinct depth levels (the live cache is bounded
    to 4096 and would be cleared over and over: ~180,000 misses on one 6-minute capture)."""

    __slots__ = ("_pc", "_qc")

    def __init__(self, rules: SymbolRules) -> None:
        g = grids_for(rules)
        self._pc = _Units(g.price.level_units)
        self._qc = _Units(g.qty.level_units)

    def price(self, text: str) -> int:
        return self._pc[text]

    def qty(self, text: str) -> int:
        return self._qc[text]

    def _levels(self, raw: list[tuple[str, str]]) -> tuple[Level, ...]:
        pc, qc = self._pc, self._qc
        return tuple([(pc[p], qc[q]) for p, q in raw])

    def depth(self, msg: DepthUpdateMsg) -> DepthUpdate:
        """The live parser's `DepthUpdate` for this message (field for field)."""
        bids, asks = self._levels(msg.b), self._levels(msg.a)
        return DepthUpdate(msg.s, msg.U, msg.u, msg.pu, bids, asks, msg.E, msg.T)

    def row(self, msg: BookTickerMsg | TradeMsg | AggTradeMsg) -> Row:
        """The flat columns (time, kind, a, b, qa, qb, ident, event ms) of a quote or trade."""
        pc, qc = self._pc, self._qc
        if isinstance(msg, BookTickerMsg):
            return (msg.T, QUOTE, pc[msg.b], pc[msg.a], qc[msg.B], qc[msg.A], msg.u, msg.E)
        px = pc[msg.p]
        tid = msg.t if isinstance(msg, TradeMsg) else msg.a
        k = TRADE_SELL_AGGR if msg.m else TRADE_BUY_AGGR
        return (msg.T, k, px, px, qc[msg.q], 0, tid, msg.E)


def gzip_lines(path: Path) -> Iterator[bytes]:
    """The lines of a (possibly multi-member) gzip file, inflated in large chunks; like iterating a
    `gzip.open` file, each line keeps its newline (the last may have none)."""
    with path.open("rb") as fh:
        d = zlib.decompressobj(wbits=31)
        tail = b""
        started = False
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            while chunk:
                if d.eof:  # the next gzip member
                    if not chunk.strip(b"\x00"):
                        break
                    d = zlib.decompressobj(wbits=31)
                started = True
                data = tail + d.decompress(chunk)
                chunk = d.unused_data if d.eof else b""
                lines = data.split(b"\n")
                tail = lines.pop()
                for line in lines:
                    yield line + b"\n"
        if started and not d.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        if tail:
            yield tail


def capture_source(path: str | Path, rules: Mapping[str, SymbolRules]) -> SourceColumns:
    """The columns `events_source(str(path), iter_capture(path, rules))` gives, built directly."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"capture file {p} does not exist")
    try:
        return _read(p, rules)
    except (OSError, EOFError, zlib.error) as exc:  # truncated download, not gzip, bad CRC
        raise DataError(unreadable(p, exc)) from None


class EventColumns:
    """Tape columns of decoded rows being filled (quotes and trades flat, the rest as objects); the
    `sym` column numbers symbols in order of first appearance (`SourceColumns.symbols`)."""

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.sym: list[int] = []
        self.rows: list[Row] = []  # (time kind a b qa qb ident E) per row; one numpy array at the end
        self.objects: list[MarketEvent | DepthSnapshot] = []
        self.sym_of: dict[str, int] = {}

    def add(self, key: int, symbol: str, row: Row) -> None:
        self.keys.append(key)
        self.sym.append(self.sym_of.setdefault(symbol, len(self.sym_of)))
        self.rows.append(row)

    def add_event(self, key: int, ev: MarketEvent | DepthSnapshot) -> None:
        """What `events_source` makes of a decoded event."""
        t = event_time_ms(ev)
        if isinstance(ev, BookTicker):
            row: Row = (
                t,
                QUOTE,
                ev.bid_ticks,
                ev.ask_ticks,
                ev.bid_lots,
                ev.ask_lots,
                ev.update_id,
                ev.event_time_ms,
            )
        elif isinstance(ev, Trade):
            k = TRADE_SELL_AGGR if ev.buyer_is_maker else TRADE_BUY_AGGR
            row = (t, k, ev.price_ticks, ev.price_ticks, ev.qty_lots, 0, ev.trade_id, ev.event_time_ms)
        else:
            row = (t, OTHER, 0, 0, 0, 0, len(self.objects), int(getattr(ev, "event_time_ms", 0)))
            self.objects.append(ev)
        self.add(key, ev.symbol, row)

    def source(self, name: str) -> SourceColumns:
        table = np.array(self.rows, dtype=np.int64).reshape(-1, 8)
        names = ("time_ms", "kind", "a", "b", "qa", "qb", "ident", "event_ms")
        flat: dict[str, npt.NDArray[np.int64]] = {col: table[:, k] for k, col in enumerate(names)}
        flat["sym"] = np.asarray(self.sym, dtype=np.int64)
        dtypes = {"kind": np.int8, "sym": np.int16}
        columns: dict[str, npt.NDArray[np.generic]] = {
            c: np.ascontiguousarray(flat[c], dtype=dtypes.get(c, np.int64)) for c in COLUMNS
        }
        recv = np.asarray(self.keys, dtype=np.int64)
        event_ms = np.asarray(columns["event_ms"], dtype=np.int64)
        return SourceColumns(
            name=name,
            key=recv,
            columns=columns,
            objects=self.objects,
            key_is_ns=True,
            symbols=list(self.sym_of),
            feed_latency_ms=feed_latency_from(recv, event_ms) if len(recv) else None,
        )


def _read(p: Path, rules: Mapping[str, SymbolRules]) -> SourceColumns:
    symbol = symbol_from_filename(p)
    out = EventColumns()
    convs: dict[str, _Conv] = {}
    decode = _COMBINED.decode
    bad = (msgspec.ValidationError, msgspec.DecodeError)
    # the per-line work of `out.add` / `_Conv.row`, written out for the common lines (ADR-321)
    keys, syms, rows, sym_of = out.keys, out.sym, out.rows, out.sym_of
    last_s: str | None = None
    conv: _Conv | None = None  # the converter of `last_s` (None: a symbol without rules)
    sym_no = 0
    for lineno, line in enumerate(gzip_lines(p), start=1):
        ns_text, _, raw = line.partition(b" ")
        raw = raw.strip()
        if not raw:
            continue
        msg = None
        if raw.startswith(_PREFIX):
            try:
                msg = decode(raw).data
            except bad:
                msg = None
        kind = type(msg)
        if kind in _TYPED:
            typed = cast("BookTickerMsg | TradeMsg | AggTradeMsg | DepthUpdateMsg", msg)
            s = typed.s
            if s != last_s:
                conv = convs.get(s)
                if conv is None and s in rules:
                    conv = convs[s] = _Conv(rules[s])
                if conv is not None:
                    sym_no = sym_of.setdefault(s, len(sym_of))
                last_s = s
            if conv is not None:
                try:
                    key = int(ns_text)
                    if kind is BookTickerMsg:
                        m = cast(BookTickerMsg, typed)
                        pc, qc = conv._pc, conv._qc
                        row: Row = (m.T, QUOTE, pc[m.b], pc[m.a], qc[m.B], qc[m.A], m.u, m.E)
                    elif kind is DepthUpdateMsg:
                        out.add_event(key, conv.depth(cast(DepthUpdateMsg, typed)))
                        symbol = s
                        continue
                    else:
                        row = conv.row(cast("TradeMsg | AggTradeMsg", typed))
                    keys.append(key)
                    syms.append(sym_no)
                    rows.append(row)
                    symbol = s
                    continue
                except ValueError:
                    pass  # off-grid or malformed: the live parser raises the error naming the line
        decoded = decode_line(p, lineno, ns_text, raw, symbol, rules)
        if decoded is not None:
            symbol = getattr(decoded[1], "symbol", symbol)
            out.add_event(*decoded)
            last_s = None  # `add_event` may have numbered a new symbol
    return out.source(str(p))
