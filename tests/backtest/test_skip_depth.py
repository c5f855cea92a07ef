"""Skips pass over depth diffs (ADR-291): each diff is processed in full in its place, and a diff that
changes anything (here: the L2 book, newer than the ticker, runs through our buys) ends the skip there.
The skipping run must equal the per-event run (`--no-skip`)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest, RunLog
from grinder.core.events import DepthUpdate
from grinder.data import Tape, load_tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue.config import VenueConfig

T0 = 1_723_161_256_000
CROSS_MS = T0 + 6_000  # the diff that empties the book around the mid and leaves a low ask


def write_capture(path: Path) -> None:
    """ETHUSDT: a depth snapshot, a book ticker every 10 ms at 2681.62 / 2681.63, a trade every 50 ms,
    a harmless depth diff every 100 ms, and at CROSS_MS a diff after which the L2 book is 1000 / 1500."""
    lines: list[tuple[int, dict[str, object]]] = []
    uid = 100
    snapshot = {"lastUpdateId": uid, "E": T0, "T": T0, "bids": [["2681.62", "5.000"], ["2680.00", "5.000"]],
                "asks": [["2681.63", "5.000"], ["2683.00", "5.000"]]}
    lines.append((T0, snapshot))

    def diff(t: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        nonlocal uid  # the first diff spans the snapshot's id, each later one follows on (pu = last u)
        data = {"e": "depthUpdate", "E": t, "T": t, "s": "ETHUSDT", "U": uid, "u": uid + 1, "pu": uid - 1,
                "b": bids, "a": asks}
        uid += 2
        lines.append((t, {"stream": "ethusdt@depth@0ms", "data": data}))

    diff(T0 + 1, [["2681.62", "5.000"]], [])
    seq = 1
    for t in range(T0 + 10, T0 + 12_000, 10):
        seq += 1
        ticker = {"e": "bookTicker", "u": 10_000 + seq, "s": "ETHUSDT", "b": "2681.62", "B": "1.000",
                  "a": "2681.63", "A": "1.000", "T": t, "E": t}
        lines.append((t, {"stream": "ethusdt@bookTicker", "data": ticker}))
        if t % 50 == 0:
            sell = t % 100 == 0  # aggressors alternate: no one-sided flow
            trade = {"e": "trade", "E": t, "T": t, "s": "ETHUSDT", "t": 500 + seq,
                     "p": "2681.62" if sell else "2681.63", "q": "0.010", "X": "MARKET", "m": sell}
            lines.append((t, {"stream": "ethusdt@trade", "data": trade}))
        if t == CROSS_MS:
            diff(t, [["2681.62", "0.000"], ["2680.00", "0.000"], ["1000.00", "1.000"]],
                 [["2681.63", "0.000"], ["2683.00", "0.000"], ["1500.00", "1.000"]])
        elif t % 100 == 5 or t % 100 == 0:
            diff(t, [["2680.00", str(4 + (t // 100) % 3) + ".000"]], [])
    with gzip.open(path, "wt") as f:
        for t, msg in lines:
            f.write(f"{(t + 3) * 1_000_000} {json.dumps(msg, separators=(',', ':'))}\n")


def run(tape: Tape, skip: bool, feed_latency_ms: int = -1) -> RunLog:
    return Backtest(
        tape,
        strategy_config=StrategyConfig(),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(skip_quiet=skip, feed_latency_ms=feed_latency_ms),
    ).run()


# feed latency from the data (3 ms: the fill reaches the pipeline on a later row) and 0 (the fill
# reaches it at the diff, and the pipeline plans on that diff: it must see it as per event)
@pytest.mark.parametrize("feed_latency_ms", [-1, 0])
def test_a_depth_diff_inside_a_skip_that_fills_our_buys_ends_the_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feed_latency_ms: int
) -> None:
    path = tmp_path / "ethusdt_synthetic.gz"
    write_capture(path)
    tape = load_tape([path])
    ended: list[tuple[int, int]] = []  # (row the skip stopped after, row it was meant to reach)
    skip = Backtest._skip

    def watched(bt: Backtest, start: int, stop: int) -> int:
        went = skip(bt, start, stop)
        if went < stop:
            ended.append((went - 1, stop))
        return went

    monkeypatch.setattr(Backtest, "_skip", watched)
    fast = run(tape, skip=True, feed_latency_ms=feed_latency_ms)
    monkeypatch.undo()
    slow = run(tape, skip=False, feed_latency_ms=feed_latency_ms)
    assert (fast.digest, fast.commands, fast.fills, fast.blocked) == (
        slow.digest, slow.commands, slow.fills, slow.blocked
    )
    cross = next(i for i in range(len(tape)) if isinstance(ev := tape.event(i), DepthUpdate)
                 and ev.transaction_time_ms == CROSS_MS)
    assert ended and ended[0][0] == cross  # the skip over it stopped right after it
    assert fast.fills and all(f.fill.side.value == "BUY" for f in fast.fills)
    if feed_latency_ms == 0:
        assert fast.fills[0].row == cross and cross in {c.row for c in fast.commands}
    diffs = int(sum(isinstance(tape.event(i), DepthUpdate) for i in range(len(tape))))
    assert fast.rows_processed < diffs + len(tape) // 5 < slow.rows_processed  # diffs were crossed
