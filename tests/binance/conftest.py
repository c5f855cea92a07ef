"""Shared helpers for the wire-client tests: the real captures and typical symbol rules."""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from grinder.core.rules import SymbolRules, btcusdt_rules, ethusdt_rules
from tests.fixtures.paths import CAPTURE_DIR, SHARED_DIR  # noqa: F401 - re-exported for the area's tests

CAPTURES = {"BTCUSDT": "btcusdt_20240808.gz", "ETHUSDT": "ethusdt_20240808.gz"}


def capture_path(symbol: str) -> Path:
    path = CAPTURE_DIR / CAPTURES[symbol]
    if not path.exists():
        pytest.skip(f"real capture {path} absent: clone the shared data directory beside the repo (../shared)")
    return path


def capture_lines(symbol: str) -> Iterator[tuple[int, bytes]]:
    """(local receive ns, JSON bytes) per line of a capture."""
    with gzip.open(capture_path(symbol), "rb") as fh:
        for line in fh:
            ns, _, payload = line.rstrip(b"\n").partition(b" ")
            yield int(ns), payload


def rules_for(symbol: str) -> SymbolRules:
    return {"BTCUSDT": btcusdt_rules, "ETHUSDT": ethusdt_rules}[symbol]()


@pytest.fixture
def rules() -> dict[str, SymbolRules]:
    return {"BTCUSDT": btcusdt_rules(), "ETHUSDT": ethusdt_rules()}


@functools.lru_cache(maxsize=2)
def decoded_capture(symbol: str) -> tuple[object, ...]:
    """Every capture line decoded once per session: stream events and the DepthSnapshot, in order."""
    from grinder.binance.parse import decode_stream_message, parse_depth_snapshot

    rules = rules_for(symbol)
    rmap = {symbol: rules}
    out: list[object] = []
    for _, payload in capture_lines(symbol):
        if payload.startswith(b'{"lastUpdateId"'):
            out.append(parse_depth_snapshot(payload, symbol, rules))
        else:
            out.append(decode_stream_message(payload, rmap))
    return tuple(out)
