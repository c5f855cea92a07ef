"""The simulator's market sink into the venue, and the order in which venue events reach the
listenKey streams."""

from __future__ import annotations

from grinder.sim.userdata import UserData
from grinder.venue import Venue


class VenueFeed:
    """`MarketSink` that feeds the venue and then pushes its user events to the listenKey streams."""

    def __init__(self, venue: Venue, user: UserData) -> None:
        self._venue, self._user = venue, user
        # Market events go straight to the venue's handlers.
        self.on_reset = venue.on_depth_snapshot
        self.on_depth = venue.on_depth_update
        self.on_book_ticker = venue.on_book_ticker
        self.on_trade = venue.on_trade
        self.on_mark_price = venue.on_mark_price

    def end_batch(self, now_ms: int, flush_all: bool) -> None:
        self._venue.advance_to(now_ms)
        publish_user_events(self._venue, self._user, now_ms)


def publish_user_events(venue: Venue, user: UserData, now_ms: int) -> None:
    """Venue events in Binance's order: ALGO_UPDATE (triggering / triggered), ORDER_TRADE_UPDATE and
    ACCOUNT_UPDATE of the orders, then ALGO_UPDATE FINISHED for triggered orders that ended."""
    user.publish_algo_updates(venue.conditional.drain_updates(), now_ms)
    user.publish(venue.drain_events(now_ms))
    user.publish_algo_updates(venue.conditional.settle(), now_ms)
