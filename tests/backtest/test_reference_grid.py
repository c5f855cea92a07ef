"""The backtester on REFERENCE_GRID.md: same fills as the per-event reference; skipping changes nothing."""

from __future__ import annotations

from decimal import Decimal

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.backtest.reference import ReferenceParams, fills_digest, run_reference
from grinder.backtest.results import summarize
from grinder.core.rules import btcusdt_rules
from grinder.data import Tape
from grinder.data.tape import QUOTE, TRADE_SELL_AGGR
from tests.backtest.conftest import reference_run_configs


def run(tape: Tape, *, skip: bool, **venue: object):  # type: ignore[no-untyped-def]
    cfg = reference_run_configs(**venue)
    cfg["backtest_config"] = BacktestConfig(skip_quiet=skip, latency=False)  # REFERENCE_GRID: none
    bt = Backtest(tape, **cfg)
    return bt.run()


def engine_fills(log) -> list[tuple[int, int, int, int]]:  # type: ignore[no-untyped-def]
    return [(f.fill.time_ms, f.fill.side.sign, f.fill.price_ticks, f.fill.qty_lots) for f in log.fills]


def test_engine_fills_equal_the_reference_implementation(synth_tape: Tape) -> None:
    ref = run_reference(synth_tape)
    log = run(synth_tape, skip=True)
    assert len(ref.fills) > 10  # the data set must exercise the grid
    assert engine_fills(log) == [(f.time_ms, f.side, f.price_ticks, f.qty_lots) for f in ref.fills]
    res = summarize(synth_tape, log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    # mark-to-market PnL at the last mid, as the reference computes it (no fees)
    assert abs(res.summary["net_pnl_usdt"] - ref.mtm_ticks_lots() * 1e-4) < 1e-6
    assert res.symbols["BTCUSDT"]["final_position_qty"] == ref.position_lots / 1000
    assert log.rows_skipped > 0.9 * len(synth_tape)  # most events change nothing for a grid


def test_skipping_changes_no_command_and_no_fill(synth_tape: Tape) -> None:
    fast = run(synth_tape, skip=True)
    slow = run(synth_tape, skip=False)
    assert slow.rows_skipped == 0 and fast.rows_skipped > 0
    assert [(c.row, c.command, c.outcome) for c in fast.commands] == [
        (c.row, c.command, c.outcome) for c in slow.commands
    ]
    assert engine_fills(fast) == engine_fills(slow)
    assert fast.digest == slow.digest
    assert fast.band_breaks == 0


def test_skipping_is_exact_with_latency_and_the_queue_model(synth_tape: Tape) -> None:
    short = synth_tape.slice(30_000)
    cases = (
        {"order_latency_ms": 25, "feed_latency_ms": 10},
        {"feed_latency_ms": 50},
        {"fill_model": "queue"},
    )
    for venue in cases:
        fast = run(short, skip=True, **venue)
        slow = run(short, skip=False, **venue)
        assert fast.digest == slow.digest, venue
        assert len(fast.commands) == len(slow.commands) > 0
        assert fast.rows_processed < len(short) // 20  # in-flight work bounds the skip, not every row


def test_same_inputs_same_digest(synth_tape: Tape) -> None:
    short = synth_tape.slice(30_000)
    assert run(short, skip=True).digest == run(short, skip=True).digest


def test_reference_implementation_by_hand() -> None:
    """A tape small enough to follow: anchor 60000.0, d1 = 60.0 (600 ticks), one buy fill and its refill."""
    import numpy as np

    rows = [  # (kind, bid, ask)
        (QUOTE, 599_999, 600_001),  # mid2 = 1_200_000 -> A = 600_000, buys at 599_400.., sells 600_600..
        (QUOTE, 599_500, 599_501),
        (TRADE_SELL_AGGR, 599_400, 599_400),  # trades at the b1 price: fills the buy at 599_400
        (QUOTE, 599_450, 599_451),
    ]
    n = len(rows)
    tape = Tape(
        symbols=("BTCUSDT",),
        rules=(btcusdt_rules(),),
        time_ms=np.arange(n, dtype=np.int64) + 1,
        kind=np.array([r[0] for r in rows], np.int8),
        sym=np.zeros(n, np.int16),
        a=np.array([r[1] for r in rows], np.int32),
        b=np.array([r[2] for r in rows], np.int32),
        qa=np.ones(n, np.int32),
        qb=np.ones(n, np.int32),
        ident=np.arange(n, dtype=np.int64),
        event_ms=np.arange(n, dtype=np.int64) + 1,
        objects=[],
    )
    ref = run_reference(tape, ReferenceParams())
    assert [(f.row, f.side, f.price_ticks, f.qty_lots) for f in ref.fills] == [(2, 1, 599_400, 10)]
    assert ref.position_lots == 10 and ref.reanchors == 0
    log = run(tape, skip=True)
    assert engine_fills(log) == [(3, 1, 599_400, 10)]  # time_ms of row 2 is 3
    assert fills_digest(engine_fills(log)) == ref.fills_digest()
