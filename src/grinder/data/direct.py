"""Fast path of `load_tape` for Binance public-data Parquet files: convert straight into the tape.

The general path converts each file into its own columns and then scatters them into the merged
tape: every value is written twice and the process touches about twice the tape's memory (fresh
pages are the dearest part of a load). Parquet files know their row counts, so here the merge keys
are read first (one column per file), the merge positions computed in O(n) (`merge_positions`),
and then every file's row groups are decoded and converted (`to_units`: the same exactness checks
and messages) by one thread per file and written straight to their final rows. Same tape, same
errors; anything this path does not cover (CSV, captures, recordings, an unsorted file, nulls, a
file whose name and columns disagree) returns None and the general path runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from grinder.core.rules import SymbolRules
from grinder.data.binance_files import _I32_LIMIT, KIND_COLUMNS, kind_from_filename, to_units
from grinder.data.errors import DataError
from grinder.data.tape import QUOTE, TRADE_BUY_AGGR, TRADE_SELL_AGGR, Tape, merge_positions

_KEY = {"bookTicker": "transaction_time", "aggTrades": "transact_time", "trades": "time"}
# (tape column, file column, "tick" / "lot" / None for as-is); the key column is written from the key
_MAP: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "bookTicker": (
        ("event_ms", "event_time", None),
        ("ident", "update_id", None),
        ("a", "best_bid_price", "tick"),
        ("qa", "best_bid_qty", "lot"),
        ("b", "best_ask_price", "tick"),
        ("qb", "best_ask_qty", "lot"),
    ),
    "aggTrades": (
        ("ident", "agg_trade_id", None),
        ("a", "price", "tick"),
        ("qa", "quantity", "lot"),
    ),
    "trades": (
        ("ident", "id", None),
        ("a", "price", "tick"),
        ("qa", "qty", "lot"),
    ),
}
_NARROW = ("a", "b", "qa", "qb")  # int32 while every value fits (the general path's rule)


@dataclass(slots=True)
class _File:
    path: Path
    pf: Any  # pq.ParquetFile
    kind: str
    symbol: str
    rules: SymbolRules
    rows: int
    key: npt.NDArray[np.int64] | None = None


class _Out:
    """The tape's columns, written by one thread per file at disjoint rows. Each column has a lock:
    widening int32 -> int64 (a value beyond ±2^30) copies the column, so no write may race it."""

    def __init__(self, total: int, one_symbol: bool) -> None:
        self.cols: dict[str, npt.NDArray[Any]] = {
            "time_ms": np.empty(total, np.int64),
            "kind": np.empty(total, np.int8),
            "sym": np.zeros(total, np.int16) if one_symbol else np.empty(total, np.int16),
            "ident": np.empty(total, np.int64),
            "event_ms": np.empty(total, np.int64),
        }
        for name in _NARROW:
            self.cols[name] = np.empty(total, np.int32)
        self.locks = {name: threading.Lock() for name in self.cols}

    def put(self, name: str, pos: npt.NDArray[Any], values: Any) -> None:
        with self.locks[name]:
            col = self.cols[name]
            if (
                col.dtype == np.int32
                and isinstance(values, np.ndarray)
                and values.dtype != np.int32
                and len(values)
                and (int(values.max()) >= _I32_LIMIT or int(values.min()) <= -_I32_LIMIT)
            ):
                col = self.cols[name] = col.astype(np.int64)
            col[pos] = values


def _open(path: Path, symbol: str, rules: SymbolRules) -> _File | None:
    if path.suffix.lower() != ".parquet":
        return None
    pf = pq.ParquetFile(path, memory_map=True, pre_buffer=True)
    names = set(pf.schema_arrow.names)
    kind = next((k for k, cols in KIND_COLUMNS.items() if set(cols) <= names), None)
    if kind is None:
        return None
    chosen = kind_from_filename(path) or kind  # what the general path would load it as
    if (chosen == "bookTicker") != (kind == "bookTicker"):
        return None  # the general path reports the mismatch
    return _File(path, pf, kind, symbol, rules, pf.metadata.num_rows)


def _read_key(f: _File) -> bool:
    """Read the merge key; False (general path) when it has nulls, is not integer or not sorted."""
    col = f.pf.read(columns=[_KEY[f.kind]], use_threads=True).column(0)
    if col.null_count:
        return False
    key = np.asarray(col.to_numpy())
    if key.dtype.kind not in "iu":
        return False
    if len(key) > 1 and bool(np.any(key[1:] < key[:-1])):
        return False
    f.key = key.astype(np.int64, copy=False)
    return True


def _fill(f: _File, pos: npt.NDArray[Any], out: _Out, sym_index: int, one_symbol: bool) -> None:
    quotes = f.kind == "bookTicker"
    assert f.key is not None
    out.put("time_ms", pos, f.key)
    if not quotes:
        out.put("event_ms", pos, f.key)  # a trade's E is its time
    f.key = None
    mapping = _MAP[f.kind]
    wanted = [src for _, src, _ in mapping] + ([] if quotes else ["is_buyer_maker"])
    steps = {"tick": f.rules.tick_size, "lot": f.rules.step_size}
    where = str(f.path)
    row0 = 0
    for rg in range(f.pf.num_row_groups):
        table = f.pf.read_row_group(rg, columns=wanted, use_threads=True)
        n = table.num_rows
        p = pos[row0 : row0 + n]
        for name, src, unit in mapping:
            col = table.column(src)
            if col.null_count:
                raise DataError(f"{where}: column {src} has empty values (rows {row0}..{row0 + n})")
            if unit is None:
                values = np.asarray(col.to_numpy())
            else:
                values = to_units(col, steps[unit], src, where, row0, narrow=True)
            out.put(name, p, values)
            if not quotes and name == "a":
                out.put("b", p, values)  # a trade's price in both
        if quotes:
            out.put("kind", p, QUOTE)
        else:
            col = table.column("is_buyer_maker")
            if col.null_count:
                raise DataError(f"{where}: column is_buyer_maker has empty values (rows {row0}..{row0 + n})")
            maker = np.asarray(col.to_numpy())
            out.put("kind", p, np.where(maker, TRADE_SELL_AGGR, TRADE_BUY_AGGR).astype(np.int8))
            out.put("qb", p, 0)
        if not one_symbol:
            out.put("sym", p, sym_index)
        row0 += n
        del table


def load_public_parquet(
    files: Sequence[Path],
    symbols_of: Sequence[str],
    rules_of: Sequence[SymbolRules],
    rules_by_symbol: Mapping[str, SymbolRules],
    phases: dict[str, float] | None = None,
) -> Tape | None:
    """The merged tape of public-data Parquet files, or None when the general path must run.
    `phases` gets `merge_s` (the merge positions) and `read_s` (everything else)."""
    t0 = time.perf_counter()
    opened = []
    for path, sym, rules in zip(files, symbols_of, rules_of, strict=True):
        f = _open(path, sym, rules)
        if f is None:
            return None
        opened.append(f)
    srcs = [f for f in opened if f.rows]
    if not srcs:
        return None
    with ThreadPoolExecutor(max_workers=min(2, len(srcs))) as pool:
        if not all(pool.map(_read_key, srcs)):
            return None
    symbols = sorted({f.symbol for f in opened})  # empty files still name their symbol
    t1 = time.perf_counter()
    positions = merge_positions([f.key for f in srcs if f.key is not None])
    t2 = time.perf_counter()
    total = sum(f.rows for f in srcs)
    one = len(symbols) == 1
    out = _Out(total, one)
    index = {s: i for i, s in enumerate(symbols)}
    with ThreadPoolExecutor(max_workers=min(2, len(srcs))) as pool:
        jobs = [
            pool.submit(_fill, f, pos, out, index[f.symbol], one)
            for f, pos in zip(srcs, positions, strict=True)
        ]
        for job in jobs:
            job.result()
    c = out.cols
    if phases is not None:
        phases["merge_s"] = t2 - t1
        phases["read_s"] = time.perf_counter() - t0 - (t2 - t1)
    return Tape(
        symbols=tuple(symbols),
        rules=tuple(rules_by_symbol[s] for s in symbols),
        time_ms=c["time_ms"],
        kind=c["kind"],
        sym=c["sym"],
        a=c["a"],
        b=c["b"],
        qa=c["qa"],
        qb=c["qb"],
        ident=c["ident"],
        event_ms=c["event_ms"],
        objects=[],
        sources=tuple(str(f.path) for f in srcs),
    )
