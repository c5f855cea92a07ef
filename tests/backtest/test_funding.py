"""Funding is settled by the venue at the funding time and shows up in the backtest's PnL split."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from grinder.backtest.engine import Backtest
from grinder.backtest.results import summarize
from grinder.core.events import MarkPrice
from grinder.core.rules import btcusdt_rules
from grinder.data.tape import OTHER, QUOTE, TRADE_SELL_AGGR, Tape
from tests.backtest.conftest import reference_run_configs

T0 = 1_704_081_000_000  # 2024-01-01 03:50 UTC
FUNDING_AT = 1_704_081_600_000  # 04:00 UTC


def test_funding_is_paid_by_a_long_position_and_counted() -> None:
    rate = Decimal("0.0001")
    mark = MarkPrice("BTCUSDT", Decimal("59950"), Decimal("59950"), rate, FUNDING_AT, T0 + 3)
    rows = [  # (kind, bid, ask, time)
        (QUOTE, 599_999, 600_001, T0),  # anchor 60000.0: buys at 59940.0, 59880.0, ...
        (TRADE_SELL_AGGR, 599_400, 599_400, T0 + 2),  # fills b1: long 0.01 BTC
        (OTHER, 0, 0, T0 + 3),  # mark price with the funding rate and the next funding time
        (QUOTE, 599_500, 599_501, FUNDING_AT - 1),
        (QUOTE, 599_500, 599_501, FUNDING_AT + 5),  # the funding settles before this event
        (QUOTE, 599_501, 599_502, FUNDING_AT + 9),
    ]
    n = len(rows)
    tape = Tape(
        symbols=("BTCUSDT",),
        rules=(btcusdt_rules(),),
        time_ms=np.array([r[3] for r in rows], np.int64),
        kind=np.array([r[0] for r in rows], np.int8),
        sym=np.zeros(n, np.int16),
        a=np.array([r[1] for r in rows], np.int32),
        b=np.array([r[2] for r in rows], np.int32),
        qa=np.ones(n, np.int32),
        qb=np.ones(n, np.int32),
        ident=np.array([0, 1, 0, 3, 4, 5], np.int64),
        event_ms=np.array([r[3] for r in rows], np.int64),
        objects=[mark],
    )
    bt = Backtest(tape, **reference_run_configs())
    log = bt.run()
    assert [(f.fill.side.sign, f.fill.price_ticks, f.fill.qty_lots) for f in log.fills] == [(1, 599_400, 10)]
    # long 0.010 BTC x mark 59950 x 0.0001 = 0.05995 USDT paid
    assert [(t, s, a) for t, s, a in log.funding] == [(FUNDING_AT, "BTCUSDT", Decimal("-0.05995000"))]
    res = summarize(tape, log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    assert Decimal(res.summary["funding_usdt"]) == Decimal("-0.05995")
    # net = realized - fees + funding + unrealized, at the last mid 59950.15
    unreal = 0.01 * (59950.15 - 59940.0)
    assert abs(res.summary["net_pnl_usdt"] - (unreal - 0.05995)) < 1e-6  # float curve on a 1e9 balance
