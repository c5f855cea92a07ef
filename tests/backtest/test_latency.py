"""Latency and atomicity: an order placed inside a recorded taker sweep is not filled by the rest of it.

ETH trades 4308078835-845 of the real capture are one sweep (one buy aggressor, one trade time):
the ladder of prints 2681.48 .. 2681.54. An order placed after print 843 could not have been in
the book while the matching engine ran that sweep, so prints 844-845 must not fill it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest, latency_model
from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, Side, TimeInForce
from grinder.core.events import BookTicker, Trade
from grinder.data import Tape
from grinder.data.tape import TRADE_BUY_AGGR
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue import Venue
from grinder.venue.config import VenueConfig

SWEEP = range(4308078835, 4308078846)
PLACED_AFTER = 4308078843
SWEEP_PRICE = 268154  # prints 844 and 845: 2681.54


def _trade_row(tape: Tape, trade_id: int) -> int:
    eth = tape.symbol_index("ETHUSDT")
    rows = [
        i
        for i in range(len(tape))
        if tape.ident[i] == trade_id and tape.sym[i] == eth and tape.kind[i] == TRADE_BUY_AGGR
    ]
    assert len(rows) == 1, rows
    return rows[0]


def _replay_sell_inside_sweep(tape: Tape, venue_config: VenueConfig, price_ticks: int) -> tuple[Venue, int]:
    """ETH quotes and trades up to print 843, a resting sell at `price_ticks`, then the rest of the sweep
    and on to print 847. Returns the venue and the lots filled by the end of the sweep (print 845)."""
    venue = Venue(venue_config, {"ETHUSDT": tape.rules[tape.symbol_index("ETHUSDT")]})
    end = _trade_row(tape, 4308078847)
    filled_by_sweep = -1
    for i in range(end + 1):
        ev = tape.event(i)
        if getattr(ev, "symbol", "") != "ETHUSDT":
            continue
        if isinstance(ev, BookTicker):
            venue.on_book_ticker(ev)
        elif isinstance(ev, Trade):
            venue.on_trade(ev)
            if ev.trade_id == PLACED_AFTER:
                cmd = PlaceOrder(
                    "ETHUSDT", Side.SELL, OrderType.LIMIT, 10, "sweep_probe", price_ticks, TimeInForce.GTC
                )
                venue.place(cmd, ev.trade_time_ms)
                assert venue.open_orders("ETHUSDT"), "the probe must rest (it is above the ask)"
            if ev.trade_id == SWEEP[-1]:
                filled_by_sweep = venue.get_order(symbol="ETHUSDT", client_order_id="sweep_probe").executed_lots
    return venue, filled_by_sweep


def test_the_capture_holds_one_sweep(capture_tape: Tape) -> None:
    rows = [_trade_row(capture_tape, t) for t in SWEEP]
    assert len({int(capture_tape.time_ms[r]) for r in rows}) == 1  # one trade time
    assert int(capture_tape.a[_trade_row(capture_tape, 4308078844)]) == SWEEP_PRICE


@pytest.mark.parametrize("fill_model", ["touch", "queue"])
def test_order_placed_inside_a_sweep_is_not_filled_by_the_rest_of_it(capture_tape: Tape, fill_model: str) -> None:
    # zero latency: only the atomicity rule stands between the probe and prints 844-845.
    # touch: a sell at 2681.54 is reached by print 844 at 2681.54; queue: a sell one tick lower is
    # traded through by it.
    price = SWEEP_PRICE if fill_model == "touch" else SWEEP_PRICE - 1
    venue, filled_by_sweep = _replay_sell_inside_sweep(capture_tape, VenueConfig(fill_model=fill_model), price)
    assert filled_by_sweep == 0
    # later events are new matches: they fill it (touch: trade 846 at 2681.54, 51 ms later; queue: the
    # book after the sweep bids 2681.53, at the probe's price)
    assert venue.get_order(symbol="ETHUSDT", client_order_id="sweep_probe").status is OrderStatus.FILLED


def test_without_the_rule_the_sweep_would_fill_it(capture_tape: Tape) -> None:
    """The probe is genuinely inside the sweep: placed one print earlier (before 843) it is filled by it."""
    venue = Venue(VenueConfig(fill_model="touch"), {"ETHUSDT": capture_tape.rules[1]})
    first = _trade_row(capture_tape, SWEEP[0])
    for i in range(first):
        ev = capture_tape.event(i)
        if getattr(ev, "symbol", "") == "ETHUSDT" and isinstance(ev, BookTicker | Trade):
            venue.on_book_ticker(ev) if isinstance(ev, BookTicker) else venue.on_trade(ev)
    cmd = PlaceOrder("ETHUSDT", Side.SELL, OrderType.LIMIT, 10, "before_sweep", SWEEP_PRICE, TimeInForce.GTC)
    venue.place(cmd, int(capture_tape.time_ms[first]) - 1)
    for t in SWEEP:
        ev = capture_tape.event(_trade_row(capture_tape, t))
        assert isinstance(ev, Trade)
        venue.on_trade(ev)
    trades = venue.user_trades("ETHUSDT")
    assert [t.time_ms for t in trades] == [int(capture_tape.time_ms[first])]


def test_latency_model_is_on_by_default_with_feed_latency_from_the_data(capture_tape: Tape) -> None:
    assert capture_tape.feed_latency_ms == 3  # median receive delay above the fastest message
    venue, note = latency_model(BacktestConfig(), VenueConfig(), capture_tape)
    assert (venue.order_latency_ms, venue.feed_latency_ms) == (23, 3)
    assert note["market_feed_source"] == "data (local receive time - exchange time)"
    explicit, _ = latency_model(BacktestConfig(), VenueConfig(order_latency_ms=7), capture_tape)
    assert explicit.order_latency_ms == 7  # an explicit venue latency wins
    off, note = latency_model(BacktestConfig(latency=False), VenueConfig(), capture_tape)
    assert (off.order_latency_ms, off.feed_latency_ms, note["model"]) == (0, 0, "off")


def test_backtest_orders_reach_the_venue_after_the_latency(capture_tape: Tape) -> None:
    tape = capture_tape.slice(20_000)
    bt = Backtest(
        tape,
        strategy_config=StrategyConfig(),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(initial_balance=Decimal("10000")),
    )
    log = bt.run()
    assert log.latency["order_latency_ms"] == 23
    placed = [c for c in log.commands if isinstance(c.command, PlaceOrder) and c.outcome == "accepted"]
    assert placed
    first = placed[0]
    view = bt.venue.get_order(symbol=first.command.symbol, client_order_id=first.command.client_order_id)
    assert view.time_ms == first.time_ms + 23  # accepted by the matching engine 23 ms after it was sent
