"""Pinned digests of small deterministic runs.

Performance work on the venue, the pipeline, the loader and the backtester must not change what a
run does: these digests were recorded before that work began (2026-11-25) and may only change
together with a documented behaviour fix.
"""

from __future__ import annotations

from decimal import Decimal

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import GridConfig, StrategyConfig
from grinder.venue.config import VenueConfig
from tests.backtest.conftest import reference_run_configs

DEFAULT_30K = "21108558fa4e03ba4aa043eca6eaa33ea66e8471f15d18adfe19af0d2bb67c92"
REFERENCE_SYNTH_120K = "4f5e0abff4602b27eefb408670fd65ed0bef52082ea10d366ee20e18010f7b6b"
TIGHT_FEATURES_30K = "53c966be8daffe91ecbe2f74479a13064a801418e928bfa58a8dec9db0ebe76b"


def test_default_config_on_captures_digest(capture_tape: Tape) -> None:
    # default everything: controller + toxicity gate on (every event processed), queue fills, L2
    bt = Backtest(
        capture_tape.slice(30_000),
        strategy_config=StrategyConfig(),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(),
    )
    log = bt.run()
    assert (len(log.commands), len(log.fills)) == (20, 0)
    assert log.digest == DEFAULT_30K


def test_tight_grid_with_features_on_captures_digest(capture_tape: Tape) -> None:
    # a tight grid that trades, features on (must_feed_events), queue model with L2, margin checks
    strategy = StrategyConfig(
        grid=GridConfig(
            levels=3, spacing_bps=Decimal("1"), order_qty=Decimal("0.002"), max_position=Decimal("0.01")
        )
    )
    risk = RiskConfig(
        max_notional_per_order=Decimal("1000"),
        max_position_notional=Decimal("5000"),
        max_total_position_notional=Decimal("10000"),
    )
    bt = Backtest(
        capture_tape.slice(30_000),
        strategy_config=strategy,
        risk_config=risk,
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(initial_balance=Decimal("10000")),
        backtest_config=BacktestConfig(),
    )
    log = bt.run()
    assert (len(log.commands), len(log.fills), log.rows_processed) == (309, 72, 30_000)
    assert log.digest == TIGHT_FEATURES_30K


def test_reference_grid_on_synthetic_digest(synth_tape: Tape) -> None:
    log = Backtest(synth_tape, **reference_run_configs()).run()
    assert len(log.fills) == 37
    assert log.digest == REFERENCE_SYNTH_120K
