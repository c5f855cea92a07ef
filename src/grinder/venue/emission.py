"""User-data emission: the ORDER_TRADE_UPDATE / ACCOUNT_UPDATE events the venue produces, held in
emission order until drained (and, with `feed_latency_ms`, until the feed would have delivered them)."""

from __future__ import annotations

from grinder.core.enums import ExecutionType
from grinder.core.events import AccountUpdate, OrderUpdate
from grinder.venue.book import MarketState
from grinder.venue.orders import Order, order_update

UserEvent = OrderUpdate | AccountUpdate


class UserEvents:
    """The user-data stream being built: `pending` events, oldest first."""

    __slots__ = ("asset", "feed_latency_ms", "markets", "pending")

    def __init__(self, markets: dict[str, MarketState], asset: str, feed_latency_ms: int) -> None:
        self.markets = markets
        self.asset = asset
        self.feed_latency_ms = feed_latency_ms
        self.pending: list[UserEvent] = []

    def emit_order(self, o: Order, x: ExecutionType, t: int) -> None:
        rules = self.markets[o.symbol].rules
        self.pending.append(order_update(o, x, t, rules, self.asset, expiry_reason=o.expiry_reason))

    def drain(self, now_ms: int | None = None) -> list[OrderUpdate | AccountUpdate]:
        """User-data events since the last drain, in emission order. With `feed_latency_ms` > 0 and
        `now_ms` given, only events with E + latency ≤ now_ms are released (the rest stay queued)."""
        lat = self.feed_latency_ms
        if lat <= 0 or now_ms is None:
            out, self.pending = self.pending, []
            return out
        cut = 0
        for ev in self.pending:
            if ev.event_time_ms + lat > now_ms:
                break
            cut += 1
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out

    def next_release_ms(self) -> int | None:
        """When `drain_events` will next release something held back by `feed_latency_ms` (None: nothing
        held). Events leave in emission order, so that is the first held event's E + latency."""
        if not self.pending:
            return None
        return self.pending[0].event_time_ms + self.feed_latency_ms
