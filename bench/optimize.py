#!/usr/bin/env python3
"""`grinder optimize` throughput: complete trials per second with 1 and then 2 Dask workers, same run.

Each configuration gets its own LocalCluster (single-threaded worker processes) and its own study
in a fresh SQLite storage; the clock starts once every worker has the data in its cache (one
warm-up trial per worker, not counted), so the figure is the steady state of ask -> backtest on a
worker -> tell. Trials are real backtests of generated data (grinder.optimize.demo). The last line
is one JSON object.

    python bench/optimize.py                      # 16 trials per configuration
    python bench/optimize.py --trials 24 --quotes 4000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster, wait

from grinder.optimize.demo import write_demo
from grinder.optimize.evaluate import DataSpec, TrialJob, run_trial
from grinder.optimize.space import load_space
from grinder.optimize.study import StudyDriver, open_storage


def measure(workers: int, job: TrialJob, space_path: Path, trials: int, root: Path) -> dict[str, float]:
    space = load_space(space_path)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        # warm-up: one trial pinned to each worker loads the data into that worker's cache
        warm = [
            client.submit(run_trial, job, workers=[addr], pure=False, allow_other_workers=False)
            for addr in client.scheduler_info()["workers"]
        ]
        wait(warm)
        assert all(f.result()["events"] for f in warm)
        storage = open_storage(f"sqlite:///{root / f'bench-{workers}.db'}", 5, 30)
        driver = StudyDriver(client, storage)
        t0 = time.perf_counter()
        study, _ = driver.run(f"bench-{workers}", space, job, trials)
        wall = time.perf_counter() - t0
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    backtest_s = sum(float(t.user_attrs["figures"]["wall_s"]) for t in done)
    return {
        "workers": workers,
        "trials": len(done),
        "wall_s": round(wall, 3),
        "trials_per_s": round(len(done) / wall, 4),
        "mean_trial_backtest_s": round(backtest_s / max(1, len(done)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=16, help="complete trials per configuration")
    ap.add_argument("--days", type=int, default=1, help="generated days of data")
    ap.add_argument("--quotes", type=int, default=3000, help="quotes per day (trades: a third of that)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="grinder-bench-optimize-"))
    data = write_demo(root, days=args.days, quotes=args.quotes, trades=args.quotes // 3)
    job = TrialJob(DataSpec((str(data),)), (root / "base.toml").read_text(encoding="utf-8"), ())
    rows = []
    for workers in (1, 2):
        row = measure(workers, job, root / "space.toml", args.trials, root)
        rows.append(row)
        print(
            f"{workers} worker(s): {row['trials']} trials in {row['wall_s']:.1f} s = "
            f"{row['trials_per_s']:.3f} trials/s (mean backtest {row['mean_trial_backtest_s']:.2f} s)"
        )
    speedup = rows[1]["trials_per_s"] / rows[0]["trials_per_s"]
    print(
        f"speed-up with 2 workers: {speedup:.2f}x on {os.cpu_count()} CPU(s) "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    print(
        json.dumps(
            {
                "trials_per_s_1_worker": rows[0]["trials_per_s"],
                "trials_per_s_2_workers": rows[1]["trials_per_s"],
                "speedup_2_vs_1_x": round(speedup, 3),
                "trials_per_config": args.trials,
                "events_per_trial": args.days * (args.quotes + args.quotes // 3),
                "mean_trial_backtest_s_1_worker": rows[0]["mean_trial_backtest_s"],
                "mean_trial_backtest_s_2_workers": rows[1]["mean_trial_backtest_s"],
                "cpus": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
