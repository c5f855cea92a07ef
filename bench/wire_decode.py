"""Benchmark: wire decode (+ local-book apply) throughput on the real Binance captures.

Measures, in one run, messages/s for
  - bookTicker: `decode_stream_message` (bytes → BookTicker in ticks/lots) vs plain `json.loads`;
  - depth diffs: `decode_stream_message` + `LocalOrderBook.on_diff` vs plain `json.loads`.
The baseline (json.loads into dicts, no validation, no integer conversion, no book) is the floor any
Python consumer pays; the ratio says what typed, exact decoding plus book maintenance costs or saves.

    python bench/wire_decode.py            # full captures (~160k messages)
    python bench/wire_decode.py --small    # first 5 000 messages per capture, a few seconds

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

from grinder.binance.book import LocalOrderBook
from grinder.binance.parse import decode_stream_message, parse_depth_snapshot
from grinder.core.events import DepthUpdate
from grinder.core.rules import SymbolRules, btcusdt_rules, ethusdt_rules

CAPTURE_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "binance_usdm_capture"
CAPTURES = {
    "BTCUSDT": ("btcusdt_20240808.gz", btcusdt_rules),
    "ETHUSDT": ("ethusdt_20240808.gz", ethusdt_rules),
}


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


def best_rate(fn: Callable[[], int], repeats: int) -> float:
    """Messages per second of the fastest of `repeats` runs."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        elapsed = time.perf_counter() - start
        best = max(best, n / elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="first 5 000 lines per capture only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not CAPTURE_DIR.exists():
        print(f"captures not found at {CAPTURE_DIR}; clone the shared data directory beside the repo")
        return 2
    limit = 5_000 if args.small else None
    rules: dict[str, SymbolRules] = {s: make() for s, (_, make) in CAPTURES.items()}
    data = {s: load(s, limit) for s in CAPTURES}
    all_tickers = [m for s in data for m in data[s][0]]
    all_depth = sum(len(data[s][1]) for s in data)

    def ours_tickers() -> int:
        for m in all_tickers:
            decode_stream_message(m, rules)
        return len(all_tickers)

    def json_tickers() -> int:
        loads = json.loads
        for m in all_tickers:
            loads(m)
        return len(all_tickers)

    def ours_depth() -> int:
        for symbol, (_, diffs, snapshot) in data.items():
            book = LocalOrderBook(symbol)
            r = rules[symbol]
            snapped = False
            for i, m in enumerate(diffs):
                ev = decode_stream_message(m, rules)
                assert isinstance(ev, DepthUpdate)
                book.on_diff(ev)
                if not snapped and i >= 8:  # the snapshot arrives after a few buffered diffs
                    book.apply_snapshot(parse_depth_snapshot(snapshot, symbol, r))
                    snapped = True
            assert book.is_synced, f"{symbol} book out of sync in the benchmark"
        return all_depth

    def json_depth() -> int:
        loads = json.loads
        for _, diffs, _ in data.values():
            for m in diffs:
                loads(m)
        return all_depth

    t_ours = best_rate(ours_tickers, args.repeats)
    t_json = best_rate(json_tickers, args.repeats)
    d_ours = best_rate(ours_depth, args.repeats)
    d_json = best_rate(json_depth, args.repeats)
    print(
        f"bookTicker: {len(all_tickers)} msgs  decode {t_ours:,.0f}/s  json.loads {t_json:,.0f}/s  "
        f"ratio {t_ours / t_json:.2f}×"
    )
    print(
        f"depth:      {all_depth} msgs  decode+book apply {d_ours:,.0f}/s  json.loads {d_json:,.0f}/s  "
        f"ratio {d_ours / d_json:.2f}×"
    )
    print(
        json.dumps(
            {
                "bookticker_messages": len(all_tickers),
                "depth_messages": all_depth,
                "bookticker_decode_msgs_per_s": round(t_ours),
                "bookticker_json_loads_msgs_per_s": round(t_json),
                "bookticker_ratio_vs_json_loads": round(t_ours / t_json, 3),
                "depth_decode_apply_msgs_per_s": round(d_ours),
                "depth_json_loads_msgs_per_s": round(d_json),
                "depth_ratio_vs_json_loads": round(d_ours / d_json, 3),
                "small": args.small,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
