"""Order entry: types, TIFs, filters, position modes, reduce-only, limits, modify, cancel, queries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.core.commands import AmendOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import AccountUpdate, OrderUpdate
from grinder.core.rules import btcusdt_rules
from grinder.venue import Venue, VenueConfig, VenueReject
from tests.venue.builders import SYM, T0, depth, limit, make_venue, mark, market, quote

D = Decimal


def codes(v: Venue) -> list[tuple[str, str]]:
    out = []
    for ev in v.drain_events():
        if isinstance(ev, OrderUpdate):
            out.append((ev.execution_type.value, ev.status.value))
        else:
            out.append(("ACCOUNT_UPDATE", ev.reason))
    return out


def reject_code(fn: object, *args: object, **kw: object) -> int:
    with pytest.raises(VenueReject) as info:
        fn(*args, **kw)  # type: ignore[operator]
    return info.value.code


# ------------------------------------------------------------------ LIMIT / MARKET basics
def test_gtc_limit_below_the_ask_rests_and_emits_new(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 599_990, 10, "b1"), T0 + 1)
    assert o.status is OrderStatus.NEW and o.order_id == 1 and o.executed_lots == 0
    assert codes(venue) == [("NEW", "NEW")]
    assert [x.client_order_id for x in venue.open_orders(SYM)] == ["b1"]


def test_order_ids_increase_per_symbol(venue: Venue) -> None:
    a = venue.place(limit(Side.BUY, 599_990, 10, "a"), T0)
    b = venue.place(limit(Side.BUY, 599_980, 10, "b"), T0)
    quote(venue, 30_000, 30_001, T0, sym="ETHUSDT")
    e = venue.new_order(
        symbol="ETHUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=D("1"),
        price=D("299.00"),
        time_in_force=TimeInForce.GTC,
        now_ms=T0,
    )
    assert (a.order_id, b.order_id, e.order_id) == (1, 2, 1)


def test_marketable_limit_takes_at_the_touch_and_pays_taker_fee(venue: Venue) -> None:
    # L1 only: everything fills at the best ask, also beyond the displayed 1.000 (ADR-012).
    o = venue.place(limit(Side.BUY, 600_050, 1500, "t1"), T0)
    assert o.status is OrderStatus.FILLED and o.executed_lots == 1500
    assert o.avg_price == D("60000.1")
    [t] = venue.user_trades(SYM)
    assert t.price_ticks == 600_001 and not t.is_maker
    assert t.commission == (D("60000.1") * D("1.5") * D("0.0005")).quantize(D("0.00000001"))
    assert codes(venue) == [("NEW", "NEW"), ("ACCOUNT_UPDATE", "ORDER"), ("TRADE", "FILLED")]


def test_market_order_event_order_is_new_account_update_trade(venue: Venue) -> None:
    o = venue.place(market(Side.SELL, 10, "m1"), T0)
    assert o.status is OrderStatus.FILLED and o.avg_price == D("60000.0")
    evs = venue.drain_events()
    assert [type(e).__name__ for e in evs] == ["OrderUpdate", "AccountUpdate", "OrderUpdate"]
    assert isinstance(evs[1], AccountUpdate) and evs[1].positions[0].amount_lots == -10
    assert isinstance(evs[2], OrderUpdate) and evs[2].last_fill_lots == 10 and evs[2].trade_id == 1


def test_market_order_without_market_data_expires() -> None:
    v = make_venue()
    o = v.place(market(Side.BUY, 10, "m"), T0)
    assert o.status is OrderStatus.EXPIRED and o.expiry_reason == 9
    assert codes(v) == [("NEW", "NEW"), ("EXPIRED", "EXPIRED")]


def test_l2_market_order_walks_levels() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 5)], [(600_001, 3), (600_002, 4), (600_005, 10)], T0)
    o = v.place(market(Side.BUY, 10, "m"), T0)
    assert o.status is OrderStatus.FILLED
    assert [(t.price_ticks, t.qty_lots) for t in v.user_trades(SYM)] == [
        (600_001, 3),
        (600_002, 4),
        (600_005, 3),
    ]
    assert o.avg_price == (D(600_001 * 3 + 600_002 * 4 + 600_005 * 3) / 10 * D("0.1")).quantize(
        D("0.00000001")
    )
    assert v.best_bid_ask(SYM) == (600_000, 5, 600_005, 7)


def test_l2_ioc_fills_what_is_inside_its_limit_and_expires_the_rest() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 5)], [(600_001, 3), (600_002, 4), (600_005, 10)], T0)
    o = v.place(limit(Side.BUY, 600_002, 20, "i", TimeInForce.IOC), T0)
    assert o.status is OrderStatus.EXPIRED and o.executed_lots == 7 and o.expiry_reason == 2


def test_l2_gtc_remainder_rests_at_its_limit() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 5)], [(600_001, 3), (600_003, 4)], T0)
    o = v.place(limit(Side.BUY, 600_002, 20, "g"), T0)
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.executed_lots == 3
    assert v.queue_ahead(SYM, o.order_id) == 0
    assert [x.order_id for x in v.open_orders(SYM)] == [o.order_id]


# ------------------------------------------------------------------ IOC / FOK / GTX
def test_ioc_that_cannot_trade_expires(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 599_990, 10, "i", TimeInForce.IOC), T0)
    assert o.status is OrderStatus.EXPIRED and o.expiry_reason == 2
    assert codes(venue) == [("NEW", "NEW"), ("EXPIRED", "EXPIRED")]


def test_fok_not_fillable_is_rejected_and_not_recorded(venue: Venue) -> None:
    assert reject_code(venue.place, limit(Side.BUY, 599_990, 10, "f", TimeInForce.FOK), T0) == -5021
    assert reject_code(venue.get_order, symbol=SYM, client_order_id="f") == -2013
    assert venue.drain_events() == []


def test_fok_against_thin_l2_is_rejected_then_fills_when_deep_enough() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    depth(v, [(600_000, 5)], [(600_001, 3), (600_002, 4)], T0)
    assert reject_code(v.place, limit(Side.BUY, 600_002, 8, "f", TimeInForce.FOK), T0) == -5021
    o = v.place(limit(Side.BUY, 600_002, 7, "f2", TimeInForce.FOK), T0)
    assert o.status is OrderStatus.FILLED


def test_post_only_that_would_take_is_rejected(venue: Venue) -> None:
    assert reject_code(venue.place, limit(Side.BUY, 600_001, 10, "x", TimeInForce.GTX), T0) == -5022
    assert reject_code(venue.place, limit(Side.SELL, 600_000, 10, "y", TimeInForce.GTX), T0) == -5022
    o = venue.place(limit(Side.BUY, 600_000, 10, "z", TimeInForce.GTX), T0)
    assert o.status is OrderStatus.NEW


# ------------------------------------------------------------------ filters (same codes as SymbolRules)
@pytest.mark.parametrize(
    ("side", "otype", "qty", "price", "code"),
    [
        (Side.BUY, OrderType.LIMIT, "0.010", "60000.001", -1111),  # price precision first
        (Side.BUY, OrderType.LIMIT, "0.0101", "60000.0", -1111),  # qty precision
        (Side.BUY, OrderType.LIMIT, "0.010", "60000.05", -4014),  # off the tick grid
        (Side.BUY, OrderType.LIMIT, "0.010", "500.0", -4013),  # below min price
        (Side.BUY, OrderType.LIMIT, "0", "60000.0", -4003),
        (Side.BUY, OrderType.LIMIT, "2000", "60000.0", -4005),
        (Side.BUY, OrderType.LIMIT, "0.001", "60000.0", -4164),  # notional 60 < 100
        (Side.BUY, OrderType.LIMIT, "0.010", "63100.0", -4016),  # > mark × 1.05
        (Side.SELL, OrderType.LIMIT, "0.010", "56900.0", -4024),  # < mark × 0.95
        (Side.BUY, OrderType.MARKET, "121", None, -4005),  # MARKET_LOT_SIZE max 120
    ],
)
def test_filter_rejections_use_binance_codes(
    venue: Venue, side: Side, otype: OrderType, qty: str, price: str | None, code: int
) -> None:
    kw = {"time_in_force": TimeInForce.GTC} if otype is OrderType.LIMIT else {}
    got = reject_code(
        venue.new_order,
        symbol=SYM,
        side=side,
        order_type=otype,
        quantity=D(qty),
        price=None if price is None else D(price),
        now_ms=T0,
        **kw,
    )
    assert got == code


@pytest.mark.parametrize(
    ("side", "price", "lots", "code"),
    [
        (Side.BUY, 5000, 10, -4013),
        (Side.BUY, 600_000, 1, -4164),
        (Side.BUY, 631_000, 10, -4016),
        (Side.SELL, 569_000, 10, -4024),
        (Side.BUY, 600_000, 2_000_000, -4005),
        (Side.BUY, 0, 10, -4001),
    ],
)
def test_integer_fast_path_gives_the_same_codes(
    venue: Venue, side: Side, price: int, lots: int, code: int
) -> None:
    assert reject_code(venue.place, limit(side, price, lots, "c"), T0) == code


def test_reduce_only_is_exempt_from_min_notional(venue: Venue) -> None:
    venue.place(market(Side.BUY, 10, "open"), T0)
    o = venue.place(limit(Side.SELL, 600_100, 1, "ro", reduce_only=True), T0)
    assert o.status is OrderStatus.NEW


def test_market_percent_price_uses_counterparty_best() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    quote(v, 640_000, 640_001, T0)  # book far above mark × 1.05
    assert reject_code(v.place, market(Side.BUY, 10, "m"), T0) == -4131


def test_missing_mandatory_parameters(venue: Venue) -> None:
    assert (
        reject_code(
            venue.new_order,
            symbol=SYM,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=D("0.01"),
            price=D("60000"),
            now_ms=T0,
        )
        == -1102
    )
    assert (
        reject_code(
            venue.new_order,
            symbol=SYM,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            quantity=D("0.01"),
            price=D("60000"),
            now_ms=T0,
        )
        == -1106
    )
    assert (
        reject_code(
            venue.new_order,
            symbol="NOPE",
            side=Side.BUY,
            order_type=OrderType.MARKET,
            quantity=D("0.01"),
            now_ms=T0,
        )
        == -1121
    )
    assert reject_code(venue.place, limit(Side.BUY, 599_990, 10, "bad id!"), T0) == -4015


# ------------------------------------------------------------------ limits and ids
def test_max_num_orders() -> None:
    rules = btcusdt_rules()
    import dataclasses

    v = Venue(VenueConfig(), {SYM: dataclasses.replace(rules, max_num_orders=2)})
    quote(v, 600_000, 600_001, T0)
    v.place(limit(Side.BUY, 599_990, 10, "a"), T0)
    v.place(limit(Side.BUY, 599_980, 10, "b"), T0)
    assert reject_code(v.place, limit(Side.BUY, 599_970, 10, "c"), T0) == -2025


def test_duplicate_client_order_id_among_open_orders(venue: Venue) -> None:
    venue.place(limit(Side.BUY, 599_990, 10, "dup"), T0)
    assert reject_code(venue.place, limit(Side.BUY, 599_980, 10, "dup"), T0) == -4116
    venue.cancel_order(symbol=SYM, client_order_id="dup", now_ms=T0)
    again = venue.place(limit(Side.BUY, 599_980, 10, "dup"), T0)
    assert venue.get_order(symbol=SYM, client_order_id="dup").order_id == again.order_id


def test_auto_client_order_ids_are_22_alphanumerics_from_the_seed() -> None:
    ids = []
    for _ in range(2):
        v = make_venue(seed=7)
        quote(v, 600_000, 600_001, T0)
        ids.append(
            v.new_order(
                symbol=SYM,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=D("0.01"),
                price=D("59999"),
                time_in_force=TimeInForce.GTC,
                now_ms=T0,
            ).client_order_id
        )
    assert ids[0] == ids[1] and len(ids[0]) == 22 and ids[0].isalnum()


# ------------------------------------------------------------------ position modes and reduce-only
def test_position_side_must_match_mode(venue: Venue) -> None:
    assert (
        reject_code(venue.place, limit(Side.BUY, 599_990, 10, "a", position_side=PositionSide.LONG), T0)
        == -4061
    )
    venue.set_dual_side(True)
    assert reject_code(venue.place, limit(Side.BUY, 599_990, 10, "b"), T0) == -4061
    assert (
        reject_code(
            venue.place,
            limit(Side.SELL, 600_100, 10, "c", position_side=PositionSide.LONG, reduce_only=True),
            T0,
        )
        == -1106
    )


def test_hedge_mode_keeps_long_and_short_apart(venue: Venue) -> None:
    venue.set_dual_side(True)
    venue.place(market(Side.BUY, 10, "l", position_side=PositionSide.LONG), T0)
    venue.place(market(Side.SELL, 4, "s", position_side=PositionSide.SHORT), T0)
    rows = {p.position_side: p.amount_lots for p in venue.positions(SYM)}
    assert rows == {PositionSide.LONG: 10, PositionSide.SHORT: -4}
    # SELL LONG closes the long; it may not exceed it and has nothing to close on an empty side.
    venue.place(market(Side.BUY, 4, "cs", position_side=PositionSide.SHORT), T0)
    assert reject_code(venue.place, market(Side.BUY, 1, "cs2", position_side=PositionSide.SHORT), T0) == -2022


def test_reduce_only_without_position_is_rejected(venue: Venue) -> None:
    assert reject_code(venue.place, limit(Side.SELL, 600_100, 10, "r", reduce_only=True), T0) == -2022
    venue.place(market(Side.BUY, 10, "open"), T0)
    assert reject_code(venue.place, limit(Side.BUY, 599_000, 10, "r2", reduce_only=True), T0) == -2022


def test_reduce_only_fill_is_capped_and_leftover_expires(venue: Venue) -> None:
    venue.place(market(Side.BUY, 10, "open"), T0)
    ro = venue.place(limit(Side.SELL, 600_100, 30, "ro", reduce_only=True), T0)
    other = venue.place(limit(Side.SELL, 600_200, 5, "ro2", reduce_only=True), T0)
    quote(venue, 600_300, 600_301, T0 + 1)  # bid through both sells
    assert venue.get_order(symbol=SYM, order_id=ro.order_id).executed_lots == 10
    assert venue.get_order(symbol=SYM, order_id=ro.order_id).status is OrderStatus.EXPIRED
    got = venue.get_order(symbol=SYM, order_id=other.order_id)
    assert got.status is OrderStatus.EXPIRED and got.expiry_reason == 4 and got.executed_lots == 0
    assert venue.positions(SYM)[0].amount_lots == 0


def test_margin_insufficient(venue: Venue) -> None:
    # 10000 USDT × 20 = 200000 buying power; 5 BTC at 60000 = 300000 notional.
    assert reject_code(venue.place, limit(Side.BUY, 599_000, 5000, "big"), T0) == -2019
    venue.set_leverage(SYM, 125)
    assert venue.place(limit(Side.BUY, 599_000, 5000, "big"), T0).status is OrderStatus.NEW


def test_leverage_margin_type_and_mode_switch_rules(venue: Venue) -> None:
    from grinder.core.enums import MarginType

    assert reject_code(venue.set_leverage, SYM, 126) == -4028
    assert reject_code(venue.set_margin_type, SYM, MarginType.CROSSED) == -4046
    venue.place(limit(Side.BUY, 599_000, 10, "o"), T0)
    assert reject_code(venue.set_margin_type, SYM, MarginType.ISOLATED) == -4047
    assert reject_code(venue.set_dual_side, True) == -4067
    venue.cancel_all(SYM, T0)
    venue.place(market(Side.BUY, 10, "p"), T0)
    assert reject_code(venue.set_margin_type, SYM, MarginType.ISOLATED) == -4048
    assert reject_code(venue.set_dual_side, True) == -4068
    assert reject_code(venue.set_dual_side, False) == -4059


# ------------------------------------------------------------------ cancel and queries
def test_cancel_by_id_and_client_id_and_unknown(venue: Venue) -> None:
    a = venue.place(limit(Side.BUY, 599_990, 10, "a"), T0)
    venue.place(limit(Side.BUY, 599_980, 10, "b"), T0)
    assert venue.cancel_order(symbol=SYM, order_id=a.order_id, now_ms=T0).status is OrderStatus.CANCELED
    assert venue.cancel_order(symbol=SYM, client_order_id="b", now_ms=T0).status is OrderStatus.CANCELED
    assert reject_code(venue.cancel_order, symbol=SYM, order_id=a.order_id, now_ms=T0) == -2011
    assert reject_code(venue.cancel_order, symbol=SYM, order_id=999, now_ms=T0) == -2011
    assert reject_code(venue.get_order, symbol=SYM, order_id=999) == -2013
    assert [o.status for o in venue.all_orders(SYM)] == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert venue.open_orders() == []


def test_cancel_all_and_batches(venue: Venue) -> None:
    out = venue.place_batch([limit(Side.BUY, 599_990 - i, 10, f"c{i}") for i in range(5)], T0)
    assert all(not isinstance(x, VenueReject) for x in out)
    assert (
        reject_code(venue.place_batch, [limit(Side.BUY, 599_000, 10, f"d{i}") for i in range(6)], T0) == -1130
    )
    res = venue.cancel_batch(SYM, order_ids=[1, 2, 77], now_ms=T0)
    assert isinstance(res[2], VenueReject) and res[2].code == -2011
    assert len(venue.cancel_all(SYM, T0)) == 3 and venue.open_orders(SYM) == []
    mixed = venue.new_order_batch(
        [
            dict(
                symbol=SYM,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=D("0.01"),
                price=D("59000"),
                time_in_force=TimeInForce.GTC,
            ),
            dict(
                symbol=SYM,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=D("0.0001"),
                price=D("59000"),
                time_in_force=TimeInForce.GTC,
            ),
        ],
        T0,
    )
    assert isinstance(mixed[0], type(out[0])) and isinstance(mixed[1], VenueReject) and mixed[1].code == -1111


# ------------------------------------------------------------------ modify
def test_modify_price_emits_amendment_and_requeues(venue: Venue) -> None:
    o = venue.place(limit(Side.BUY, 599_990, 10, "m"), T0)
    venue.drain_events()
    quote(venue, 599_990, 600_001, T0 + 1, bid_lots=700)
    m = venue.modify_order(
        symbol=SYM, side=Side.BUY, quantity=D("0.02"), price=D("59999.0"), order_id=o.order_id, now_ms=T0 + 2
    )
    assert (m.price_ticks, m.orig_qty_lots, m.modify_count) == (599_990, 20, 1)
    assert venue.queue_ahead(SYM, o.order_id) == 700  # lost priority: behind everything displayed
    assert codes(venue) == [("AMENDMENT", "NEW")]
    assert reject_code(venue.amend, AmendOrder(SYM, "m", Side.BUY, 599_990, 20), T0) == -5027


def test_modify_errors(venue: Venue) -> None:
    venue.place(market(Side.BUY, 10, "mk"), T0)
    assert reject_code(venue.amend, AmendOrder(SYM, "mk", Side.BUY, 599_000, 10), T0) == -5025
    assert reject_code(venue.amend, AmendOrder(SYM, "nope", Side.BUY, 599_000, 10), T0) == -2013
    venue.place(limit(Side.BUY, 599_000, 10, "l"), T0)
    assert reject_code(venue.amend, AmendOrder(SYM, "l", Side.BUY, 5000, 10), T0) == -4013
    assert venue.get_order(symbol=SYM, client_order_id="l").price_ticks == 599_000  # unchanged


def test_modify_count_limit(venue: Venue) -> None:
    venue.place(limit(Side.BUY, 599_000, 10, "l"), T0)
    for i in range(10_000):
        venue.amend(AmendOrder(SYM, "l", Side.BUY, 599_000 - ((i + 1) % 2), 10), T0)
    assert reject_code(venue.amend, AmendOrder(SYM, "l", Side.BUY, 598_000, 10), T0) == -5026


def test_modify_partially_filled_down_to_executed_cancels(venue: Venue) -> None:
    from tests.venue.builders import trade

    o = venue.place(limit(Side.BUY, 600_000, 10, "p"), T0)  # behind 1000 displayed lots
    trade(venue, 600_000, 1004, T0 + 1)
    assert venue.get_order(symbol=SYM, order_id=o.order_id).executed_lots == 4
    venue.drain_events()
    out = venue.amend(AmendOrder(SYM, "p", Side.BUY, 600_000, 4), T0 + 2)
    assert out.status is OrderStatus.CANCELED
    assert codes(venue) == [("CANCELED", "CANCELED")]


def test_modify_post_only_into_the_book_cancels(venue: Venue) -> None:
    venue.place(limit(Side.BUY, 599_990, 10, "g", TimeInForce.GTX), T0)
    out = venue.amend(AmendOrder(SYM, "g", Side.BUY, 600_001, 10), T0)
    assert out.status is OrderStatus.CANCELED and venue.user_trades(SYM) == []


def test_modify_gtc_into_the_book_takes(venue: Venue) -> None:
    venue.place(limit(Side.BUY, 599_990, 10, "g"), T0)
    out = venue.amend(AmendOrder(SYM, "g", Side.BUY, 600_001, 10), T0)
    assert out.status is OrderStatus.FILLED and not venue.user_trades(SYM)[0].is_maker


def test_execution_types_cover_the_lifecycle(venue: Venue) -> None:
    venue.place(limit(Side.BUY, 599_000, 10, "a"), T0)
    venue.amend(AmendOrder(SYM, "a", Side.BUY, 599_001, 10), T0)
    venue.cancel_order(symbol=SYM, client_order_id="a", now_ms=T0)
    xs = [e.execution_type for e in venue.drain_events() if isinstance(e, OrderUpdate)]
    assert xs == [ExecutionType.NEW, ExecutionType.AMENDMENT, ExecutionType.CANCELED]
