"""Merging, real Binance captures, GRINDER recordings and the replay iterator."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.binance.parse import decode_stream_message
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, Trade
from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.data import DataError, RecordingWriter, iter_events, iter_recording, load_tape
from grinder.data.tape import OTHER, QUOTE, merge_order

RULES = {"BTCUSDT": btcusdt_rules(), "ETHUSDT": ethusdt_rules()}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=40).map(sorted), min_size=1, max_size=4))
def test_merge_order_is_the_stable_sort(keys: list[list[int]]) -> None:
    arrays = [np.asarray(k, dtype=np.int64) for k in keys]
    src = merge_order(arrays)
    flat = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
    owner = np.concatenate([np.full(len(a), i) for i, a in enumerate(arrays)])
    expect = owner[np.argsort(flat, kind="stable")]
    assert src.tolist() == expect.tolist()


@pytest.fixture(scope="module")
def btc_capture_tape(capture_dir: Path):  # type: ignore[no-untyped-def]
    return load_tape([capture_dir / "btcusdt_20240808.gz"], RULES)


def test_real_capture_counts_match_its_readme(btc_capture_tape) -> None:  # type: ignore[no-untyped-def]
    tape = btc_capture_tape
    kinds = tape.kind
    assert int((kinds == QUOTE).sum()) == 66_089
    assert int(((kinds == 1) | (kinds == 2)).sum()) == 21_313
    others = [tape.objects[int(tape.ident[i])] for i in np.flatnonzero(kinds == OTHER)]
    assert sum(isinstance(o, DepthUpdate) for o in others) == 6_551
    snaps = [o for o in others if isinstance(o, DepthSnapshot)]
    assert len(snaps) == 1 and snaps[0].symbol == "BTCUSDT" and snaps[0].last_update_id > 0
    assert tape.symbols == ("BTCUSDT",)


def test_real_capture_events_decode_like_the_live_parser(capture_dir: Path, btc_capture_tape) -> None:  # type: ignore[no-untyped-def]
    # rebuilt events equal what the wire parser makes of the same lines (first 2,000 stream lines)
    with gzip.open(capture_dir / "btcusdt_20240808.gz", "rb") as f:
        lines = [next(f) for _ in range(2000)]
    direct = []
    for line in lines:
        raw = line.partition(b" ")[2]
        if b'"stream"' in raw:
            ev = decode_stream_message(raw, RULES)
            if ev is not None:
                direct.append(ev)
    replayed = [e for e in btc_capture_tape.events(0, len(direct) + 5) if not isinstance(e, DepthSnapshot)]
    assert replayed[: len(direct)] == direct
    first_quote = next(e for e in direct if isinstance(e, BookTicker))
    assert first_quote.bid_ticks == 618002 and first_quote.ask_ticks == 618003


def test_two_captures_merge_in_receive_order(capture_dir: Path) -> None:
    tape = load_tape([capture_dir], RULES)
    assert tape.symbols == ("BTCUSDT", "ETHUSDT")
    assert tape.counts()["quotes"] == 66_089 + 53_992
    assert set(np.unique(tape.sym).tolist()) == {0, 1}


def test_recording_round_trip_through_the_wire_parser(tmp_path: Path, capture_dir: Path) -> None:
    w = RecordingWriter(tmp_path, rotate_rows=300)
    raws = []
    with gzip.open(capture_dir / "ethusdt_20240808.gz", "rb") as f:
        for _, line in zip(range(1000), f, strict=False):
            ns, _, raw = line.strip().partition(b" ")
            if b'"stream"' not in raw:
                w.add(int(ns), "ethusdt@depthSnapshot", raw)
            else:
                stream = raw.split(b'"stream":"', 1)[1].split(b'"', 1)[0].decode()
                w.add(int(ns), stream, raw)
            raws.append(raw)
    w.close()
    assert len(w.files) == 4 and w.rows_written == 1000
    got = [ev for p in w.files for _, ev in iter_recording(p, RULES)]
    want = [decode_stream_message(r, RULES) for r in raws if b'"stream"' in r]
    assert [e for e in got if not isinstance(e, DepthSnapshot)] == [e for e in want if e is not None]
    # the replay iterator reads a directory of recordings in time order
    evs = list(iter_events([tmp_path], RULES))
    assert len(evs) == len(got)
    assert any(isinstance(e, Trade) for e in evs)


def test_malformed_capture_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "btcusdt_20240101.gz"
    with gzip.open(p, "wb") as f:
        f.write(b'1723161255088169167 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1}}\n')
    with pytest.raises(DataError, match=r"btcusdt_20240101\.gz:1"):
        load_tape([p], RULES)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=60).map(sorted), min_size=1, max_size=3))
def test_merge_positions_place_every_row_like_the_stable_sort(keys: list[list[int]]) -> None:
    from grinder.data.tape import merge_positions

    arrays = [np.asarray(k, dtype=np.int64) for k in keys]
    pos = merge_positions(arrays)
    total = sum(len(a) for a in arrays)
    merged = np.empty(total, dtype=np.int64)
    owner = np.empty(total, dtype=np.int64)
    for i, (a, p) in enumerate(zip(arrays, pos, strict=True)):
        merged[p] = a
        owner[p] = i
    flat = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
    src = np.concatenate([np.full(len(a), i) for i, a in enumerate(arrays)])
    order = np.argsort(flat, kind="stable")
    assert merged.tolist() == flat[order].tolist()
    assert owner.tolist() == src[order].tolist()
