"""Risk latches act in backtests as live: a daily-loss kill switch stops new risk and is counted as paused time."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest, RunLog
from grinder.backtest.results import summarize
from grinder.core.commands import CancelOrder, PlaceOrder
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from tests.backtest.conftest import reference_run_configs


def _run_to_kill(tape: Tape) -> tuple[Backtest, RunLog, RunLog]:
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
    return bt, log, slow


@pytest.fixture(scope="module")
def killed(synth_tape: Tape) -> tuple[Backtest, RunLog, RunLog]:
    return _run_to_kill(synth_tape)


def test_kill_switch_pauses_and_skipping_stays_exact(synth_tape: Tape, killed: tuple[Backtest, RunLog, RunLog]) -> None:
    tape = synth_tape
    bt, log, slow = killed
    assert log.digest == slow.digest
    assert bt.pipeline.guard.kill_switch_engaged
    res = summarize(tape, log, initial_balance=Decimal(1000), bar_ms=1000, sharpe_bar_ms=60_000)
    assert res.summary["paused_s"] > 0
    killed_at = res.summary["end_ms"] - res.summary["paused_s"] * 1000
    before = [c for c in log.commands if c.time_ms < killed_at]
    after = [c for c in log.commands if c.time_ms >= killed_at]
    placed_before = {c.command.client_order_id for c in before if isinstance(c.command, PlaceOrder)}
    cancelled_after = {c.command.client_order_id for c in after if isinstance(c.command, CancelOrder)}
    # the kill switch pulls the resting grid: it cancels orders placed before it engaged ...
    assert cancelled_after, "the kill switch engaged but no resting order was cancelled"
    assert cancelled_after <= placed_before
    # ... and what is left resting on the venue can only shrink the position: every fill after the
    # latch brings it towards flat, never through it (issue 15: on this tape two reducing buys fill)
    pos = 0
    for f in log.fills:
        new = pos + f.fill.side.sign * f.fill.qty_lots
        if f.row > after[0].row:
            assert abs(new) < abs(pos) and new * pos >= 0, f
        pos = new
    final_pos = pos
    resting = bt.venue.open_orders()
    assert all(o.side.sign * final_pos < 0 for o in resting), resting
    # after the kill switch, a new order may only shrink the position (none is placed on this tape)
    for c in after:
        if isinstance(c.command, PlaceOrder):
            pos = sum(f.fill.side.sign * f.fill.qty_lots for f in log.fills if f.row <= c.row)
            assert c.command.side.sign * pos < 0, c
        else:
            assert isinstance(c.command, CancelOrder), c


# Found by issue 20 (under the kill switch every resting order on the reducing side was kept, whatever
# its size). Since issue 15 this tape no longer shows it (orders no quote stands for are cancelled, a
# side holds no more orders than it quotes, ADR-170), so it is no longer an expected failure; the
# pipeline still does not bound the reducing side by the position in general (the guard bounds only
# new orders).
def test_kill_switch_leaves_no_more_resting_than_the_position(killed: tuple[Backtest, RunLog, RunLog]) -> None:
    """After the latch, orders left resting must not be able to flip the position (and so add risk)."""
    bt, log, _ = killed
    final_pos = sum(f.fill.side.sign * f.fill.qty_lots for f in log.fills)
    resting = sum(o.remaining_lots for o in bt.venue.open_orders())
    assert resting <= abs(final_pos), f"{resting} lots resting against a position of {final_pos} lots"
