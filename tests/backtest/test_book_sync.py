"""One book sync: the backtester's depth book is the live `LocalOrderBook`, diff for diff, on both real
captures; the venue mirrors it, never shows a crossed touch, and takers walk its levels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.backtest.config import BacktestConfig
from grinder.backtest.engine import Backtest
from grinder.binance.book import LocalOrderBook
from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate
from grinder.core.rules import btcusdt_rules
from grinder.data import Tape
from grinder.execution.config import ExecutionConfig
from grinder.risk.config import RiskConfig
from grinder.strategy.config import StrategyConfig
from grinder.venue import Venue
from grinder.venue.config import VenueConfig


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_backtest_book_equals_the_live_book_after_every_diff(capture_tape: Tape, symbol: str) -> None:
    tape = capture_tape
    bt = Backtest(
        tape,
        strategy_config=StrategyConfig(),
        risk_config=RiskConfig(),
        execution_config=ExecutionConfig(),
        venue_config=VenueConfig(),
        backtest_config=BacktestConfig(),
    )
    live = LocalOrderBook(symbol)  # fed straight from the file, as the live stream would feed it
    ours = bt.depth_book(symbol)
    market = bt.venue._markets[symbol]  # the venue's L2 levels (no orders of ours: nothing taken)
    diffs = early = crossed = 0
    sym = tape.symbol_index(symbol)
    for i in range(len(tape)):
        if tape.sym[i] != sym:
            continue
        ev = tape.event(i)
        bt._market_to_venue(ev, int(tape.clock_ms[i]))
        if isinstance(ev, DepthSnapshot):
            early = live.buffered
            live.apply_snapshot(ev)
        elif isinstance(ev, DepthUpdate):
            live.on_diff(ev)
            diffs += 1
            # every level of both sides, compared in place (LocalOrderBook.levels() copies)
            assert ours._bids.levels == live._bids.levels and ours._asks.levels == live._asks.levels, i
            assert (ours.state, ours.last_update_id) == (live.state, live.last_update_id)
            if live.is_synced:
                assert market.bids == live._bids.levels and market.asks == live._asks.levels, i
        bba = bt.venue.best_bid_ask(symbol)
        if bba is not None and bba[0] >= bba[2]:
            crossed += 1
    assert diffs > 6_000 and live.is_synced and ours.resyncs == 0
    assert ours.levels() == live.levels()
    assert early >= 2  # diffs that arrived before the snapshot were buffered and applied after it
    assert crossed == 0


_SNAP = DepthSnapshot(
    symbol="BTCUSDT",
    last_update_id=10,
    bids=((599_990, 5), (599_980, 50)),
    asks=((600_000, 1), (600_010, 2), (600_020, 30)),
    event_time_ms=1_000,
    transaction_time_ms=1_000,
)


def _l2_venue() -> Venue:
    v = Venue(VenueConfig(fill_model="queue"), {"BTCUSDT": btcusdt_rules()})
    v.on_depth_snapshot(_SNAP)
    return v


def test_market_order_walks_the_l2_levels() -> None:
    v = _l2_venue()
    v.place(PlaceOrder("BTCUSDT", Side.BUY, OrderType.MARKET, 10, "walk", None, None), 1_001)
    fills = [(t.price_ticks, t.qty_lots) for t in v.user_trades("BTCUSDT")]
    assert fills == [(600_000, 1), (600_010, 2), (600_020, 7)]  # each level at its own price
    assert v.best_bid_ask("BTCUSDT") == (599_990, 5, 600_020, 23)


def test_a_newer_ticker_hides_book_levels_through_its_touch() -> None:
    v = _l2_venue()
    # the ticker (newer than the book) says 600,000 and 600,010 are gone: the book is behind
    v.on_book_ticker(BookTicker("BTCUSDT", 599_990, 5, 600_020, 30, 11, 1_002, 1_002))
    v.place(PlaceOrder("BTCUSDT", Side.BUY, OrderType.MARKET, 3, "walk", None, None), 1_003)
    assert [(t.price_ticks, t.qty_lots) for t in v.user_trades("BTCUSDT")] == [(600_020, 3)]
    # an older diff does not take the touch back from the newer ticker
    v.on_depth_update(DepthUpdate("BTCUSDT", 11, 11, 10, ((599_995, 1),), (), 1_001, 1_001))
    bid, _, ask, _ = v.best_bid_ask("BTCUSDT")  # type: ignore[misc]
    assert (bid, ask) == (599_990, 600_020) and bid < ask


def test_limit_buy_through_the_touch_takes_up_to_its_price_then_rests() -> None:
    v = _l2_venue()
    cmd = PlaceOrder("BTCUSDT", Side.BUY, OrderType.LIMIT, 10, "lim", 600_010, TimeInForce.GTC)
    v.place(cmd, 1_001)
    assert [(t.price_ticks, t.qty_lots) for t in v.user_trades("BTCUSDT")] == [(600_000, 1), (600_010, 2)]
    [rest] = v.open_orders("BTCUSDT")
    assert rest.executed_lots == 3 and rest.price_ticks == 600_010
    assert Decimal(rest.cum_quote) > 0


def test_the_venue_reads_the_sync_book_and_copies_it_before_a_taker_walk() -> None:
    """ADR-320: the venue reads the live book's levels (no copy per diff), and its own taker fills
    never write into that book: the walk takes a private copy, which then follows the diffs itself."""
    v = Venue(VenueConfig(fill_model="queue"), {"BTCUSDT": btcusdt_rules()})
    book = LocalOrderBook("BTCUSDT", on_apply=lambda c: _mirror(v, book, c))
    book.apply_snapshot(_SNAP)
    market = v._markets["BTCUSDT"]
    assert market.bids is book.sides()[0].levels and market.asks is book.sides()[1].levels
    book.on_diff(DepthUpdate("BTCUSDT", 9, 11, 8, ((599_995, 4),), ((600_000, 0),), 1_001, 1_001))
    assert v.best_bid_ask("BTCUSDT") == (599_995, 4, 600_010, 2)  # the book's new touch, read in place
    v.place(PlaceOrder("BTCUSDT", Side.BUY, OrderType.MARKET, 3, "walk", None, None), 1_002)
    assert [(t.price_ticks, t.qty_lots) for t in v.user_trades("BTCUSDT")] == [(600_010, 2), (600_020, 1)]
    assert book.levels()[1] == {600_010: 2, 600_020: 30}  # the exchange's book is not ours to take from
    assert market.asks == {600_020: 29}
    book.on_diff(DepthUpdate("BTCUSDT", 12, 12, 11, ((599_995, 0),), ((600_015, 6),), 1_003, 1_003))
    assert market.asks == {600_015: 6, 600_020: 29} and market.bids == book.levels()[0]
    assert v.best_bid_ask("BTCUSDT") == (599_990, 5, 600_015, 6)


def _mirror(v: Venue, book: LocalOrderBook, change: DepthSnapshot | DepthUpdate) -> None:
    if isinstance(change, DepthSnapshot):
        v.on_depth_snapshot(change, shared=book.sides())
    else:
        v.on_depth_update(change)
