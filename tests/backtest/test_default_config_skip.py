"""The default config skips quiet rows on the real captures and stays exact (issue 16, item 4).

For each capture's first rows: the skipping run gives the same commands, fills, blocks and digest as
the per-event run (`--no-skip`), and both equal a per-event run whose pipeline re-plans after every
refused plan (no refusal band: the behaviour before it existed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest, RunLog
from grinder.data import Tape, load_tape
from grinder.execution.config import ExecutionConfig
from grinder.execution.pipeline import TradingPipeline
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue.config import VenueConfig

ROWS = 40_000


def run(tape: Tape, skip: bool) -> RunLog:
    return Backtest(
        tape,
        strategy_config=StrategyConfig(),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(skip_quiet=skip),
    ).run()


def facts(log: RunLog) -> tuple[object, ...]:
    return (
        log.digest,
        [(c.row, c.time_ms, c.command, c.outcome) for c in log.commands],
        log.blocked,
        log.fills,
    )


@pytest.mark.parametrize(
    ("capture", "refused"), [("btcusdt_20240808.gz", True), ("ethusdt_20240808.gz", False)]
)
def test_default_config_skip_equals_no_skip(
    capture_dir: Path, capture: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = load_tape([capture_dir / capture]).slice(ROWS)
    fast = run(tape, skip=True)
    slow = run(tape, skip=False)
    assert facts(fast) == facts(slow)
    assert fast.band_breaks == 0
    assert fast.commands
    assert bool(fast.blocked) is refused  # on BTCUSDT risk refuses the default grid's outer levels
    # most rows are skipped, also while the refused outer level is pending (before the refusal band
    # every BTCUSDT row after the first refusal was processed in full)
    assert fast.rows_processed < ROWS // 4, fast.rows_processed

    monkeypatch.setattr(TradingPipeline, "_refusal_band", lambda *a, **k: None)
    replanning = run(tape, skip=False)
    assert facts(replanning) == facts(slow)
