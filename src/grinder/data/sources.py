"""Open any supported market-data path and merge everything into one `Tape` or event stream.

Supported: Binance public-data CSV (plain or .zip, header or not) and Parquet for bookTicker,
aggTrades and trades; raw stream captures (`<ns> <json>` gzip lines); GRINDER recordings (Parquet
from `grinder record`). Directories are expanded to the supported files inside, sorted by name.

Merge order: public files by their primary exchange timestamp (transaction_time / transact_time /
time, ms); captures and recordings by local receive time (their line order). Ties keep the order
of the sources as listed (after sorting by path).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from grinder.core.events import DepthSnapshot, MarketEvent
from grinder.core.rules import SymbolRules
from grinder.data.binance_files import (
    kind_from_filename,
    load_quotes,
    load_trades,
    read_batches,
    symbol_from_filename,
)
from grinder.data.capture import is_capture
from grinder.data.capture_columns import EventColumns, capture_source
from grinder.data.direct import load_public_parquet
from grinder.data.errors import DataError
from grinder.data.recording import is_recording, iter_recording
from grinder.data.symbols import RulesArg, as_rules_map, builtin_rules, rules_for
from grinder.data.tape import (
    QUOTE,
    TRADE_BUY_AGGR,
    TRADE_SELL_AGGR,
    SourceColumns,
    Tape,
    merge_sources,
)
from grinder.data.tape_file import is_tape_file, read_source

log = logging.getLogger(__name__)

_SUFFIXES = (".csv", ".zip", ".parquet", ".gz")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus supported files inside named directories; sorted and de-duplicated."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(_SUFFIXES)))
        elif p.exists():
            out.append(p)
        else:
            raise DataError(f"data path {p} does not exist")
    seen: set[Path] = set()
    uniq = []
    for p in sorted(out, key=str):
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    if not uniq:
        raise DataError(f"no market-data files found in {', '.join(map(str, paths))}")
    _refuse_copies(uniq)
    return uniq


def _refuse_copies(files: list[Path]) -> None:
    """The same data as CSV, zip and Parquet side by side would be loaded twice (doubled volume)."""
    by_stem: dict[Path, Path] = {}
    for f in files:
        stem = f.parent / f.name.removesuffix(".gz").rsplit(".", 1)[0].removesuffix(".tape")
        if stem in by_stem:
            raise DataError(
                f"{by_stem[stem]} and {f} are copies of the same data; pass one of them "
                "(e.g. --data the .parquet file) or move the other copy out of the folder"
            )
        by_stem[stem] = f


def _file_symbol(path: Path, symbol: str | None, rules: dict[str, SymbolRules]) -> str:
    sym = symbol or symbol_from_filename(path)
    if sym is None and len(rules) == 1:
        sym = next(iter(rules))
    if sym is None:
        raise DataError(
            f"{path}: cannot tell the symbol from the file name; pass --symbol or name it <SYMBOL>-..."
        )
    return sym


def _const(n: int, value: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A constant column; zeros come from calloc, so their pages are never touched until written."""
    return np.zeros(n, dtype) if value == 0 else np.full(n, value, dtype)


def _quote_source(path: Path, rules: SymbolRules, sym_index: int) -> SourceColumns:
    q = load_quotes(path, rules)
    n = len(q)
    return SourceColumns(
        name=str(path),
        key=q.time_ms,
        columns={
            "time_ms": q.time_ms,
            "kind": _const(n, QUOTE, np.int8),
            "sym": _const(n, sym_index, np.int16),
            "a": q.bid,
            "b": q.ask,
            "qa": q.bid_qty,
            "qb": q.ask_qty,
            "ident": q.update_id,
            "event_ms": q.event_ms,
        },
    )


def _trade_source(path: Path, rules: SymbolRules, sym_index: int) -> SourceColumns:
    t = load_trades(path, rules)
    n = len(t)
    kind = np.where(t.buyer_is_maker, TRADE_SELL_AGGR, TRADE_BUY_AGGR).astype(np.int8)
    return SourceColumns(
        name=str(path),
        key=t.time_ms,
        columns={
            "time_ms": t.time_ms,
            "kind": kind,
            "sym": _const(n, sym_index, np.int16),
            "a": t.price,
            "b": t.price,
            "qa": t.qty,
            "qb": np.zeros(n, np.int32),
            "ident": t.trade_id,
            "event_ms": t.time_ms,
        },
    )


