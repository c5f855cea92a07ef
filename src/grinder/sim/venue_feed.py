"""The simulator's market sink into the venue, and the order in which venue events reach the
listenKey streams."""

from __future__ import annotations

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.sim.userdata import UserData
from grinder.venue import Venue


class VenueFeed:
    """`MarketSink` that feeds the venue and then pushes its user events to the listenKey streams."""

    def __init__(self, venue: Venue, user: UserData) -> None:
        self._venue = venue
        self._user = user

    def on_reset(self, snapshot: DepthSnapshot) -> None:
        self._venue.on_depth_snapshot(snapshot)

    def on_depth(self, update: DepthUpdate) -> None:
        self._venue.on_depth_update(update)

    def on_book_ticker(self, ticker: BookTicker) -> None:
        self._venue.on_book_ticker(ticker)

    def on_trade(self, trade: Trade) -> None:
        self._venue.on_trade(trade)

    def on_mark_price(self, mark: MarkPrice) -> None:
        self._venue.on_mark_price(mark)

    def end_batch(self, now_ms: int, flush_all: bool) -> None:
        self._venue.advance_to(now_ms)
        publish_user_events(self._venue, self._user, now_ms)


def publish_user_events(venue: Venue, user: UserData, now_ms: int) -> None:
    """Venue events in Binance's order: ALGO_UPDATE (triggering / triggered), ORDER_TRADE_UPDATE and
    ACCOUNT_UPDATE of the orders, then ALGO_UPDATE FINISHED for triggered orders that ended."""
    user.publish_algo_updates(venue.conditional.drain_updates(), now_ms)
    user.publish(venue.drain_events(now_ms))
    user.publish_algo_updates(venue.conditional.settle(), now_ms)
