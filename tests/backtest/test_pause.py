"""Risk latches act in backtests as live: a daily-loss kill switch stops new risk and is counted as paused time."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.backtest.results import summarize
from grinder.core.commands import PlaceOrder
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from tests.backtest.conftest import reference_run_configs


def test_kill_switch_pauses_and_skipping_stays_exact(synth_tape: Tape) -> None:
    tape = synth_tape
    cfg = reference_run_configs()
    big = Decimal("1e15")
    cfg["risk_config"] = RiskConfig(
        max_notional_per_order=big,
        max_position_notional=big,
        max_total_position_notional=big,
        orders_per_10s=10**9,
        orders_per_minute=10**9,
        max_drawdown_pct=Decimal("0.1"),  # 1 USDT on a 1,000 USDT account
    )
    cfg["venue_config"] = dataclasses.replace(cfg["venue_config"], initial_balance=Decimal(1000))
    cfg["execution_config"] = ExecutionConfig(equity_refresh_ms=1000)
    runs = []
    for skip in (True, False):
        cfg["backtest_config"] = BacktestConfig(skip_quiet=skip)
        bt = Backtest(tape, **cfg)
        runs.append((bt, bt.run()))
    (bt, log), (_, slow) = runs
    assert log.digest == slow.digest
    assert bt.pipeline.guard.kill_switch_engaged
    res = summarize(tape, log, initial_balance=Decimal(1000), bar_ms=1000, sharpe_bar_ms=60_000)
    assert res.summary["paused_s"] > 0
    killed_at = res.summary["end_ms"] - res.summary["paused_s"] * 1000
    # after the kill switch, a new order may only shrink the position
    late = [c for c in log.commands if c.time_ms >= killed_at and isinstance(c.command, PlaceOrder)]
    for c in late:
        pos = sum(f.fill.side.sign * f.fill.qty_lots for f in log.fills if f.row <= c.row)
        assert c.command.side.sign * pos < 0, c
