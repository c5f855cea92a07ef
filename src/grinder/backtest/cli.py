"""`grinder backtest`: run the grid (or a plug-in strategy) on recorded data and report PnL, risk and
inventory figures.

    grinder backtest --data DIR_OR_FILE... [--config grinder.toml] [--strategy module:callable]
                     [--report out.html] [--json out.json]

Without --config the defaults of every section apply (the default grid, default risk limits, the
queue fill model) plus GRINDER_<SECTION>_<KEY> environment overrides. The last line printed is
`digest: <sha256 of every command and fill>`: the same inputs and config give the same digest.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grinder.api import StrategySelection, select
from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest, ProgressFn
from grinder.backtest.report import bars_to_list, html_report, print_table
from grinder.backtest.results import BacktestResult, summarize
from grinder.config import SECTIONS, ConfigError, GrinderConfig, load_config
from grinder.data import DataError, Tape, load_exchange_info, load_tape
from grinder.data.funding import FundingRate, load_funding
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy import grid_factory
from grinder.strategy.config import StrategyConfig
from grinder.venue.config import VenueConfig

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        nargs="+",
        action="extend",  # `--data a --data b` loads both (it used to keep only the last)
        required=True,
        metavar="PATH",
        help="files or directories: Binance public-data CSV/zip/Parquet, captures, recordings",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="GRINDER TOML config (sections grid, risk, venue, ...)"
    )
    parser.add_argument("--report", metavar="OUT.html", help="write the HTML report here")
    parser.add_argument("--json", metavar="OUT.json", help="write the figures as JSON here")
    parser.add_argument("--symbol", help="symbol of public-data files whose names do not carry it")
    parser.add_argument(
        "--rules",
        metavar="EXCHANGEINFO.json",
        help="symbol rules from a saved GET /fapi/v1/exchangeInfo (default: built-in BTCUSDT/ETHUSDT)",
    )
    parser.add_argument(
        "--funding",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="historical funding rates: Binance public-data <SYMBOL>-fundingRate-YYYY-MM.csv (or .zip) "
        "or a saved GET /fapi/v1/fundingRate JSON; without them (and without a recorded mark-price "
        "stream) funding is reported unknown",
    )
    parser.add_argument(
        "--strategy",
        metavar="MODULE:CALLABLE",
        help="strategy factory to run instead of [strategy] factory / the grid "
        "(e.g. examples.strategies.avellaneda:make; see docs/strategy.md)",
    )
    parser.add_argument(
        "--no-skip", action="store_true", help="process every event in full (slower; same results)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _importable(path: str) -> bool:
    try:
        importlib.import_module(path.partition(":")[0])
    except ImportError:
        return False
    return True


def load_settings(path: str | None) -> GrinderConfig:
    """The effective configuration (sections whose package is installed)."""
    registry = {name: cls for name, cls in SECTIONS.items() if _importable(cls)}
    return load_config(path, registry=registry)


def run_backtest(
    data: list[str],
    cfg: GrinderConfig,
    *,
    symbol: str | None = None,
    rules_path: str | None = None,
    skip: bool | None = None,
    progress: ProgressFn | None = None,
    funding_paths: list[str] | None = None,
    selection: StrategySelection | None = None,
) -> BacktestResult:
    """Load data, run, summarise: the whole of `grinder backtest` minus the printing."""
    rules = load_exchange_info(rules_path) if rules_path else None
    funding = load_funding(funding_paths, symbol) if funding_paths else None
    t0 = time.perf_counter()
    tape = load_tape(data, rules, symbol=symbol)
    t1 = time.perf_counter()
    return backtest_tape(tape, cfg, skip=skip, progress=progress, funding=funding, started=t0, loaded=t1,
                         selection=selection)


def backtest_tape(
    tape: Tape,
    cfg: GrinderConfig,
    *,
    skip: bool | None = None,
    progress: ProgressFn | None = None,
    funding: Mapping[str, Sequence[FundingRate]] | None = None,
    started: float | None = None,
    loaded: float | None = None,
    selection: StrategySelection | None = None,
) -> BacktestResult:
    """Run and summarise an already loaded tape (`grinder optimize` runs every trial through this).

    `funding`: recorded funding (`load_funding`) for the venue; `started`: perf_counter() at which
    the wall time counts from (default: now); `loaded`: perf_counter() when the tape was in memory
    (load_s = loaded - started; default: now); `selection`: the strategy (default: [strategy] of `cfg`,
    else the grid of its [grid], [controller], [toxicity], [features] sections)."""
    t1 = time.perf_counter() if loaded is None else loaded
    t0 = t1 if started is None else started
    bt_cfg = cfg.get(BacktestConfig)
    if skip is not None and skip != bt_cfg.skip_quiet:
        bt_cfg = dataclasses.replace(bt_cfg, skip_quiet=skip)
    venue_cfg = cfg.get(VenueConfig)
    selection = selection or _configured_selection(cfg)
    grids = {sym: StrategyConfig.for_symbol(cfg, sym) for sym in tape.symbols}
    make, strategy_config = selection.choose(grid_factory, grids)
    bt = Backtest(
        tape,
        strategy_config=strategy_config,
        strategy_factory=make,
        risk_config=cfg.get(RiskConfig),
        execution_config=cfg.get(ExecutionConfig),
        venue_config=venue_cfg,
        backtest_config=bt_cfg,
        funding=funding,
    )
    run_log = bt.run(progress)
    t2 = time.perf_counter()
    result = summarize(
        tape,
        run_log,
        initial_balance=venue_cfg.initial_balance,
        bar_ms=bt_cfg.bar_ms,
        sharpe_bar_ms=bt_cfg.sharpe_bar_ms,
        wall_s=t2 - t0,
    )
    result.summary["load_s"] = t1 - t0  # reading and merging the files into the tape
    result.summary["run_s"] = t2 - t1  # the backtest proper (features, matching, strategy)
    result.summary["latency"] = run_log.latency
    result.summary["initial_balance_usdt"] = str(venue_cfg.initial_balance)
    result.summary["strategy"] = selection.factory or "grid"
    return result


def _configured_selection(cfg: GrinderConfig) -> StrategySelection:
    try:
        selection = cfg.section("strategy")
    except KeyError:
        return StrategySelection()
    return selection if isinstance(selection, StrategySelection) else StrategySelection()


def _progress_bar() -> tuple[ProgressFn | None, Any]:
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("backtest"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("loading data", total=None)  # indeterminate until the run starts
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, description=f"{done:,}/{total:,} events")

    return update, bar


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before loading any data, outputs that cannot be written and a --symbol that captures
    would silently ignore (their file names and messages carry the symbol)."""
    from grinder.data import expand_paths
    from grinder.data.binance_files import symbol_from_filename
    from grinder.data.capture import is_capture

    for flag, out in (("--report", args.report), ("--json", args.json)):
        if out:
            ensure_writable_dir(Path(out).parent, flag)
    if args.symbol:
        for f in expand_paths(args.data):
            named = symbol_from_filename(f) if f.name.endswith(".gz") and is_capture(f) else None
            if named is not None and named != args.symbol.upper():
                raise ValueError(f"--symbol {args.symbol} does not apply to capture {f} (it holds {named}); "
                                 "drop --symbol: captures name their symbol themselves")


def ensure_writable_dir(folder: Path, flag: str) -> None:
    """One clear line instead of a traceback after the whole run."""
    folder = folder if str(folder) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{flag}: folder {folder} does not exist; create it (mkdir -p {folder}) "
                         "or pick another")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}: folder {folder} is not writable; pick a folder you can write to")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_settings(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        selection = select(_configured_selection(cfg), args.strategy)
        check_inputs(args)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress, bar = (None, None) if args.quiet else _progress_bar()
    try:
        result = run_backtest(
            args.data,
            cfg,
            symbol=args.symbol,
            rules_path=args.rules,
            skip=False if args.no_skip else None,
            progress=progress,
            funding_paths=args.funding,
            selection=selection,
        )
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.stop()
    print_table(result)
    if args.json:
        doc = result.to_json_dict()
        doc["equity_curve"] = bars_to_list(result)
        doc["config"] = cfg.as_dict()
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
        print(f"json: {args.json}")
    if args.report:
        Path(args.report).write_text(html_report(result, config=cfg.as_dict()), encoding="utf-8")
        print(f"report: {args.report}")
    print(f"digest: {result.digest}")
    return 0
