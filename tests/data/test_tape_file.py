"""`grinder data convert` on a raw capture writes a tape file that loads into the same tape, fast."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from grinder.cli import main
from grinder.data import load_tape
from grinder.data.errors import DataError
from grinder.data.tape import COLUMNS
from grinder.data.tape_file import read_source
from tests.fixtures.paths import SHARED_DIR

CAPTURES = SHARED_DIR / "data" / "binance_usdm_capture"


def test_converted_captures_load_into_the_tape_the_raw_files_give(tmp_path: Path) -> None:
    raw = [CAPTURES / "btcusdt_20240808.gz", CAPTURES / "ethusdt_20240808.gz"]
    out = tmp_path / "tapes"
    assert main(["data", "convert", "--out", str(out), *map(str, raw)]) == 0
    files = sorted(out.glob("*.tape.parquet"))
    assert [f.name for f in files] == ["btcusdt_20240808.tape.parquet", "ethusdt_20240808.tape.parquet"]
    want = load_tape(raw)
    got = load_tape([out])  # a directory of tape files, as `grinder backtest --data DIR` passes it
    for c in COLUMNS:
        assert np.array_equal(getattr(got, c), getattr(want, c)), c
    assert got.objects == want.objects and len(got.objects) > 13_000  # depth diffs, both snapshots
    assert (got.symbols, got.feed_latency_ms) == (want.symbols, want.feed_latency_ms)


def test_a_file_that_is_not_a_tape_is_refused_with_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "x.tape.parquet"
    bad.write_bytes(gzip.compress(b"not parquet"))
    with pytest.raises(DataError, match="convert the capture again"):
        read_source(bad)
