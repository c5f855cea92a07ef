"""Maker fills: the queue-position model (ADR-011) and the REFERENCE_GRID touch model."""

from __future__ import annotations

from grinder.core.enums import OrderStatus, Side, TimeInForce
from grinder.core.events import DepthUpdate
from grinder.venue import Venue
from tests.venue.builders import SYM, T0, depth, limit, make_venue, mark, quote, trade


def executed(v: Venue, order_id: int) -> int:
    return v.get_order(symbol=SYM, order_id=order_id).executed_lots


# ------------------------------------------------------------------ queue model, L1
def test_join_behind_displayed_quantity_and_trades_consume_queue_first(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 600_000, 10, "q"), T0)  # bid 600000 shows 1000 lots
    assert venue.queue_ahead(SYM, o.order_id) == 1000
    trade(venue, 600_000, 600, T0 + 1)
    assert venue.queue_ahead(SYM, o.order_id) == 400 and executed(venue, o.order_id) == 0
    trade(venue, 600_000, 404, T0 + 2)
    assert venue.queue_ahead(SYM, o.order_id) == 0 and executed(venue, o.order_id) == 4
    t = venue.user_trades(SYM)[-1]
    assert t.is_maker and t.price_ticks == 600_000
    trade(venue, 600_000, 50, T0 + 3)
    assert venue.get_order(symbol=SYM, order_id=o.order_id).status is OrderStatus.FILLED


def test_buyer_aggressor_trades_do_not_fill_resting_buys_at_the_level(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 600_000, 10, "q"), T0)
    trade(venue, 600_000, 5000, T0 + 1, seller_aggressor=False)
    assert executed(venue, o.order_id) == 0 and venue.queue_ahead(SYM, o.order_id) == 1000


def test_trade_through_the_level_fills_completely_at_our_price(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 599_990, 10, "q"), T0)
    trade(venue, 599_980, 1, T0 + 1)
    got = venue.get_order(symbol=SYM, order_id=o.order_id)
    assert got.status is OrderStatus.FILLED and got.avg_price == venue.rules(SYM).ticks_to_price(599_990)


def test_quote_through_the_level_fills_and_sell_side_mirrors(venue: Venue) -> None:
    b = venue.place(limit(Side.BUY, 599_990, 10, "b"), T0)
    s = venue.place(limit(Side.SELL, 600_020, 10, "s"), T0)
    quote(venue, 599_980, 599_990, T0 + 1)  # ask reaches our buy
    assert executed(venue, b.order_id) == 10 and executed(venue, s.order_id) == 0
    quote(venue, 600_020, 600_021, T0 + 2)  # bid reaches our sell
    assert executed(venue, s.order_id) == 10


def test_displayed_decrease_shrinks_queue_in_proportion(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 600_000, 10, "q"), T0)  # 1000 displayed, we are last
    trade(venue, 600_000, 200, T0 + 1)  # ahead 800; the next quote shows the trade's effect
    quote(venue, 600_000, 600_001, T0 + 2, bid_lots=800)
    assert venue.queue_ahead(SYM, o.order_id) == 800  # trade already counted, no double count
    quote(venue, 600_000, 600_001, T0 + 3, bid_lots=400)  # 400 cancelled out of 800: half the queue left
    assert venue.queue_ahead(SYM, o.order_id) == 400
    quote(venue, 600_000, 600_001, T0 + 4, bid_lots=900)  # growth joins behind us
    assert venue.queue_ahead(SYM, o.order_id) == 400
    quote(venue, 599_990, 600_001, T0 + 5)  # everyone at our price left: we are the best bid
    assert venue.queue_ahead(SYM, o.order_id) == 0


def test_order_behind_the_touch_learns_its_queue_when_the_level_shows(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 599_990, 10, "q"), T0)
    assert venue.queue_ahead(SYM, o.order_id) is None
    trade(venue, 599_990, 5000, T0 + 1)  # unknown queue: a trade at the level is assumed to be ahead
    assert executed(venue, o.order_id) == 0
    quote(venue, 599_990, 600_000, T0 + 2, bid_lots=300)
    assert venue.queue_ahead(SYM, o.order_id) == 300


def test_improving_the_bid_puts_us_first(venue: Venue) -> None:
    quote(venue, 599_990, 600_010, T0)
    o = venue.place(limit(Side.BUY, 600_000, 10, "q"), T0)
    assert venue.queue_ahead(SYM, o.order_id) == 0
    trade(venue, 600_000, 3, T0 + 1)
    assert executed(venue, o.order_id) == 3