def events_source(name: str, rows: Iterable[tuple[int, MarketEvent | DepthSnapshot]]) -> SourceColumns:
    """Columns for decoded events (captures, recordings): quotes and trades flat, the rest as objects.

    The `sym` column indexes `SourceColumns.symbols` (this source's symbols in order of appearance).
    """
    out = EventColumns()
    for key, ev in rows:
        out.add_event(key, ev)
    return out.source(name)


class RulesView(Mapping[str, SymbolRules]):
    """Explicit rules first, then the built-in ones; unknown symbols are simply absent."""

    def __init__(self, explicit: Mapping[str, SymbolRules]) -> None:
        self._rules = dict(explicit)

    def __getitem__(self, symbol: str) -> SymbolRules:
        found = self._rules.get(symbol)
        if found is None:
            try:
                found = builtin_rules(symbol)
            except DataError:
                raise KeyError(symbol) from None
            self._rules[symbol] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._rules))

    def __len__(self) -> int:
        return len(self._rules)


def load_tape(
    paths: Iterable[str | Path],
    rules: RulesArg | None = None,
    *,
    symbol: str | None = None,
    phases: dict[str, float] | None = None,
) -> Tape:
    """Load and merge market data from files/directories into a columnar `Tape`.

    `rules`: one `SymbolRules` or symbol -> rules; symbols without rules use the built-in
    BTCUSDT/ETHUSDT rules or fail with a message asking for an exchangeInfo file.
    `symbol`: force the symbol of public-data files whose names do not carry it.
    `phases`: if given, receives the wall seconds of reading + converting the files (`read_s`)
    and of merging them into one tape (`merge_s`), for benchmarks.
    """
    t0 = time.perf_counter()
    files = expand_paths(paths)
    explicit = as_rules_map(rules)
    view = RulesView(explicit)
    if files and all(
        f.suffix.lower() == ".parquet" and not is_tape_file(f) and not is_recording(f) for f in files
    ):
        syms = [_file_symbol(f, symbol, explicit) for f in files]
        fast = load_public_parquet(files, syms, [rules_for(explicit, s) for s in syms], view, phases)
        if fast is not None:
            log.info(
                "tape_loaded files=%d events=%d symbols=%s", len(files), len(fast), ",".join(fast.symbols)
            )
            return fast

    def load_one(f: Path) -> SourceColumns:
        if is_tape_file(f):
            return read_source(f)  # a converted capture (grinder data convert)
        if f.suffix.lower() == ".gz" and is_capture(f):
            return capture_source(f, view)  # straight to columns (ADR-280)
        if f.suffix.lower() == ".parquet" and is_recording(f):
            return events_source(str(f), iter_recording(f, view))
        sym = _file_symbol(f, symbol, explicit)
        sym_rules = rules_for(explicit, sym)
        kind = kind_from_filename(f) or read_batches(f)[0]
        src = _quote_source(f, sym_rules, 0) if kind == "bookTicker" else _trade_source(f, sym_rules, 0)
        src.symbols = [sym]
        return src

    # Arrow decoding and the numpy conversions release the GIL: two files load at once.
    with ThreadPoolExecutor(max_workers=min(2, len(files))) as pool:
        sources = list(pool.map(load_one, files))
    symbols = sorted({s for src in sources for s in src.symbols})
    index = {s: i for i, s in enumerate(symbols)}
    for src in sources:  # local symbol numbers -> tape symbol numbers
        local = np.array([index[s] for s in src.symbols], dtype=np.int16)
        if len(src) and not np.array_equal(local, np.arange(len(local))):
            src.columns["sym"] = local[src.columns["sym"]]
    t1 = time.perf_counter()
    tape = merge_sources(sources, symbols, [view[s] for s in symbols])
    if phases is not None:
        phases["read_s"] = t1 - t0
        phases["merge_s"] = time.perf_counter() - t1
    log.info("tape_loaded files=%d events=%d symbols=%s", len(files), len(tape), ",".join(symbols))
    return tape


def iter_events(
    paths: Iterable[str | Path], rules: RulesArg | None = None, *, symbol: str | None = None
) -> Iterator[MarketEvent | DepthSnapshot]:
    """Core market events from files/directories, merged in event-time order (see module doc).

    The simple replay API (`grinder sim --data`, tests): `for ev in iter_events([path], rules): ...`.
    Loads the files' columns into memory first (about 40 bytes per quote/trade).
    """
    tape = load_tape(paths, rules, symbol=symbol)
    return tape.events()
