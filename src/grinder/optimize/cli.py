"""`grinder optimize`: search strategy parameters with Optuna, trials spread over a Dask cluster.

    grinder optimize --config base.toml --space space.toml --data DIR... --trials 200 \\
        [--storage postgresql://user@db/grinder] [--workers 4 | --scheduler tcp://host:8786] \\
        [--walk-forward 3/1] [--report out.html] [--json out.json]
    grinder optimize --demo          # generated data, a small walk-forward study, a report
    grinder optimize --strategy examples.strategies.avellaneda:make --space as.toml --data DIR...
                                     # a plug-in's [strategy.params] searched as strategy.params.<key>

Rerunning the same command continues the study (same --study name) up to --trials complete trials.
See docs/research.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from grinder.config import ConfigError, load_config
from grinder.data import DataError, expand_paths, load_exchange_info
from grinder.data.funding import load_funding

DEFAULT_STORAGE = "sqlite:///grinder-optimize.db"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="BASE.toml", help="base GRINDER config (default: every default)")
    parser.add_argument("--space", metavar="SPACE.toml", help="parameters, objectives, constraints, sampler")
    parser.add_argument("--data", nargs="+", action="extend", metavar="PATH", help="as for grinder backtest")
    parser.add_argument(
        "--funding",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="historical funding rates, as for grinder backtest --funding (fundingRate CSV/zip or REST JSON)",
    )
    parser.add_argument("--symbol", help="symbol of public-data files whose names do not carry it")
    parser.add_argument(
        "--strategy",
        metavar="MODULE:CALLABLE",
        help="plug-in strategy factory to tune (over [strategy] factory of --config); search its "
        "[strategy.params] as strategy.params.<key> in the space file",
    )
    parser.add_argument("--rules", metavar="EXCHANGEINFO.json", help="symbol rules (as for grinder backtest)")
    parser.add_argument("--trials", type=int, default=50, help="complete trials per study (default 50)")
    parser.add_argument("--study", help="study name (default: [study] name of the space file)")
    parser.add_argument(
        "--storage",
        default=os.environ.get("GRINDER_OPTIMIZE_STORAGE", DEFAULT_STORAGE),
        help=f"Optuna RDB URL: sqlite:///file.db or postgresql://user@host/db (default {DEFAULT_STORAGE}; "
        "the password comes from the URL or PGPASSWORD)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="local Dask worker processes (default: CPUs)"
    )
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="join this Dask cluster instead")
    parser.add_argument(
        "--walk-forward", metavar="TRAIN/TEST", help="rolling windows in days (3/1) or 12h/4h"
    )
    parser.add_argument("--seed", type=int, help="sampler seed (overrides [study] seed)")
    parser.add_argument("--report", metavar="OUT.html", help="write the HTML report here")
    parser.add_argument("--json", metavar="OUT.json", help="write the results as JSON here")
    parser.add_argument("--heartbeat", type=int, default=5, help="trial heartbeat seconds (default 5)")
    parser.add_argument(
        "--grace",
        type=int,
        default=30,
        help="seconds without heartbeat before a trial is retried (default 30)",
    )
    parser.add_argument("--demo", action="store_true", help="a small walk-forward study on generated data")
    parser.add_argument("--out", metavar="DIR", help="--demo: where data, storage and report go")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


class UsageError(ValueError):
    pass


# The config sections a backtest reads; only their GRINDER_<SECTION>_<KEY> overrides travel to the
# workers (nothing else of the driver's environment leaves this machine).
BACKTEST_SECTIONS = (
    "grid", "controller", "toxicity", "features", "risk", "execution", "venue", "backtest", "strategy"
)


def backtest_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    prefixes = tuple(f"GRINDER_{s.upper()}_" for s in BACKTEST_SECTIONS)
    return {k: v for k, v in environ.items() if k.startswith(prefixes)}


def _demo_defaults(args: argparse.Namespace) -> None:
    from grinder.optimize.demo import write_demo

    out = Path(args.out or tempfile.mkdtemp(prefix="grinder-optimize-demo-"))
    data = write_demo(out)
    args.config = args.config or str(out / "base.toml")
    args.space = args.space or str(out / "space.toml")
    args.data = args.data or [str(data)]
    args.funding = args.funding or [str(p) for p in sorted((out / "funding").glob("*.csv"))]
    if args.trials == 50:
        args.trials = 12
    args.walk_forward = args.walk_forward or "2/1"
    if args.storage == DEFAULT_STORAGE:
        args.storage = f"sqlite:///{out / 'optimize.db'}"
    args.report = args.report or str(out / "report.html")
    print(f"demo: data, config and space in {out}")


def _check(args: argparse.Namespace) -> None:
    if not args.space or not args.data:
        raise UsageError("give --space SPACE.toml and --data PATH (or --demo)")
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials}: give at least 1")
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    if args.heartbeat < 1 or args.grace <= args.heartbeat:
        raise UsageError(f"--heartbeat {args.heartbeat} / --grace {args.grace}: need 1 <= heartbeat < grace")
    if args.scheduler and not args.scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise UsageError(f"--scheduler {args.scheduler!r}: give the scheduler address as tcp://host:port")


# Dask's diagnostics, as a LocalCluster for `grinder optimize` runs them (ADR-285). Each worker
# process is one backtest thread plus Dask's own threads, and every sample those threads take holds
# the GIL the backtest needs: the statistical profiler walks the backtest's stack every 10 ms, the
# system monitor reads the process's counters every 0.5 s, the event-loop tick check runs every
# 20 ms, the memory monitor every 0.1 s. A trial is a backtest of seconds; nobody reads a flame graph
# of it. A cluster joined with --scheduler keeps its own settings.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client of the named cluster, or of a LocalCluster of `workers` single-threaded processes."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="15s") as client:
            yield client
        return
    with (
        dask.config.set(LOCAL_CLUSTER_CONFIG),  # workers (spawned by nannies) get the driver's config
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # the scheduler's HTTP endpoint: loopback, any free port
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _progress_bar(quiet: bool) -> tuple[Any, Any]:
    if quiet or not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True))
    task = bar.add_task("", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar


def run(args: argparse.Namespace) -> int:
    from grinder.api import StrategyLoadError, select
    from grinder.optimize.evaluate import DataSpec, TrialJob
    from grinder.optimize.space import SpaceError, check_against_config, load_space
    from grinder.optimize.study import OptimizeError, StudyDriver, open_storage, redact
    from grinder.optimize.windows import WindowError, parse_walk_forward

    try:
        if args.demo:
            _demo_defaults(args)
        _check(args)
        env = backtest_overrides(os.environ)
        if args.strategy:
            select(None, args.strategy)  # imported now: a bad one is one line, before any work
            env["GRINDER_STRATEGY_FACTORY"] = args.strategy  # travels to the workers with the job
        load_config(args.config, env=env)
        space = load_space(args.space)
        check_against_config(space, args.config, env)
        if args.seed is not None:
            from dataclasses import replace

            space = replace(space, seed=args.seed)
        expand_paths(args.data)
        if args.rules:
            load_exchange_info(args.rules)
        if args.funding:
            load_funding(args.funding, args.symbol)  # a bad file fails here, not on every worker
        walk = parse_walk_forward(args.walk_forward) if args.walk_forward else None
        config_text = Path(args.config).read_text(encoding="utf-8") if args.config else ""
        job = TrialJob(
            DataSpec(
                tuple(str(Path(p).resolve()) for p in args.data),
                args.rules,
                args.symbol,
                tuple(str(Path(p).resolve()) for p in args.funding or ()),
            ),
            config_text,
            tuple(sorted(env.items())),
        )
        storage = open_storage(args.storage, args.heartbeat, args.grace)
    except (
        UsageError, ConfigError, SpaceError, DataError, WindowError, OptimizeError, StrategyLoadError, OSError
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from grinder.optimize.report import html, json_doc, print_summary
    from grinder.optimize.runner import Optimization, run_optimization

    opt = Optimization(args.study or space.study_name, space, job, args.trials, walk)
    progress, bar = _progress_bar(args.quiet)
    try:
        with dask_client(args.scheduler, args.workers) as client:
            driver = StudyDriver(client, storage, on_progress=progress)
            span, outcomes = run_optimization(driver, opt)
    except (OptimizeError, WindowError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as exc:
        print(f"error: cannot reach the Dask scheduler {args.scheduler or '(local)'}: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.stop()
    print_summary(outcomes)
    if args.report:
        Path(args.report).write_text(
            html(
                space,
                span,
                outcomes,
                storage=redact(args.storage),
                title=f"GRINDER optimize · {opt.study_name}",
            ),
            encoding="utf-8",
        )
        print(f"report: {args.report}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(json_doc(space, span, outcomes), indent=1, default=str), "utf-8"
        )
        print(f"json: {args.json}")
    told = sum(o.progress.told for o in outcomes)
    complete = sum(len(o.trials) for o in outcomes)
    print(
        f"study {opt.study_name}: {complete} complete trial(s), {told} run by this process; "
        f"storage {redact(args.storage)}"
    )
    return 0