def test_our_orders_at_one_level_fill_in_time_priority(venue: Venue) -> None:
    a = venue.place(limit(Side.BUY, 600_000, 10, "a"), T0)
    b = venue.place(limit(Side.BUY, 600_000, 10, "b"), T0)
    trade(venue, 600_000, 1015, T0 + 1)
    assert (executed(venue, a.order_id), executed(venue, b.order_id)) == (10, 5)


def test_own_crossing_orders_never_match_each_other(venue: Venue) -> None:
    quote(venue, 599_990, 600_010, T0)
    b = venue.place(limit(Side.BUY, 600_000, 10, "b"), T0)
    s = venue.place(limit(Side.SELL, 600_000, 10, "s"), T0)
    assert executed(venue, b.order_id) == executed(venue, s.order_id) == 0
    assert venue.user_trades(SYM) == []


# ------------------------------------------------------------------ queue model, L2
def test_l2_queue_starts_at_level_size_and_decreases_proportionally() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 100), (599_990, 500)], [(600_001, 100)], T0)
    o = v.place(limit(Side.BUY, 599_990, 10, "q"), T0)
    assert v.queue_ahead(SYM, o.order_id) == 500
    v.on_depth_update(DepthUpdate(SYM, 2, 2, 1, ((599_990, 250),), (), T0 + 1, T0 + 1))
    assert v.queue_ahead(SYM, o.order_id) == 250
    v.on_depth_update(DepthUpdate(SYM, 3, 3, 2, ((599_990, 0),), (), T0 + 2, T0 + 2))
    assert v.queue_ahead(SYM, o.order_id) == 0


def test_l2_depth_taken_by_our_taker_order_is_not_offered_twice() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 100)], [(600_001, 5), (600_002, 5)], T0)
    v.place(limit(Side.BUY, 600_001, 5, "a", TimeInForce.IOC), T0)
    second = v.place(limit(Side.BUY, 600_001, 5, "b", TimeInForce.IOC), T0)
    assert second.executed_lots == 0 and second.status is OrderStatus.EXPIRED


# ------------------------------------------------------------------ touch model (REFERENCE_GRID)
def test_touch_model_fills_fully_at_the_limit_when_quote_or_trade_touches() -> None:
    v = make_venue(fill_model="touch")
    quote(v, 600_000, 600_001, T0)
    b = v.place(limit(Side.BUY, 599_990, 10, "b"), T0)
    s = v.place(limit(Side.SELL, 600_010, 10, "s"), T0)
    quote(v, 599_991, 599_992, T0 + 1)
    assert executed(v, b.order_id) == 0
    trade(v, 599_990, 1, T0 + 2)  # trade price <= buy: full fill, no queue, no volume limit
    got = v.get_order(symbol=SYM, order_id=b.order_id)
    assert got.status is OrderStatus.FILLED and got.avg_price == v.rules(SYM).ticks_to_price(599_990)
    quote(v, 600_010, 600_011, T0 + 3)  # bid >= sell
    assert executed(v, s.order_id) == 10
    assert all(t.is_maker for t in v.user_trades(SYM))


def test_touch_model_order_placed_at_event_i_rests_from_event_i_plus_1() -> None:
    v = make_venue(fill_model="touch")
    quote(v, 600_000, 600_001, T0)
    trade(v, 599_990, 1, T0 + 1)
    b = v.place(limit(Side.BUY, 599_990, 10, "b"), T0 + 1)  # placed after the trade that touched 599_990
    assert executed(v, b.order_id) == 0
    trade(v, 599_990, 1, T0 + 2)
    assert executed(v, b.order_id) == 10


def test_l2_snapshot_without_our_level_empties_the_queue_ahead() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 100), (599_990, 500)], [(600_001, 100)], T0)
    o = v.place(limit(Side.BUY, 599_990, 10, "q"), T0)
    depth(v, [(600_000, 100), (599_980, 500)], [(600_001, 100)], T0 + 1)
    assert v.queue_ahead(SYM, o.order_id) == 0


def test_l2_trade_at_level_after_cancellations() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 100)], [(600_001, 100)], T0)
    o = v.place(limit(Side.BUY, 600_000, 10, "q"), T0)
    v.on_depth_update(DepthUpdate(SYM, 2, 2, 1, ((600_000, 40),), (), T0 + 1, T0 + 1))  # 60 % cancelled
    assert v.queue_ahead(SYM, o.order_id) == 40
    trade(v, 600_000, 45, T0 + 2)
    assert executed(v, o.order_id) == 5
