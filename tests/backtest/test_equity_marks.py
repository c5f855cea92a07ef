"""Equity re-marks made by the backtester over skipped rows (ADR-330).

The default config on synthetic data holds a position most of the time, so a per-event run re-marks
equity about once per second of data. The skipping run makes those re-marks itself: the risk guard's
equity, high-water mark and day start equity, and everything the run records, equal the per-event
run's, with fewer rows processed than when every re-mark ends a skip. With loss limits tight enough to
trip, the kill switch engages at the same re-mark in both.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import grinder.backtest.engine as engine_mod
from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue.config import VenueConfig

ROWS = 40_000


def run(tape: Tape, skip: bool, risk: RiskConfig) -> tuple[Backtest, tuple[object, ...]]:
    bt = Backtest(
        tape,
        strategy_config=StrategyConfig(),
        risk_config=risk,
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(skip_quiet=skip),
    )
    log = bt.run()
    g = bt.pipeline.guard
    facts = (
        log.digest,
        [(c.row, c.time_ms, c.command, c.outcome) for c in log.commands],
        log.blocked,
        log.fills,
        g.trip_state(),
        g.equity,
        g.kill_switch_reason,
        bt.pipeline.last_equity_ms,
    )
    return bt, facts


def test_skip_makes_the_equity_remarks_itself(synth_tape: Tape, monkeypatch: pytest.MonkeyPatch) -> None:
    tape = synth_tape.slice(ROWS)
    fast, fast_facts = run(tape, True, RiskConfig())
    _, slow_facts = run(tape, False, RiskConfig())
    assert fast_facts == slow_facts
    assert fast.log.fills  # a position was held, so the re-marks moved equity
    assert fast_facts[5] != fast_facts[4].day_start_equity  # type: ignore[attr-defined]
    monkeypatch.setattr(engine_mod, "emulable", lambda *a: False)
    stopping, stopping_facts = run(tape, True, RiskConfig())
    assert stopping_facts == slow_facts
    assert fast.log.rows_processed < stopping.log.rows_processed


def test_a_remark_that_trips_the_kill_switch_is_processed_in_full(synth_tape: Tape) -> None:
    tape = synth_tape.slice(ROWS)
    tight = RiskConfig(max_drawdown_pct=Decimal("0.002"))
    _, fast_facts = run(tape, True, tight)
    _, slow_facts = run(tape, False, tight)
    assert slow_facts[6] == "DRAWDOWN"
    assert fast_facts == slow_facts
