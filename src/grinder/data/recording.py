"""GRINDER's own recordings: Parquet files of raw stream messages, written by `grinder record`.

One row per received message: `recv_ns` (int64, local receive time), `stream` (the combined-stream
name, e.g. `btcusdt@bookTicker`; `btcusdt@depthSnapshot` for a REST depth snapshot) and `payload`
(the message's JSON bytes, unwrapped). Keeping the wire bytes makes a recording lossless and lets
replay decode it with the live parser. Files rotate by row count or age; each is a complete
Parquet file (written on rotation/close), so a crash loses at most the open file's buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from grinder.core.events import DepthSnapshot, MarketEvent
from grinder.core.rules import SymbolRules
from grinder.data.errors import DataError

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [("recv_ns", pa.int64()), ("stream", pa.string()), ("payload", pa.binary())],
    metadata={b"grinder_recording": b"1"},
)
SNAPSHOT_STREAM = "depthSnapshot"


def is_recording(path: str | Path) -> bool:
    p = Path(path)
    if p.suffix.lower() != ".parquet":
        return False
    meta = pq.read_schema(p).metadata or {}
    return meta.get(b"grinder_recording") == b"1"


class RecordingWriter:
    """Buffers messages and writes rotating Parquet files `<prefix>-<first recv ms>-<seq>.parquet`."""

    def __init__(
        self,
        out_dir: str | Path,
        *,
        prefix: str = "grinder-rec",
        rotate_rows: int = 500_000,
        rotate_ns: int = 3_600 * 1_000_000_000,
    ) -> None:
        if rotate_rows <= 0 or rotate_ns <= 0:
            raise ValueError("rotate_rows and rotate_ns must be positive")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.rotate_rows = rotate_rows
        self.rotate_ns = rotate_ns
        self._seq = 0
        self._recv: list[int] = []
        self._stream: list[str] = []
        self._payload: list[bytes] = []
        self.files: list[Path] = []
        self.rows_written = 0

    def add(self, recv_ns: int, stream: str, payload: bytes) -> None:
        if self._recv and (len(self._recv) >= self.rotate_rows or recv_ns - self._recv[0] >= self.rotate_ns):
            self.flush()
        self._recv.append(recv_ns)
        self._stream.append(stream)
        self._payload.append(payload)

    @property
    def buffered(self) -> int:
        return len(self._recv)

    def flush(self) -> Path | None:
        """Write the buffered rows as one complete Parquet file (None when nothing is buffered)."""
        if not self._recv:
            return None
        self._seq += 1
        path = self.out_dir / f"{self.prefix}-{self._recv[0] // 1_000_000}-{self._seq:04d}.parquet"
        table = pa.table(
            [
                pa.array(self._recv, pa.int64()),
                pa.array(self._stream, pa.string()),
                pa.array(self._payload, pa.binary()),
            ],
            schema=SCHEMA,
        )
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
        self.files.append(path)
        self.rows_written += len(self._recv)
        log.info("recording_file_written path=%s rows=%d", path, len(self._recv))
        self._recv, self._stream, self._payload = [], [], []
        return path

    def close(self) -> None:
        self.flush()


def iter_recording(
    path: str | Path, rules: Mapping[str, SymbolRules]
) -> Iterator[tuple[int, MarketEvent | DepthSnapshot]]:
    """(receive ns, core event) per row of a GRINDER recording, decoded by the live wire parser."""
    from grinder.binance.parse import decode_stream_message, parse_depth_snapshot

    p = Path(path)
    table = pq.read_table(p, columns=["recv_ns", "stream", "payload"])
    recv = table.column("recv_ns").to_pylist()
    streams = table.column("stream").to_pylist()
    payloads = table.column("payload").to_pylist()
    for row, (ns, stream, raw) in enumerate(zip(recv, streams, payloads, strict=True)):
        try:
            sym_lower, _, name = stream.partition("@")
            if name == SNAPSHOT_STREAM:
                symbol = sym_lower.upper()
                if symbol not in rules:
                    raise DataError(f"{p} row {row}: no symbol rules for {symbol}")
                yield ns, parse_depth_snapshot(raw, symbol, rules[symbol])
                continue
            ev = decode_stream_message(raw, rules)
        except DataError:
            raise
        except (ValueError, KeyError) as exc:
            raise DataError(f"{p} row {row} ({stream}): cannot decode recorded message: {exc}") from None
        if ev is not None:
            yield ns, ev  # type: ignore[misc]
