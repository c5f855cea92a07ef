"""Binance public-data files (data.binance.vision, USDⓈ-M): bookTicker, aggTrades and trades.

Reads the daily CSVs (plain or zipped, with or without the header row: a header is detected by
the first row not being numeric, protocol sheet §8) and Parquet files with the same columns, into
columnar integer arrays (price ticks, quantity lots, epoch ms) with pyarrow + numpy.
"""

from __future__ import annotations

import io
import re
import zipfile
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
class QuoteColumns:
    """Best bid/ask updates of one symbol, in file order (ticks, lots, epoch ms)."""

    symbol: str
    time_ms: I64  # transaction_time: the merge key
    event_ms: I64
    update_id: I64
    bid: I64
    bid_qty: I64
    ask: I64
    ask_qty: I64

    def __len__(self) -> int:
        return len(self.time_ms)


@dataclass(frozen=True, slots=True)
class TradeColumns:
    """Public trades of one symbol (aggTrades: trade_id is the aggregate id), in file order."""

    symbol: str
    time_ms: I64  # transact_time / time: the merge key (and the event time: files carry no E)
    trade_id: I64
    price: I64
    qty: I64
    buyer_is_maker: BoolArr

    def __len__(self) -> int:
        return len(self.time_ms)


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


class ColumnReader:
    """Hands out a file's columns one at a time and forgets each one handed out (bounded memory)."""

    def __init__(self, kind: str, path: Path, table: pa.Table | None) -> None:
        self.kind = kind
        self.path = path
        if table is None:  # Parquet: decode the needed columns in parallel, hand them out one by one
            wanted = [
                c for c in KIND_COLUMNS[kind] if c not in ("quote_qty", "first_trade_id", "last_trade_id")
            ]
            table = pq.read_table(path, columns=wanted, use_threads=True)
        self._table = table
        self.num_rows = table.num_rows

    def pop(self, name: str) -> pa.ChunkedArray:
        col = self._table.column(name)
        self._table = self._table.drop_columns([name])
        return col


def open_columns(path: str | Path) -> ColumnReader:
    """A column reader over a public-data CSV/zip/Parquet file, with the layout's column names."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {p} does not exist")
    if p.suffix.lower() == ".parquet":
        schema_names = tuple(pq.read_schema(p).names)
        kind = next((k for k, cols in KIND_COLUMNS.items() if set(cols) <= set(schema_names)), None)
        if kind is None:
            raise DataError(
                f"{p}: Parquet columns {schema_names} match no Binance public-data layout "
                "(bookTicker, aggTrades, trades)"
            )
        return ColumnReader(kind, p, None)
    kind, has_header, _ = sniff_csv(p)
    cols = KIND_COLUMNS[kind]
    types: dict[str, Any] = {c: pa.float64() for c in cols}
    for c in (
        "update_id",
        "transaction_time",
        "event_time",
        "agg_trade_id",
        "first_trade_id",
        "last_trade_id",
        "transact_time",
        "id",
        "time",
    ):
        types[c] = pa.int64()
    types["is_buyer_maker"] = pa.bool_()
    read_opts = pacsv.ReadOptions(
        column_names=list(cols), skip_rows=1 if has_header else 0, block_size=1 << 24
    )
    keep = [c for c in cols if c not in ("quote_qty", "first_trade_id", "last_trade_id")]
    conv = pacsv.ConvertOptions(column_types=types, include_columns=keep)
    try:
        with _open_text(p) as f:
            table = pacsv.read_csv(f, read_options=read_opts, convert_options=conv)
    except pa.ArrowInvalid as exc:
        raise DataError(f"{p}: malformed {kind} CSV: {exc}") from None
    return ColumnReader(kind, p, table)


def _decimals(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


def to_units(values: Any, step: Decimal, what: str, where: str) -> I64:
    """Exact integer multiples of `step` (tick or lot) from decimal numbers read as float64.

    float64 holds every decimal with <= 15 significant digits to within half an ulp, so scaling by
    10**decimals and rounding recovers the exact integer; anything off the grid is refused.
    """
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        arr = pc.cast(values, pa.float64()).to_numpy()
    dp = _decimals(step)
    scaled = arr * (10.0**dp)
    units = np.rint(scaled)
    scaled -= units
    np.abs(scaled, out=scaled)
    peak = float(np.abs(units).max()) if len(units) else 0.0
    tol = max(1e-3, peak * 1e-13)
    step_units = int(step * (10**dp))
    out: I64 = units.astype(np.int64)
    bad_row = int(scaled.argmax()) if len(scaled) and float(scaled.max()) > tol else -1
    if bad_row < 0 and step_units != 1:
        rem = out % step_units
        if rem.any():
            bad_row = int(np.flatnonzero(rem)[0])
        out //= step_units
    if bad_row >= 0:
        raise DataError(
            f"{where}: {what} {arr[bad_row]!r} at row {bad_row} is not a multiple of {step}; "
            "the symbol rules do not match this file (pass --rules exchangeInfo.json)"
        )
    return out


def _ints(col: pa.ChunkedArray, what: str, where: str) -> I64:
    if col.null_count:
        raise DataError(f"{where}: column {what} has empty values")
    return np.asarray(col.to_numpy(), dtype=np.int64)


def _units(col: pa.ChunkedArray, step: Decimal, what: str, where: str) -> I64:
    if col.null_count:
        raise DataError(f"{where}: column {what} has empty values")
    return to_units(col, step, what, where)


def load_quotes(path: str | Path, rules: SymbolRules) -> QuoteColumns:
    """bookTicker rows of a public-data file as integer columns."""
    reader = open_columns(path)
    if reader.kind != "bookTicker":
        raise DataError(f"{path} holds {reader.kind}, not bookTicker")
    w = str(path)
    return QuoteColumns(
        symbol=rules.symbol,
        time_ms=_ints(reader.pop("transaction_time"), "transaction_time", w),
        event_ms=_ints(reader.pop("event_time"), "event_time", w),
        update_id=_ints(reader.pop("update_id"), "update_id", w),
        bid=_units(reader.pop("best_bid_price"), rules.tick_size, "best_bid_price", w),
        bid_qty=_units(reader.pop("best_bid_qty"), rules.step_size, "best_bid_qty", w),
        ask=_units(reader.pop("best_ask_price"), rules.tick_size, "best_ask_price", w),
        ask_qty=_units(reader.pop("best_ask_qty"), rules.step_size, "best_ask_qty", w),
    )


def load_trades(path: str | Path, rules: SymbolRules) -> TradeColumns:
    """aggTrades or trades rows of a public-data file as integer columns."""
    reader = open_columns(path)
    if reader.kind == "bookTicker":
        raise DataError(f"{path} holds bookTicker, not trades")
    if reader.kind == "aggTrades":
        tid, qty, ts = "agg_trade_id", "quantity", "transact_time"
    else:
        tid, qty, ts = "id", "qty", "time"
    w = str(path)
    ibm = reader.pop("is_buyer_maker")
    if ibm.null_count:
        raise DataError(f"{w}: is_buyer_maker must be true/false in every row")
    return TradeColumns(
        symbol=rules.symbol,
        time_ms=_ints(reader.pop(ts), ts, w),
        trade_id=_ints(reader.pop(tid), tid, w),
        price=_units(reader.pop("price"), rules.tick_size, "price", w),
        qty=_units(reader.pop(qty), rules.step_size, qty, w),
        buyer_is_maker=np.asarray(ibm.to_numpy(), dtype=np.bool_),
    )
