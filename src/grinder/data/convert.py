"""Convert fetched Binance public-data archives into Parquet that `load_tape` reads directly.

Market events (bookTicker, aggTrades, trades) become `<out>/<SYMBOL>-<kind>-<date>.parquet` with
exactly the columns of Binance's CSV layout (grinder.data.binance_files.KIND_COLUMNS): ids and
times int64, prices and quantities float64, `is_buyer_maker` bool: the layout the direct Parquet
path of `load_tape` decodes. Funding rates and klines are not market events the backtester
replays; they go to `<out>/extra/` (load_tape does not descend into sub-directories).
Conversion streams the CSV block by block, so memory stays bounded by one block.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from grinder.data.binance_files import KIND_COLUMNS, kind_from_filename, sniff_csv
from grinder.data.errors import DataError

_INT_WORDS = ("_id", "time", "count", "id")
_KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
EXTRA_DIR = "extra"


def _column_type(name: str) -> pa.DataType:
    if name == "is_buyer_maker":
        return pa.bool_()
    if name in ("funding_interval_hours", "ignore"):
        return pa.int64()
    if name == "id" or name.endswith(_INT_WORDS):
        return pa.int64()
    return pa.float64()


def _csv_member(archive: Path) -> tuple[zipfile.ZipFile, str]:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DataError(f"{archive} is not a zip archive; fetch it again with grinder data fetch") from None
    names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
    if len(names) != 1:
        zf.close()
        raise DataError(f"{archive}: expected exactly one .csv inside, found {names}")
    return zf, names[0]


def _layout(archive: Path, zf: zipfile.ZipFile, member: str) -> tuple[str, tuple[str, ...], bool]:
    """(kind, column names, has header row) of the CSV inside an archive."""
    with zf.open(member) as f:
        first = f.readline().decode("utf-8", "replace").strip()
    if not first:
        raise DataError(f"{archive}: {member} is empty")
    fields = [x.strip() for x in first.split(",")]
    has_header = not fields[0].lstrip("-").replace(".", "", 1).isdigit()
    kind = kind_from_filename(archive)
    if kind is not None:
        sniffed, _, _ = sniff_csv(archive)  # the loader's own check of the market-event layouts
        return sniffed, KIND_COLUMNS[sniffed], has_header
    if "-fundingRate-" in archive.name:
        return "fundingRate", tuple(fields) if has_header else _FUNDING_COLUMNS, has_header
    if len(fields) == len(_KLINE_COLUMNS):
        return "klines", tuple(fields) if has_header else _KLINE_COLUMNS, has_header
    raise DataError(
        f"{archive}: cannot tell the data type; name archives as Binance does "
        "(<SYMBOL>-<kind>-<date>.zip or <SYMBOL>-<interval>-<date>.zip for klines)"
    )


def output_path(archive: Path, kind: str, out: Path) -> Path:
    stem = archive.name.removesuffix(".zip")
    return (out if kind in KIND_COLUMNS else out / EXTRA_DIR) / f"{stem}.parquet"


def convert_archive(archive: Path, out: Path, *, overwrite: bool = False) -> Path:
    """One archive -> one Parquet file (written to a temporary name, then renamed into place)."""
    zf, member = _csv_member(archive)
    with zf:
        kind, columns, has_header = _layout(archive, zf, member)
        target = output_path(archive, kind, out)
        if target.exists() and not overwrite:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        types: dict[str, Any] = {c: _column_type(c) for c in columns}
        read = pacsv.ReadOptions(
            column_names=list(columns), skip_rows=1 if has_header else 0, block_size=1 << 24
        )
        conv = pacsv.ConvertOptions(column_types=types)
        schema = pa.schema([(c, types[c]) for c in columns])
        tmp = target.with_name(target.name + ".tmp")
        try:
            with zf.open(member) as f, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for batch in pacsv.open_csv(f, read_options=read, convert_options=conv):
                    writer.write_batch(batch)
        except pa.ArrowInvalid as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(f"{archive}: malformed {kind} CSV ({exc}); fetch it again") from None
    tmp.replace(target)
    return target


def find_archives(paths: Iterable[Path]) -> list[Path]:
    """Archives named, plus every `.zip` below named directories (a fetch cache), sorted."""
    out: set[Path] = set()
    for p in paths:
        if p.is_dir():
            out.update(p.rglob("*.zip"))
        elif p.exists():
            out.add(p)
        else:
            raise DataError(f"{p} does not exist; give fetched archives or the fetch cache directory")
    if not out:
        raise DataError(f"no .zip archives in {', '.join(map(str, paths))}; run grinder data fetch first")
    return sorted(out)
