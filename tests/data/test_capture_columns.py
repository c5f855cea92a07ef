"""The capture loader's fast path (`capture_source`) gives exactly the per-event path's columns."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from grinder.data.capture import iter_capture
from grinder.data.capture_columns import capture_source, gzip_lines
from grinder.data.errors import DataError
from grinder.data.sources import RulesView, events_source
from grinder.data.tape import COLUMNS


def _same(path: Path) -> None:
    slow = events_source(str(path), iter_capture(path, RulesView({})))
    fast = capture_source(path, RulesView({}))
    assert fast.name == slow.name
    assert fast.symbols == slow.symbols
    assert fast.key_is_ns and fast.feed_latency_ms == slow.feed_latency_ms
    assert np.array_equal(fast.key, slow.key)
    for c in COLUMNS:
        assert fast.columns[c].dtype == slow.columns[c].dtype, c
        assert np.array_equal(fast.columns[c], slow.columns[c]), c
    assert fast.objects == slow.objects


@pytest.mark.parametrize("name", ["btcusdt_20240808.gz", "ethusdt_20240808.gz"])
def test_real_capture_columns_equal_the_per_event_path(capture_dir: Path, name: str) -> None:
    _same(capture_dir / name)


def _write(path: Path, lines: list[bytes], members: int = 1) -> None:
    step = max(1, len(lines) // members)
    with path.open("wb") as fh:
        for k in range(0, len(lines), step):
            fh.write(gzip.compress(b"".join(lines[k : k + step])))


BT = (
    b'%d {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":%d,"s":"BTCUSDT",'
    b'"b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":%d,"E":%d}}\n'
)
TR = (
    b'%d {"stream":"btcusdt@trade","data":{"e":"trade","E":%d,"T":%d,"s":"BTCUSDT","t":%d,'
    b'"p":"61800.30","q":"0.006","X":"MARKET","m":true}}\n'
)


def test_odd_lines_and_multi_member_gzip_match(tmp_path: Path) -> None:
    lines = []
    for k in range(40):
        ns = 1_723_161_255_088_169_167 + k * 1_000_000
        lines.append(BT % (ns, 100 + k, 1_723_161_256_313 + k, 1_723_161_256_313 + k))
        lines.append(TR % (ns + 1, 1_723_161_256_322 + k, 1_723_161_256_322 + k, 500 + k))
    lines.insert(3, b'1723161255088169999 {"result":null,"id":1}\n')  # an ack: no event
    lines.insert(7, b"1723161255088170000   \n")  # blank payload
    # key order the typed decoder refuses: the live parser's slow path decodes it
    lines.insert(
        9,
        b'1723161255088170001 {"data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":9,'
        b'"p":"61800.30","q":"0.001","m":false},"stream":"btcusdt@trade"}\n',
    )
    lines[-1] = lines[-1].rstrip(b"\n")  # no final newline
    path = tmp_path / "btcusdt_x.gz"
    _write(path, lines, members=3)
    with gzip.open(path, "rb") as fh:
        assert list(gzip_lines(path)) == list(fh)
    _same(path)


def test_bad_line_and_truncated_file_fail_like_the_per_event_path(tmp_path: Path) -> None:
    bad = tmp_path / "btcusdt_bad.gz"
    _write(
        bad, [BT % (1, 1, 1, 1), BT % (2, 2, 2, 2), b'3 {"stream":"btcusdt@trade","data":{"e":"trade"}}\n']
    )
    with pytest.raises(DataError, match=":3: cannot decode capture line"):
        capture_source(bad, RulesView({}))
    off = tmp_path / "btcusdt_off.gz"
    _write(off, [(BT % (1, 1, 1, 1)).replace(b"61800.20", b"61800.205")])
    with pytest.raises(DataError, match=":1: cannot decode capture line"):
        capture_source(off, RulesView({}))
    cut = tmp_path / "btcusdt_cut.gz"
    cut.write_bytes(gzip.compress(BT % (1, 1, 1, 1) * 50)[:-12])
    with pytest.raises(DataError, match="truncated or not a valid gzip"):
        capture_source(cut, RulesView({}))
