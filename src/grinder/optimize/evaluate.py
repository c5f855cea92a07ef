"""One trial on a worker: the base config plus the trial's parameters, backtested on cached data.

Runs on Dask workers (any machine): everything it needs travels in the `TrialJob` (the base config
as text, the driver's GRINDER_* overrides, the parameters, the window), except the market data,
which must be readable under the same paths on every worker. Each worker process loads a data set
once into a `Tape` (`load_tape`, the backtester's columns, clock included) plus its recorded funding
rates (`load_funding`) and keeps them for every
later trial; a walk-forward window is a view of that tape, not a copy. The backtest itself is
`grinder.backtest.cli.backtest_tape`, the function `grinder backtest` runs after loading its data.
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

from grinder.backtest.cli import backtest_tape
from grinder.config import GrinderConfig, load_config
from grinder.data import Tape, load_exchange_info, load_tape
from grinder.data.funding import FundingRate, load_funding
from grinder.optimize.space import overrides, trial_selection

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
    funding_paths: tuple[str, ...] = ()  # as `grinder backtest --funding`


@dataclass(frozen=True, slots=True)
class TrialJob:
    data: DataSpec
    config_text: str  # the base TOML ("" = every default)
    env: tuple[tuple[str, str], ...]  # the driver's GRINDER_* overrides (not the worker's)
    params: tuple[tuple[str, Any], ...] = ()
    window: tuple[int, int] | None = None  # [start_ms, end_ms) of the tape; None = all of it
    equity_points: int = 0  # > 0: also return the equity curve reduced to about this many points


@dataclass(frozen=True, slots=True)
class MarketData:
    """What a worker keeps per data set: the tape (with its clock) and the recorded funding rates."""

    tape: Tape
    funding: dict[str, list[FundingRate]] | None


_lock = threading.Lock()
_data: dict[DataSpec, MarketData] = {}
_config_files: dict[str, Path] = {}
data_loads = 0  # data sets this process has loaded (one per DataSpec)


def cached_data(spec: DataSpec) -> tuple[MarketData, bool]:
    """The market data of `spec`, loaded at most once per process; (data, was it already cached)."""
    global data_loads
    with _lock:
        found = _data.get(spec)
        if found is not None:
            return found, True
        rules = load_exchange_info(spec.rules_path) if spec.rules_path else None
        tape = load_tape(list(spec.paths), rules, symbol=spec.symbol)
        tape.clock_ms  # noqa: B018 - computed once here, shared by every window view
        funding = load_funding(spec.funding_paths, spec.symbol) if spec.funding_paths else None
        found = _data[spec] = MarketData(tape, funding)
        data_loads += 1
        return found, False


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


def run_trial(job: TrialJob) -> dict[str, Any]:
    """Backtest one parameter set; the figures the study needs (plain JSON-able values)."""
    t0, cpu0 = time.perf_counter(), time.thread_time()
    data, cached = cached_data(job.data)
    tape = data.tape
    if job.window is not None:
        tape = window_tape(tape, *job.window)
        if not len(tape):
            raise ValueError(f"window {job.window} of the data holds no market events")
    cfg = trial_config(job)  # sampled strategy.params.* go into the plug-in's [strategy.params]
    result = backtest_tape(tape, cfg, funding=data.funding, selection=trial_selection(cfg, dict(job.params)))
    s = result.summary
    out: dict[str, Any] = {k: (None if s.get(k) is None else float(s[k])) for k in FIGURES}
    out["max_abs_position_qty"] = max(
        (v["max_abs_position_qty"] for v in result.symbols.values()), default=0.0
    )
    out["digest"] = result.digest
    out["data_cached"] = cached
    out["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    out["wall_s"] = time.perf_counter() - t0
    out["cpu_s"] = time.thread_time() - cpu0  # this task's CPU: below wall_s when the machine is busy
    if job.equity_points > 0:
        step = max(1, len(result.bar_times_ms) // job.equity_points)
        out["equity_time_ms"] = result.bar_times_ms[::step].astype(np.int64).tolist()
        out["equity_usdt"] = result.equity[::step].tolist()
    return out
