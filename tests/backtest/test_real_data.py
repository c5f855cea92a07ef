"""Backtests on the real Binance captures (BTCUSDT + ETHUSDT with L2 depth), end to end."""

from __future__ import annotations

from decimal import Decimal

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.backtest.report import html_report
from grinder.backtest.results import summarize
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import ControllerConfig, GridConfig, SpacingMode, StrategyConfig, ToxicityConfig
from grinder.venue.config import VenueConfig

TIGHT = StrategyConfig(
    grid=GridConfig(
        levels=3,
        spacing_mode=SpacingMode.FIXED,  # a tight fixed grid with no skew (the defaults before issue 15)
        spacing_bps=Decimal("1"),
        order_qty=Decimal("0.002"),
        max_position=Decimal("0.01"),
        anchor_skew_bps=Decimal(0),
        size_skew=False,
    ),
    controller=ControllerConfig(enabled=False),
    toxicity=ToxicityConfig(enabled=False),
)
RISK = RiskConfig(
    max_notional_per_order=Decimal("1000"),
    max_position_notional=Decimal("5000"),
    max_total_position_notional=Decimal("10000"),
)


def run(tape: Tape, skip: bool, fill_model: str = "queue", latency: bool = True):  # type: ignore[no-untyped-def]
    venue = VenueConfig(fill_model=fill_model, initial_balance=Decimal("10000"))
    bt = Backtest(
        tape,
        strategy_config=TIGHT,
        risk_config=RISK,
        execution_config=ExecutionConfig(),
        venue_config=venue,
        backtest_config=BacktestConfig(skip_quiet=skip, latency=latency),
    )
    return bt, bt.run()


def test_grid_on_real_captures_skipping_is_exact(capture_tape: Tape) -> None:
    # the first ~70 s of both captures: exchange times step back across streams here
    tape = capture_tape.slice(40_000)
    assert not bool((tape.time_ms[1:] >= tape.time_ms[:-1]).all())
    _, fast = run(tape, skip=True)
    _, slow = run(tape, skip=False)
    assert fast.digest == slow.digest
    assert [(c.row, c.command) for c in fast.commands] == [(c.row, c.command) for c in slow.commands]
    assert len(fast.fills) > 0 and fast.band_breaks == 0
    assert fast.depth_gaps == 0  # the real depth@0ms chain holds (pu == previous u) after the snapshot
    assert {f.fill.symbol for f in fast.fills} == {"BTCUSDT", "ETHUSDT"}
    assert fast.rows_skipped > 0


def test_real_capture_results_and_report(capture_tape: Tape) -> None:
    tape = capture_tape.slice(50_000)
    # no latency: with fills reaching the strategy late, the grid can overshoot max_position by the
    # orders still resting (0.012 here), which the position check below does not allow for
    bt, log = run(tape, skip=True, fill_model="touch", latency=False)
    res = summarize(tape, log, initial_balance=Decimal("10000"), bar_ms=1000, sharpe_bar_ms=60_000)
    s = res.summary
    assert s["events"] == len(tape) and s["fills"] == len(log.fills) > 0
    # fees: maker fills at 2 bps of their notional
    assert Decimal(s["fees_usdt"]) > 0
    assert abs(float(Decimal(s["fees_usdt"])) - s["turnover_usdt"] * 0.0002) < 1e-6
    # PnL identity: net = realized - fees + funding + unrealized
    net = float(Decimal(s["realized_pnl_usdt"]) - Decimal(s["fees_usdt"]) + Decimal(s["funding_usdt"]))
    assert abs(net + s["unrealized_pnl_usdt"] - s["net_pnl_usdt"]) < 1e-6
    # the venue's wallet agrees with the backtest's cash accounting
    wallet = bt.venue.balance().wallet_balance
    assert abs(float(wallet) - (10000 + net)) < 1e-6
    for sym in ("BTCUSDT", "ETHUSDT"):
        fig = res.symbols[sym]
        assert abs(fig["time_flat_pct"] + fig["time_long_pct"] + fig["time_short_pct"] - 100.0) < 1e-6
        assert fig["max_abs_position_qty"] <= 0.01 + 1e-12
    html = html_report(res)
    assert html.count("<svg") == 5 and "<script" not in html and "BTCUSDT: inventory" in html
