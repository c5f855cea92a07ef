"""Benchmark: wire decode (+ local-book apply) throughput on the real Binance captures.

Measures, in one run and interleaved (so machine load hits every figure alike), messages/s for
  - bookTicker: `decode_stream_message` (bytes → BookTicker in ticks/lots) vs plain `json.loads`;
  - depth, decode only: `decode_stream_message` (bytes → DepthUpdate, every level as integer
    ticks/lots, checked on the grid) vs plain `json.loads` into dicts of strings;
  - depth, decode + apply: the above plus the REST snapshot and `LocalOrderBook.on_diff` (sequence
    checks, integer levels, lazy best-price heap) vs the naive consumer: `json.loads` plus a
    dict-of-floats book (`float()` per price and quantity, set or pop per level, no sequence check,
    no exactness check).
Each timed run starts from fresh `SymbolRules` objects, so the conversion caches start empty every
time (a cold start is included in every figure); `depth_decode_warm` alone reuses them (steady
state). At the end both depth books must agree on the best bid/ask, so both did the same work.

    python bench/wire_decode.py            # full captures (~160k messages, ~13k depth diffs)
    python bench/wire_decode.py --small    # first 5 000 lines per capture, a few seconds

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grinder.binance.book import LocalOrderBook
from grinder.binance.parse import decode_stream_message, parse_depth_snapshot
from grinder.core.events import DepthUpdate
from grinder.core.rules import SymbolRules, btcusdt_rules, ethusdt_rules

CAPTURE_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "binance_usdm_capture"
CAPTURES = {
    "BTCUSDT": ("btcusdt_20240808.gz", btcusdt_rules),
    "ETHUSDT": ("ethusdt_20240808.gz", ethusdt_rules),
}
SNAPSHOT_AFTER = 8  # the REST snapshot lands after this many buffered diffs


def load(symbol: str, limit: int | None) -> tuple[list[bytes], list[bytes], bytes]:
    name, _ = CAPTURES[symbol]
    tickers: list[bytes] = []
    depth: list[bytes] = []
    snapshot = b""
    with gzip.open(CAPTURE_DIR / name, "rb") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit and snapshot:
                break
            payload = line.rstrip(b"\n").partition(b" ")[2]
            if payload.startswith(b'{"lastUpdateId"'):
                snapshot = payload
            elif b"@bookTicker" in payload[:40]:
                tickers.append(payload)
            elif b"@depth" in payload[:40]:
                depth.append(payload)
    return tickers, depth, snapshot


def fresh_rules() -> dict[str, SymbolRules]:
    """New rules objects: `grids_for` keys its caches by identity, so every run starts cold."""
    return {s: make() for s, (_, make) in CAPTURES.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="first 5 000 lines per capture only")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs; the best of each counts")
    args = parser.parse_args()
    if not CAPTURE_DIR.exists():
        print(f"captures not found at {CAPTURE_DIR}; clone the shared data directory beside the repo")
        return 2
    limit = 5_000 if args.small else None
    data = {s: load(s, limit) for s in CAPTURES}
    all_tickers = [m for s in data for m in data[s][0]]
    all_depth = [m for s in data for m in data[s][1]]
    n_depth = len(all_depth)
    n_levels = sum(len(v["b"]) + len(v["a"]) for v in (json.loads(m)["data"] for m in all_depth))
    books: dict[str, LocalOrderBook] = {}
    naive_books: dict[str, tuple[dict[float, float], dict[float, float]]] = {}

    def ours_tickers() -> int:
        rules = fresh_rules()
        for m in all_tickers:
            decode_stream_message(m, rules)
        return len(all_tickers)

    def json_tickers() -> int:
        loads = json.loads
        for m in all_tickers:
            loads(m)
        return len(all_tickers)

    def ours_depth_decode() -> int:
        rules = fresh_rules()
        for m in all_depth:
            decode_stream_message(m, rules)
        return n_depth

    warm_rules = fresh_rules()

    def ours_depth_decode_warm() -> int:
        for m in all_depth:
            decode_stream_message(m, warm_rules)
        return n_depth

    def json_depth() -> int:
        loads = json.loads
        for m in all_depth:
            loads(m)
        return n_depth

    def ours_depth_apply() -> int:
        rules = fresh_rules()
        for symbol, (_, diffs, snapshot) in data.items():
            book = books[symbol] = LocalOrderBook(symbol)
            for i, m in enumerate(diffs):
                ev = decode_stream_message(m, rules)
                assert isinstance(ev, DepthUpdate)
                book.on_diff(ev)
                if i == SNAPSHOT_AFTER:
                    book.apply_snapshot(parse_depth_snapshot(snapshot, symbol, rules[symbol]))
            assert book.is_synced, f"{symbol} book out of sync in the benchmark"
        return n_depth

    def naive_apply() -> int:
        loads = json.loads
        for symbol, (_, diffs, snapshot) in data.items():
            bids: dict[float, float] = {}
            asks: dict[float, float] = {}
            naive_books[symbol] = (bids, asks)
            last_id = 0
            pending: list[dict[str, Any]] = []
            for i, m in enumerate(diffs):
                pending.append(loads(m)["data"])
                if i == SNAPSHOT_AFTER:
                    snap = loads(snapshot)
                    last_id = snap["lastUpdateId"]
                    for side, rows in ((bids, snap["bids"]), (asks, snap["asks"])):
                        for p, q in rows:
                            side[float(p)] = float(q)
                for d in pending:
                    if not last_id or d["u"] < last_id:
                        continue  # before the snapshot: kept (not yet) or dropped (older)
                    for side, rows in ((bids, d["b"]), (asks, d["a"])):
                        for p, q in rows:
                            fq = float(q)
                            if fq:
                                side[float(p)] = fq
                            else:
                                side.pop(float(p), None)
                if last_id:
                    pending.clear()
        return n_depth

    runs: dict[str, tuple[Callable[[], int], float]] = {
        name: (fn, 0.0)
        for name, fn in (
            ("bookticker_decode", ours_tickers),
            ("bookticker_json_loads", json_tickers),
            ("depth_decode", ours_depth_decode),
            ("depth_decode_warm", ours_depth_decode_warm),
            ("depth_json_loads", json_depth),
            ("depth_decode_apply", ours_depth_apply),
            ("naive_apply", naive_apply),
        )
    }
    for _ in range(args.repeats):
        for name, (fn, best) in runs.items():
            start = time.perf_counter()
            n = fn()
            runs[name] = (fn, max(best, n / (time.perf_counter() - start)))
    rate = {name: best for name, (_, best) in runs.items()}

    for symbol, book in books.items():  # both books did the same work
        bids, asks = naive_books[symbol]
        r = fresh_rules()[symbol]
        bb, ba = book.best_bid(), book.best_ask()
        assert bb is not None and ba is not None
        assert float(bb[0] * r.tick_size) == max(bids) and float(ba[0] * r.tick_size) == min(asks), symbol

    def ratio(a: str, b: str) -> float:
        return round(rate[a] / rate[b], 3)

    print(
        f"bookTicker: {len(all_tickers)} msgs   decode {rate['bookticker_decode']:,.0f}/s   "
        f"json.loads {rate['bookticker_json_loads']:,.0f}/s   "
        f"ratio {ratio('bookticker_decode', 'bookticker_json_loads'):.2f}×"
    )
    print(
        f"depth:      {n_depth} msgs, {n_levels / max(n_depth, 1):.1f} levels/msg\n"
        f"  decode only       {rate['depth_decode']:,.0f}/s   json.loads {rate['depth_json_loads']:,.0f}/s   "
        f"ratio {ratio('depth_decode', 'depth_json_loads'):.2f}×   "
        f"(warm caches {rate['depth_decode_warm']:,.0f}/s, "
        f"{ratio('depth_decode_warm', 'depth_json_loads'):.2f}×)\n"
        f"  decode + book     {rate['depth_decode_apply']:,.0f}/s   naive json.loads + float dict "
        f"{rate['naive_apply']:,.0f}/s   ratio {ratio('depth_decode_apply', 'naive_apply'):.2f}×   "
        f"({rate['depth_decode_apply'] * n_levels / n_depth / 1e6:.2f} M levels/s)"
    )
    print(
        json.dumps(
            {
                "bookticker_messages": len(all_tickers),
                "depth_messages": n_depth,
                "depth_levels_per_message": round(n_levels / max(n_depth, 1), 1),
                "bookticker_decode_msgs_per_s": round(rate["bookticker_decode"]),
                "bookticker_json_loads_msgs_per_s": round(rate["bookticker_json_loads"]),
                "bookticker_ratio_vs_json_loads": ratio("bookticker_decode", "bookticker_json_loads"),
                "depth_decode_msgs_per_s": round(rate["depth_decode"]),
                "depth_decode_warm_msgs_per_s": round(rate["depth_decode_warm"]),
                "depth_decode_warm_ratio_vs_json_loads": ratio("depth_decode_warm", "depth_json_loads"),
                "depth_json_loads_msgs_per_s": round(rate["depth_json_loads"]),
                "depth_decode_ratio_vs_json_loads": ratio("depth_decode", "depth_json_loads"),
                "depth_decode_apply_msgs_per_s": round(rate["depth_decode_apply"]),
                "naive_apply_msgs_per_s": round(rate["naive_apply"]),
                "depth_decode_apply_ratio_vs_naive_apply": ratio("depth_decode_apply", "naive_apply"),
                "depth_decode_apply_ratio_vs_json_loads": ratio("depth_decode_apply", "depth_json_loads"),
                "depth_decode_apply_levels_per_s": round(rate["depth_decode_apply"] * n_levels / n_depth),
                "naive_apply_levels_per_s": round(rate["naive_apply"] * n_levels / n_depth),
                "cold_caches": True,
                "repeats": args.repeats,
                "small": args.small,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
