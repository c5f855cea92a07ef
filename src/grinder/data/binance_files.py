"""Binance public-data files (data.binance.vision, USDⓈ-M): bookTicker, aggTrades and trades.

Reads the daily CSVs (plain or zipped, with or without the header row: a header is detected by
the first row not being numeric, protocol sheet §8) and Parquet files with the same columns, into
columnar integer arrays (price ticks, quantity lots, epoch ms) with pyarrow + numpy.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from grinder.core.rules import SymbolRules
from grinder.data.errors import DataError

I64 = npt.NDArray[np.int64]
IntArr = npt.NDArray[Any]  # int32 or int64 (int32 when the values fit)
BoolArr = npt.NDArray[np.bool_]

BOOK_TICKER_COLUMNS = (
    "update_id",
    "best_bid_price",
    "best_bid_qty",
    "best_ask_price",
    "best_ask_qty",
    "transaction_time",
    "event_time",
)
AGG_TRADES_COLUMNS = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
)
TRADES_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")

KIND_COLUMNS = {"bookTicker": BOOK_TICKER_COLUMNS, "aggTrades": AGG_TRADES_COLUMNS, "trades": TRADES_COLUMNS}
_SYMBOL_RE = re.compile(r"^([A-Z0-9]{2,30})[-_]")


@dataclass(frozen=True, slots=True)
class SymbolColumns:
    """One symbol's rows of one file kind, in file order; `time_ms` (epoch ms) is the merge key."""

    symbol: str
    time_ms: I64

    def __len__(self) -> int:
        return len(self.time_ms)


@dataclass(frozen=True, slots=True)
class QuoteColumns(SymbolColumns):
    """Best bid/ask updates of one symbol, in file order (ticks, lots, epoch ms); `time_ms` is the
    transaction time."""

    event_ms: I64
    update_id: I64
    bid: IntArr
    bid_qty: IntArr
    ask: IntArr
    ask_qty: IntArr


@dataclass(frozen=True, slots=True)
class TradeColumns(SymbolColumns):
    """Public trades of one symbol (aggTrades: trade_id is the aggregate id), in file order; `time_ms`
    is transact_time / time (and the event time: files carry no E)."""

    trade_id: I64
    price: IntArr
    qty: IntArr
    buyer_is_maker: BoolArr


def symbol_from_filename(path: str | Path) -> str | None:
    """`BTCUSDT-aggTrades-2024-01-01.csv` -> BTCUSDT; `btcusdt_20240808.gz` -> BTCUSDT."""
    m = _SYMBOL_RE.match(Path(path).name.upper())
    return m.group(1) if m else None


def kind_from_filename(path: str | Path) -> str | None:
    name = Path(path).name
    for kind in ("bookTicker", "aggTrades", "trades"):
        if f"-{kind}-" in name or name.startswith(f"{kind}-") or f"_{kind}" in name:
            return kind
    return None


def _open_text(path: Path) -> IO[bytes]:
    """The CSV bytes of a plain file or of the single CSV inside a public-data zip."""
    if path.suffix.lower() == ".zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
        if len(names) != 1:
            raise DataError(f"{path}: expected exactly one .csv inside the zip, found {names}")
        return io.BytesIO(zf.read(names[0]))
    return path.open("rb")


