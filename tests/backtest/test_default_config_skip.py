"""The default config skips quiet rows on the real captures and stays exact (issue 16, item 4).

For each capture's first rows: the skipping run gives the same commands, fills, blocks and digest as
the per-event run (`--no-skip`), and both equal a per-event run whose pipeline re-plans after every
refused plan (no refusal band: the behaviour before it existed).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest, RunLog
from grinder.data import Tape, load_tape
from grinder.data.tape import OTHER
from grinder.execution.config import ExecutionConfig
from grinder.execution.pipeline import TradingPipeline
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue.config import VenueConfig

ROWS = 40_000


def run(tape: Tape, skip: bool, min_skip_rows: int | None = None) -> RunLog:
    bt = Backtest(
        tape,
        strategy_config=StrategyConfig(),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(skip_quiet=skip),
    )
    if min_skip_rows is not None:
        bt.min_skip_rows = min_skip_rows
    return bt.run()


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
    # skips tried wherever they can be (not only before long runs of quotes and trades, ADR-281)
    fast = run(tape, skip=True, min_skip_rows=0)
    slow = run(tape, skip=False)
    assert facts(fast) == facts(slow)
    assert fast.band_breaks == 0
    assert fast.commands
    default = run(tape, skip=True)  # the default: no skip tried right before a mark or snapshot
    assert facts(default) == facts(slow)
    assert default.band_breaks == 0
    assert fast.rows_processed <= default.rows_processed < ROWS
    # skips pass over depth diffs (each processed in its place, ADR-291): what is processed in full
    # is little more than the diffs themselves
    diffs = int((tape.kind == OTHER).sum())
    assert default.rows_processed < diffs + ROWS // 10, (default.rows_processed, diffs)
    assert bool(fast.blocked) is refused  # on BTCUSDT risk refuses the default grid's outer levels
    # most rows are skipped, also while the refused outer level is pending (before the refusal band
    # every BTCUSDT row after the first refusal was processed in full)
    assert fast.rows_processed < ROWS // 4, fast.rows_processed

    monkeypatch.setattr(TradingPipeline, "_refusal_band", lambda *a, **k: None)
    replanning = run(tape, skip=False)
    assert facts(replanning) == facts(slow)


def test_skip_stays_exact_while_the_write_budget_thins_the_grid(synth_tape: Tape) -> None:
    # A small write budget keeps the grid thinned (pressure 1-2) often; the pressure falls as the
    # budget refills, which a per-event run notices on its next 100 ms re-read: skipping must stop
    # there too (before, the fuller grid came later and 379 skipped quotes broke their band here).
    def run_small_budget(skip: bool) -> RunLog:
        return Backtest(
            synth_tape,
            strategy_config=StrategyConfig(),
            risk_config=RiskConfig(),
            execution_config=ExecutionConfig(write_share=Decimal("0.1")),
            venue_config=VenueConfig(),
            backtest_config=BacktestConfig(skip_quiet=skip),
        ).run()

    fast = run_small_budget(True)
    slow = run_small_budget(False)
    assert facts(fast) == facts(slow)
    assert fast.band_breaks == 0
    assert fast.rows_processed < len(synth_tape)


def test_skips_over_the_diffs_of_both_captures_merged_equal_no_skip(capture_tape: Tape) -> None:
    """Both captures in one run: a skip passes over one symbol's diffs while the other symbol's quotes
    are skipped too (ADR-291, ADR-296); the run equals the per-event run."""
    tape = capture_tape.slice(ROWS)
    fast = run(tape, skip=True, min_skip_rows=0)
    slow = run(tape, skip=False)
    assert facts(fast) == facts(slow)
    assert fast.band_breaks == 0 and fast.commands
    diffs = int((tape.kind == OTHER).sum())
    assert fast.rows_processed < diffs + ROWS // 10, (fast.rows_processed, diffs)
