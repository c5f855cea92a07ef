#!/usr/bin/env python3
"""Backtest throughput on the reference grid (shared/bench/REFERENCE_GRID.md).

Runs GRINDER's real backtester (TradingPipeline + Venue, quiet-band skipping) with the reference
grid expressed as GRINDER config (StrategyConfig.reference(), venue fill model "touch", no fees, no
latency, risk limits out of the way) over shared/bench/gen_data.py data, and checks its fills
against a straightforward per-event implementation of REFERENCE_GRID.md on a prefix, which is also
the baseline for the printed ratio. The last line is one JSON object.

    python bench/backtest.py --events 2000000          # 10000000 for the large run
    python bench/backtest.py --events 200000 --check-events 200000   # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("GRINDER_SHARED", REPO.parent / "shared"))


def ensure_data(n: int, data_dir: Path, fmt: str) -> list[Path]:
    paths = [data_dir / f"BTCUSDT-{kind}-synth-{n}.{fmt}" for kind in ("bookTicker", "aggTrades")]
    if not all(p.exists() for p in paths):
        gen = shared_dir() / "bench" / "gen_data.py"
        if not gen.exists():
            sys.exit(f"missing {gen}: set GRINDER_SHARED to the shared/ directory")
        print(f"generating {n:,} events into {data_dir} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(gen), "-n", str(n), "--out", str(data_dir)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return paths


def reference_configs() -> dict[str, object]:
    """REFERENCE_GRID.md as GRINDER configuration (no latency, quiet stretches skipped)."""
    from grinder.backtest.config import BacktestConfig
    from grinder.backtest.reference import reference_configs as configs

    return configs(BacktestConfig(skip_quiet=True, latency=False), order_latency_ms=0, feed_latency_ms=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000, help="data set size (gen_data.py -n)")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the generated data lives (default $GRINDER_BENCH_DATA or ./bench-data)",
    )
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument(
        "--check-events",
        type=int,
        default=300_000,
        help="prefix on which the per-event reference implementation must give the same fills",
    )
    ap.add_argument("--no-skip", action="store_true", help="process every event in full (to compare)")
    args = ap.parse_args()
    data_dir = args.data_dir or Path(os.environ.get("GRINDER_BENCH_DATA") or "bench-data")
    paths = ensure_data(args.events, data_dir, args.format)

    from grinder.backtest.config import BacktestConfig
    from grinder.backtest.engine import Backtest
    from grinder.backtest.reference import fills_digest, run_reference
    from grinder.backtest.results import summarize
    from grinder.data import load_tape

    cfgs = reference_configs()
    if args.no_skip:
        cfgs["backtest_config"] = BacktestConfig(skip_quiet=False, latency=False)
    phases: dict[str, float] = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    tape = load_tape(paths, phases=phases)
    t1 = time.perf_counter()
    c1 = time.process_time()
    bt = Backtest(tape, **cfgs)  # type: ignore[arg-type]
    run_log = bt.run()
    t2 = time.perf_counter()
    c2 = time.process_time()
    res = summarize(tape, run_log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    t3 = time.perf_counter()
    n = len(tape)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    # correctness + baseline: the per-event reference implementation on a prefix
    k = min(args.check_events, n)
    r0 = time.perf_counter()
    ref = run_reference(tape, stop=k)
    r1 = time.perf_counter()
    ours = [f.fill for f in run_log.fills if f.row < k]
    ours_digest = fills_digest((f.time_ms, f.side.sign, f.price_ticks, f.qty_lots) for f in ours)
    fills_match = ours_digest == ref.fills_digest() and len(ours) == len(ref.fills)
    ref_eps = k / (r1 - r0)
    e2e = n / (t3 - t0)
    steady = n / (t2 - t1)
    s = res.summary
    print(
        f"load {t1 - t0:.3f}s (read+convert {phases['read_s']:.3f}s, merge {phases['merge_s']:.3f}s; "
        f"{c1 - c0:.3f}s CPU)  run {t2 - t1:.3f}s ({c2 - c1:.3f}s CPU)  results {t3 - t2:.3f}s  "
        f"processed {run_log.rows_processed:,} of {n:,} events in full",
        file=sys.stderr,
    )
    la1 = os.getloadavg()[0]
    print(f"load average (1 min) at the end of the timed part: {la1:.2f}", file=sys.stderr)
    print(
        f"reference per-event implementation on {k:,} events: {ref_eps:,.0f} events/s, "
        f"{len(ref.fills)} fills; fills match: {fills_match}",
        file=sys.stderr,
    )
    print(
        f"ratio vs per-event baseline: end to end {e2e / ref_eps:.1f}x, steady {steady / ref_eps:.1f}x",
        file=sys.stderr,
    )
    out = {
        "events": n,
        "fills": len(run_log.fills),
        "final_position_lots": round(res.symbols["BTCUSDT"]["final_position_qty"] * 1000),
        "realized_pnl_usdt": s["realized_pnl_usdt"],
        "mtm_pnl_usdt": round(s["net_pnl_usdt"], 6),
        "orders_placed": s["orders_placed"],
        "orders_cancelled": s["orders_cancelled"],
        "orders_amended": s["orders_amended"],
        "events_processed_in_full": run_log.rows_processed,
        "load_s": round(t1 - t0, 3),
        "read_s": round(phases["read_s"], 3),
        "merge_s": round(phases["merge_s"], 3),
        "load_cpu_s": round(c1 - c0, 3),
        "run_s": round(t2 - t1, 3),
        "run_cpu_s": round(c2 - c1, 3),
        "results_s": round(t3 - t2, 3),
        "events_per_s_end_to_end": round(e2e),
        "events_per_s_steady": round(steady),
        "baseline_events_per_s": round(ref_eps),
        "ratio_end_to_end_vs_baseline": round(e2e / ref_eps, 2),
        "check_events": k,
        "fills_match_reference": fills_match,
        "peak_rss_mb": round(rss_mb, 1),
        "loadavg_1min": round(la1, 2),
        "digest": run_log.digest,
    }
    print(json.dumps(out))
    if not fills_match:
        sys.exit(1)


if __name__ == "__main__":
    main()
