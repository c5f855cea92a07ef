"""One trial on a worker: the base config plus the trial's parameters, backtested on cached data.

Runs on Dask workers (any machine): everything it needs travels in the `TrialJob` (the base config
as text, the driver's GRINDER_* overrides, the parameters, the window), except the market data,
which must be readable under the same paths on every worker. Each worker process loads a data set
once into a `Tape` (`load_tape`, the backtester's columns, clock included) and keeps it for every
later trial; a walk-forward window is a view of that tape, not a copy. The backtest itself is the
backtester's public API (`Backtest` + `summarize`), untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.backtest.results import BacktestResult, summarize
from grinder.config import GrinderConfig, load_config
from grinder.data import Tape, load_exchange_info, load_tape
from grinder.execution.config import ExecutionConfig
from grinder.optimize.space import overrides
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue.config import VenueConfig

FIGURES = (
    "net_pnl_usdt",
    "max_drawdown_usdt",
    "max_drawdown_pct",
    "fees_usdt",
    "funding_usdt",
    "realized_pnl_usdt",
    "fills",
    "round_trips",
    "sharpe_annualized",
    "turnover_usdt",
    "commands_blocked",
    "duration_s",
    "events",
)


@dataclass(frozen=True, slots=True)
class DataSpec:
    """Market data as `grinder backtest --data/--rules/--symbol` takes it."""

    paths: tuple[str, ...]
    rules_path: str | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class TrialJob:
    data: DataSpec
    config_text: str  # the base TOML ("" = every default)
    env: tuple[tuple[str, str], ...]  # the driver's GRINDER_* overrides (not the worker's)
    params: tuple[tuple[str, Any], ...] = ()
    window: tuple[int, int] | None = None  # [start_ms, end_ms) of the tape; None = all of it
    equity_points: int = 0  # > 0: also return the equity curve reduced to about this many points


_lock = threading.Lock()
_tapes: dict[DataSpec, Tape] = {}
_config_files: dict[str, Path] = {}
tape_loads = 0  # data sets this process has loaded (one per DataSpec)


def cached_tape(spec: DataSpec) -> tuple[Tape, bool]:
    """The tape of `spec`, loaded at most once per process; (tape, was it already cached)."""
    global tape_loads
    with _lock:
        tape = _tapes.get(spec)
        if tape is not None:
            return tape, True
        rules = load_exchange_info(spec.rules_path) if spec.rules_path else None
        tape = load_tape(list(spec.paths), rules, symbol=spec.symbol)
        tape.clock_ms  # noqa: B018 - computed once here, shared by every window view
        _tapes[spec] = tape
        tape_loads += 1
        return tape, False


def window_tape(tape: Tape, start_ms: int, end_ms: int) -> Tape:
    """Rows whose clock is in [start_ms, end_ms), as views of `tape`'s columns."""
    clock = tape.clock_ms
    lo, hi = (int(i) for i in np.searchsorted(clock, [start_ms, end_ms], side="left"))
    n = len(tape)
    cut: dict[str, Any] = {}
    for f in dataclasses.fields(tape):
        value = getattr(tape, f.name)
        if isinstance(value, np.ndarray) and len(value) == n:
            cut[f.name] = value[lo:hi]
    return dataclasses.replace(tape, **cut)


def _config_file(text: str) -> Path | None:
    if not text:
        return None
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    with _lock:
        path = _config_files.get(key)
        if path is None:
            folder = Path(tempfile.mkdtemp(prefix="grinder-optimize-"))
            path = folder / f"base-{key}.toml"
            path.write_text(text, encoding="utf-8")
            _config_files[key] = path
    return path


def trial_config(job: TrialJob) -> GrinderConfig:
    env = {**dict(job.env), **overrides(dict(job.params))}
    return load_config(_config_file(job.config_text), env=env)


def backtest(tape: Tape, cfg: GrinderConfig) -> BacktestResult:
    """The backtester's public entry points on an already loaded tape."""
    bt_cfg = cfg.get(BacktestConfig)
    venue_cfg = cfg.get(VenueConfig)
    run_log = Backtest(
        tape,
        strategy_config={sym: StrategyConfig.for_symbol(cfg, sym) for sym in tape.symbols},
        risk_config=cfg.get(RiskConfig),
        execution_config=cfg.get(ExecutionConfig),
        venue_config=venue_cfg,
        backtest_config=bt_cfg,
    ).run()
    return summarize(
        tape,
        run_log,
        initial_balance=venue_cfg.initial_balance,
        bar_ms=bt_cfg.bar_ms,
        sharpe_bar_ms=bt_cfg.sharpe_bar_ms,
    )


def run_trial(job: TrialJob) -> dict[str, Any]:
    """Backtest one parameter set; the figures the study needs (plain JSON-able values)."""
    t0 = time.perf_counter()
    tape, cached = cached_tape(job.data)
    if job.window is not None:
        tape = window_tape(tape, *job.window)
        if not len(tape):
            raise ValueError(f"window {job.window} of the data holds no market events")
    result = backtest(tape, trial_config(job))
    s = result.summary
    out: dict[str, Any] = {k: (None if s.get(k) is None else float(s[k])) for k in FIGURES}
    out["max_abs_position_qty"] = max(
        (v["max_abs_position_qty"] for v in result.symbols.values()), default=0.0
    )
    out["digest"] = result.digest
    out["data_cached"] = cached
    out["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    out["wall_s"] = time.perf_counter() - t0
    if job.equity_points > 0:
        step = max(1, len(result.bar_times_ms) // job.equity_points)
        out["equity_time_ms"] = result.bar_times_ms[::step].astype(np.int64).tolist()
        out["equity_usdt"] = result.equity[::step].tolist()
    return out
