"""Precomputed tape features agree with the incremental `FeatureEngine`, and let the adaptive default
strategy skip quiet stretches with results identical to processing every event."""

from __future__ import annotations

import math

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.backtest.features import TapeFeatures, _SymbolColumns
from grinder.core.events import DepthSnapshot
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import FeatureConfig, GridConfig, StrategyConfig
from grinder.strategy.features import FeatureEngine
from grinder.venue.config import VenueConfig


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_tape_features_equal_the_incremental_engine(capture_tape: Tape, symbol: str) -> None:
    tape = capture_tape.slice(100_000)
    # short bars so NATR warms up inside the capture
    cfg = FeatureConfig(bar_ms=5_000, natr_period=5, flow_halflife_ms=2_000, spread_halflife_ms=10_000)
    si = tape.symbol_index(symbol)
    rules = tape.rules[si]
    live = FeatureEngine(symbol, rules, cfg)
    tf = TapeFeatures(symbol, rules, cfg, _SymbolColumns(tape, si, rules, cfg))
    checked = warm = 0
    for i in range(len(tape)):
        if tape.sym[i] != si:
            continue
        ev = tape.event(i)
        if isinstance(ev, DepthSnapshot):
            continue
        live.on_event(ev)  # type: ignore[arg-type]
        if i % 97:
            continue
        tf.cursor = i
        checked += 1
        assert (tf.time_ms, tf.mid2, tf.spread_ticks) == (live.time_ms, live.mid2, live.spread_ticks), i
        assert _close(tf.spread_ema_ticks, live.spread_ema_ticks), i
        (a, n), (b, m) = tf.flow(), live.flow()
        assert _close(a, b) and _close(n, m), i
        assert tf.natr_warm == live.natr_warm and tf._bar_state()[2] == live.bars_closed, i
        if live.natr_warm:
            warm += 1
            assert math.isclose(tf.natr_bps, live.natr_bps, rel_tol=1e-12), i
    assert checked > 300 and warm > 100


def _run(tape: Tape, skip: bool, levels: int):  # type: ignore[no-untyped-def]
    bt = Backtest(
        tape,
        strategy_config=StrategyConfig(grid=GridConfig(levels=levels)),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(skip_quiet=skip),
    )
    bt.min_skip_rows = 0  # skips tried before every row that allows one (ADR-281)
    return bt.run()


def test_adaptive_strategy_skips_quiet_stretches_with_identical_results(capture_tape: Tape) -> None:
    # controller, toxicity gate and adaptive spacing on (the defaults); 3 levels keep the risk limits
    # from refusing a level on every event (a refused plan is re-planned on every event)
    tape = capture_tape.slice(60_000)
    fast = _run(tape, True, 3)
    slow = _run(tape, False, 3)
    assert fast.digest == slow.digest and fast.band_breaks == 0
    assert len(fast.commands) > 10
    assert fast.rows_processed < len(tape) // 5 and slow.rows_processed == len(tape)
