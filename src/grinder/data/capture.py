"""Raw stream captures: gzip text, one `<receive ns> <JSON>` line per message.

This is the format of the real Binance captures in `shared/data/binance_usdm_capture/` (combined
stream wrappers for bookTicker / trade / aggTrade / depth / markPrice, plus one unwrapped REST depth
snapshot line). Messages are decoded by the live wire parser (`grinder.binance.parse`), so replay
sees exactly what the live engine would have seen.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from grinder.core.events import DepthSnapshot, MarketEvent
from grinder.core.rules import SymbolRules
from grinder.data.binance_files import symbol_from_filename
from grinder.data.errors import DataError

log = logging.getLogger(__name__)


def is_capture(path: str | Path) -> bool:
    p = Path(path)
    if not p.name.endswith(".gz") or p.name.endswith(".csv.gz"):
        return False
    try:
        with gzip.open(p, "rb") as f:
            head = f.read(64)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(unreadable(p, exc)) from None
    first = head.split(b" ", 1)[0]
    return first.isdigit() and len(first) >= 16


def iter_capture(
    path: str | Path, rules: Mapping[str, SymbolRules]
) -> Iterator[tuple[int, MarketEvent | DepthSnapshot]]:
    """(receive ns, core event) per decodable line, in file (= receive) order.

    Lines the wire parser does not turn into a market event (subscription acks, unknown streams)
    are skipped; a malformed line raises `DataError` naming the file and line.
    """
    p = Path(path)
    symbol = symbol_from_filename(p)
    if not p.exists():
        raise DataError(f"capture file {p} does not exist")
    try:
        yield from _decode_lines(p, symbol, rules)
    except (OSError, EOFError, zlib.error) as exc:  # truncated download, not gzip, bad CRC
        raise DataError(unreadable(p, exc)) from None


def unreadable(path: Path, exc: BaseException) -> str:
    return (f"capture file {path} is truncated or not a valid gzip file ({exc}); "
            "download or record it again (check with: gzip -t FILE)")


def decode_line(
    p: Path, lineno: int, ns_text: bytes, raw: bytes, symbol: str | None, rules: Mapping[str, SymbolRules]
) -> tuple[int, MarketEvent | DepthSnapshot] | None:
    """One capture line (receive ns text, stripped JSON) through the live wire parser: (receive ns,
    event), or None for lines that carry no market event; `DataError` naming file and line if bad.
    `symbol` is the capture's symbol so far (a REST depth snapshot line does not name it)."""
    from grinder.binance.parse import decode_stream_message, parse_depth_snapshot

    try:
        recv_ns = int(ns_text)
        if raw.startswith(b'{"lastUpdateId"') or (b'"lastUpdateId"' in raw[:40] and b'"stream"' not in raw):
            if symbol is None:
                raise DataError(f"{p}:{lineno}: a depth snapshot before any stream message names the symbol")
            return recv_ns, parse_depth_snapshot(raw, symbol, rules[symbol])
        ev = decode_stream_message(raw, rules)
    except DataError:
        raise
    except (ValueError, KeyError) as exc:
        raise DataError(f"{p}:{lineno}: cannot decode capture line: {exc}") from None
    if ev is None:
        return None
    return recv_ns, ev  # type: ignore[return-value]


def _decode_lines(
    p: Path, symbol: str | None, rules: Mapping[str, SymbolRules]
) -> Iterator[tuple[int, MarketEvent | DepthSnapshot]]:
    with gzip.open(p, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            ns_text, _, raw = line.partition(b" ")
            raw = raw.strip()
            if not raw:
                continue
            decoded = decode_line(p, lineno, ns_text, raw, symbol, rules)
            if decoded is None:
                continue
            symbol = getattr(decoded[1], "symbol", symbol)
            yield decoded