def _is_numeric(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def sniff_csv(path: str | Path) -> tuple[str, bool, int]:
    """(kind, has_header, columns) of a public-data CSV, from its name and first row."""
    p = Path(path)
    with _open_text(p) as f:
        first = f.readline().decode("utf-8", "replace").strip()
    if not first:
        raise DataError(f"{p}: the file is empty")
    fields = first.split(",")
    has_header = not _is_numeric(fields[0])
    kind = kind_from_filename(p)
    if has_header:
        names = tuple(x.strip() for x in fields)
        by_header = next((k for k, cols in KIND_COLUMNS.items() if cols == names), None)
        if by_header is None:
            raise DataError(
                f"{p}: unknown header {first!r}; expected one of the Binance USDⓈ-M public-data layouts "
                f"(bookTicker, aggTrades, trades): {', '.join(','.join(c) for c in KIND_COLUMNS.values())}"
            )
        kind = by_header
    elif kind is None:
        # headerless: the column count and the last field tell the layouts apart
        if len(fields) == 6:
            kind = "trades"
        elif len(fields) == 7:
            kind = "aggTrades" if fields[-1].strip().lower() in ("true", "false") else "bookTicker"
    if kind is None or len(fields) != len(KIND_COLUMNS[kind]):
        raise DataError(
            f"{p}: cannot tell the data type from {len(fields)} columns; name the file like Binance's "
            "(<SYMBOL>-bookTicker-..., <SYMBOL>-aggTrades-..., <SYMBOL>-trades-...)"
        )
    return kind, has_header, len(fields)


def _decimals(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


_CHUNK = 1 << 16  # elements per block: keeps the conversion's temporaries in cache


def to_units(
    values: Any, step: Decimal, what: str, where: str, row0: int = 0, *, narrow: bool = False
) -> IntArr:
    """Exact integer multiples of `step` (tick or lot) from decimal numbers read as float64.

    float64 holds every decimal with <= 15 significant digits to within half an ulp, so scaling by
    10**decimals and rounding recovers the exact integer, and dividing back gives the same double;
    any value where it does not (off the grid, or more decimals than the step) is refused.
    `narrow`: return int32 when every value fits with headroom (bid + ask sums stay inside int32).
    """
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        arr = pc.cast(values, pa.float64()).to_numpy()
    dp = _decimals(step)
    scale = 10.0**dp
    step_units = int(step * (10**dp))
    n = len(arr)
    # int32 straight away when the step is one unit (ticks like 0.1, 0.01): no second pass
    out: IntArr = np.empty(n, dtype=np.int32 if narrow and step_units == 1 else np.int64)
    buf = np.empty(min(n, _CHUNK), dtype=np.float64)
    chk = np.empty(min(n, _CHUNK), dtype=np.float64)
    for s in range(0, n, _CHUNK):
        e = min(n, s + _CHUNK)
        x = arr[s:e]
        u = buf[: e - s]
        np.multiply(x, scale, out=u)
        np.rint(u, out=u)
        c = chk[: e - s]
        np.divide(u, scale, out=c)
        if not np.array_equal(c, x):
            bad_row = s + int(np.flatnonzero(c != x)[0])
            raise DataError(
                f"{where}: {what} {float(arr[bad_row])!r} at row {row0 + bad_row} has more decimals than "
                f"{step}; the symbol rules do not match this file (pass --rules exchangeInfo.json)"
            )
        if out.dtype == np.int32 and (float(u.max()) >= _I32_LIMIT or float(u.min()) <= -_I32_LIMIT):
            out = out.astype(np.int64)
        out[s:e] = u
    if step_units != 1:
        rem = out % step_units
        if rem.any():
            bad_row = int(np.flatnonzero(rem)[0])
            raise DataError(
                f"{where}: {what} {float(arr[bad_row])!r} at row {row0 + bad_row} is not a multiple of "
                f"{step}; the symbol rules do not match this file (pass --rules exchangeInfo.json)"
            )
        out //= step_units
        if narrow and n and int(out.max()) < _I32_LIMIT and int(out.min()) > -_I32_LIMIT:
            out = out.astype(np.int32)
    return out


_UNUSED = ("quote_qty", "first_trade_id", "last_trade_id")
_INT_COLUMNS = (
    "update_id",
    "transaction_time",
    "event_time",
    "agg_trade_id",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "id",
    "time",
)


def read_batches(path: str | Path) -> tuple[str, int | None, Iterator[pa.Table]]:
    """(layout kind, row count if known, tables of consecutive rows) of a public-data file.

    Parquet is read one row group at a time and CSV as a stream of blocks, so memory stays bounded
    by the converted output plus one block.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {p} does not exist")
    if p.suffix.lower() == ".parquet":
        pf = pq.ParquetFile(p, memory_map=True, pre_buffer=True)
        names = tuple(pf.schema_arrow.names)
        kind = next((k for k, cols in KIND_COLUMNS.items() if set(cols) <= set(names)), None)
        if kind is None:
            raise DataError(
                f"{p}: Parquet columns {names} match no Binance public-data layout "
                "(bookTicker, aggTrades, trades)"
            )
        wanted = [c for c in KIND_COLUMNS[kind] if c not in _UNUSED]

        def row_groups() -> Iterator[pa.Table]:
            for rg in range(pf.num_row_groups):
                yield pf.read_row_group(rg, columns=wanted, use_threads=True)

        return kind, pf.metadata.num_rows, row_groups()
    kind, has_header, _ = sniff_csv(p)
    cols = KIND_COLUMNS[kind]
    types: dict[str, Any] = {c: pa.int64() if c in _INT_COLUMNS else pa.float64() for c in cols}
    types["is_buyer_maker"] = pa.bool_()
    read_opts = pacsv.ReadOptions(
        column_names=list(cols), skip_rows=1 if has_header else 0, block_size=1 << 24
    )
    conv = pacsv.ConvertOptions(column_types=types, include_columns=[c for c in cols if c not in _UNUSED])

    def blocks() -> Iterator[pa.Table]:
        try:
            with _open_text(p) as f:
                reader = pacsv.open_csv(f, read_options=read_opts, convert_options=conv)
                for batch in reader:
                    yield pa.Table.from_batches([batch])
        except pa.ArrowInvalid as exc:
            raise DataError(f"{p}: malformed {kind} CSV: {exc}") from None

    return kind, None, blocks()


class _Sink:
    """Collects one output column chunk by chunk (preallocated when the row count is known)."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.parts: list[npt.NDArray[Any]] = []
        self.out: npt.NDArray[Any] | None = None
        self.pos = 0

    def add(self, values: npt.NDArray[Any]) -> None:
        if self.total is None:
            self.parts.append(values)
            return
        if self.out is None:
            self.out = np.empty(self.total, dtype=values.dtype)
        elif values.dtype == np.int64 and self.out.dtype == np.int32:
            self.out = self.out.astype(np.int64)  # a later block needed the wider type
        self.out[self.pos : self.pos + len(values)] = values
        self.pos += len(values)

    def result(self, dtype_if_empty: Any) -> npt.NDArray[Any]:
        if self.total is None:
            if not self.parts:
                return np.empty(0, dtype=dtype_if_empty)
            wide = any(p.dtype == np.int64 for p in self.parts)
            arr = np.concatenate([p.astype(np.int64) if wide else p for p in self.parts])
            self.parts = []
            return arr
        return self.out if self.out is not None else np.empty(0, dtype=dtype_if_empty)


_I32_LIMIT = 1 << 30  # int32 with headroom: bid + ask sums stay inside int32


def _read_columns(
    path: str | Path, spec: dict[str, tuple[str, Decimal | None]], expect: tuple[str, ...]
) -> tuple[str, dict[str, npt.NDArray[Any]]]:
    """Columns converted per `spec`: out name -> (file column, step for ticks/lots or None for as-is)."""
    kind, total, tables = read_batches(path)
    if kind not in expect:
        raise DataError(f"{path} holds {kind}, expected {' or '.join(expect)}")
    cols = spec_for(kind, spec)
    sinks = {out: _Sink(total) for out in cols}
    row0 = 0
    where = str(path)
    for table in tables:
        for out, (src, step) in cols.items():
            col = table.column(src)
            if col.null_count:
                raise DataError(
                    f"{where}: column {src} has empty values (rows {row0}..{row0 + table.num_rows})"
                )
            values = (
                np.asarray(col.to_numpy())
                if step is None
                else to_units(col, step, src, where, row0, narrow=True)
            )
            sinks[out].add(values)
        row0 += table.num_rows
        del table
    return kind, {out: sink.result(np.int64) for out, sink in sinks.items()}


def spec_for(kind: str, spec: dict[str, tuple[str, Decimal | None]]) -> dict[str, tuple[str, Decimal | None]]:
    """Map layout-neutral source names (`@ts`, `@id`, `@qty`) to this layout's column names."""
    alias = {
        "bookTicker": {},
        "aggTrades": {"@id": "agg_trade_id", "@qty": "quantity", "@ts": "transact_time"},
        "trades": {"@id": "id", "@qty": "qty", "@ts": "time"},
    }[kind]
    return {out: (alias.get(src, src), step) for out, (src, step) in spec.items()}


def load_quotes(path: str | Path, rules: SymbolRules) -> QuoteColumns:
    """bookTicker rows of a public-data file as integer columns."""
    _, c = _read_columns(
        path,
        {
            "time_ms": ("transaction_time", None),
            "event_ms": ("event_time", None),
            "update_id": ("update_id", None),
            "bid": ("best_bid_price", rules.tick_size),
            "bid_qty": ("best_bid_qty", rules.step_size),
            "ask": ("best_ask_price", rules.tick_size),
            "ask_qty": ("best_ask_qty", rules.step_size),
        },
        ("bookTicker",),
    )
    return QuoteColumns(symbol=rules.symbol, **c)


def load_trades(path: str | Path, rules: SymbolRules) -> TradeColumns:
    """aggTrades or trades rows of a public-data file as integer columns."""
    _, c = _read_columns(
        path,
        {
            "time_ms": ("@ts", None),
            "trade_id": ("@id", None),
            "price": ("price", rules.tick_size),
            "qty": ("@qty", rules.step_size),
            "buyer_is_maker": ("is_buyer_maker", None),
        },
        ("aggTrades", "trades"),
    )
    return TradeColumns(symbol=rules.symbol, **c)
