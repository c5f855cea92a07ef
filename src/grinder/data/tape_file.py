"""Converted captures: one source's decoded rows as Parquet (`<name>.tape.parquet`), loaded without parsing.

`grinder data convert CAPTURE.gz --out DIR` decodes a raw capture once (the live wire parser, as
`load_tape` does) and writes what the loader builds from it: the merge key (receive ns), the row
columns, and each non-quote, non-trade event (depth diffs and snapshots, mark prices) as typed
msgpack in its row. Reading it back gives the same source, so a tape merged from converted files
equals the tape merged from the raw files, and a backtest on either gives the same digest.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from grinder.core.events import DepthSnapshot, DepthUpdate, MarkPrice
from grinder.data.errors import DataError
from grinder.data.tape import COLUMNS, ReplayEvent, SourceColumns

TAPE_SUFFIX = ".tape.parquet"
_FORMAT = b"grinder-tape-source/1"
_TYPES: dict[bytes, type[DepthUpdate | DepthSnapshot | MarkPrice]] = {
    b"U": DepthUpdate,
    b"S": DepthSnapshot,
    b"M": MarkPrice,
}
_TAGS = {t: tag for tag, t in _TYPES.items()}
_DECODERS = {tag: msgspec.msgpack.Decoder(t) for tag, t in _TYPES.items()}
_DTYPES = {"kind": np.int8, "sym": np.int16}


def is_tape_file(path: str | Path) -> bool:
    return Path(path).name.endswith(TAPE_SUFFIX)


def tape_file_name(source: Path) -> str:
    name = source.name
    for ext in (".gz", ".parquet"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name + TAPE_SUFFIX


def write_source(src: SourceColumns, path: Path) -> None:
    """Write one decoded source (see module doc); the file is written whole or not at all."""
    enc = msgspec.msgpack.Encoder()
    objects: list[bytes | None] = [None] * len(src)
    other = np.flatnonzero(src.columns["kind"] == 3)
    for row in other:
        ev = src.objects[int(src.columns["ident"][row])]
        tag = _TAGS.get(type(ev))  # type: ignore[arg-type]
        if tag is None:
            raise DataError(f"{src.name}: a {type(ev).__name__} event cannot be stored in a tape file")
        objects[int(row)] = tag + enc.encode(ev)
    arrays = {"key": pa.array(src.key, pa.int64())}
    arrays.update({c: pa.array(src.columns[c]) for c in COLUMNS})
    arrays["object"] = pa.array(objects, pa.binary())
    meta = {
        b"grinder": _FORMAT,
        b"name": src.name.encode(),
        b"symbols": json.dumps(src.symbols).encode(),
        b"key_is_ns": b"1" if src.key_is_ns else b"0",
        b"feed_latency_ms": b"" if src.feed_latency_ms is None else str(src.feed_latency_ms).encode(),
    }
    table = pa.table(arrays).replace_schema_metadata(meta)
    tmp = path.with_name(path.name + ".part")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def read_source(path: Path) -> SourceColumns:
    """The source written by `write_source`."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable tape file ({exc}); convert the capture again") from None
    meta = table.schema.metadata or {}
    if meta.get(b"grinder") != _FORMAT:
        raise DataError(f"{path}: not a GRINDER tape file (no {_FORMAT.decode()} marker); convert it again")
    columns = {c: table.column(c).to_numpy().astype(_DTYPES.get(c, np.int64), copy=False) for c in COLUMNS}
    objects: list[ReplayEvent] = []
    other = np.flatnonzero(columns["kind"] == 3)
    if len(other):
        raw = table.column("object").take(pa.array(other)).to_pylist()
        found: list[ReplayEvent | None] = [None] * len(other)
        for row, blob in zip(other, raw, strict=True):
            if blob is None or blob[:1] not in _DECODERS:
                raise DataError(f"{path}: row {int(row)} has no stored event; convert the capture again")
            found[int(columns["ident"][row])] = _DECODERS[blob[:1]].decode(blob[1:])
        objects = [ev for ev in found if ev is not None]
        if len(objects) != len(found):
            raise DataError(f"{path}: event references do not match the rows; convert the capture again")
    latency = meta.get(b"feed_latency_ms", b"")
    return SourceColumns(
        name=meta.get(b"name", str(path).encode()).decode(),
        key=table.column("key").to_numpy().astype(np.int64, copy=False),
        columns=columns,
        objects=objects,
        key_is_ns=meta.get(b"key_is_ns") == b"1",
        symbols=json.loads(meta.get(b"symbols", b"[]")),
        feed_latency_ms=int(latency) if latency else None,
    )


def convert_capture(path: Path, out: Path, *, overwrite: bool = False) -> Path:
    """Decode one raw capture and write it as `<out>/<name>.tape.parquet`; returns the file."""
    from grinder.data.capture_columns import capture_source
    from grinder.data.sources import RulesView

    out.mkdir(parents=True, exist_ok=True)
    target = out / tape_file_name(path)
    if target.exists() and not overwrite:
        return target
    write_source(capture_source(path, RulesView({})), target)
    return target
