"""Property tests: invariants that hold after any sequence of market events and commands."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grinder.core.commands import AmendOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.events import DepthUpdate
from grinder.venue import Venue, VenueReject
from tests.venue.builders import SYM, T0, limit, make_venue, mark, market, quote, trade

MID = 600_000
H8 = 8 * 3_600_000

quote_action = st.tuples(
    st.just("quote"), st.integers(-30, 30), st.integers(1, 4), st.integers(1, 800), st.integers(1, 800)
)
trade_action = st.tuples(
    st.just("trade"), st.integers(-30, 30), st.integers(1, 600), st.booleans(), st.just(0)
)
order_action = st.tuples(
    st.just("order"),
    st.integers(-30, 30),
    st.integers(1, 60),
    st.sampled_from(["GTC", "IOC", "FOK", "GTX", "MKT"]),
    st.tuples(st.booleans(), st.booleans()),
)
cancel_action = st.tuples(st.just("cancel"), st.integers(1, 40), st.just(0), st.just(0), st.just(0))
amend_action = st.tuples(
    st.just("amend"), st.integers(1, 40), st.integers(-10, 10), st.integers(1, 60), st.just(0)
)
depth_action = st.tuples(
    st.just("depth"), st.integers(-30, 30), st.integers(0, 800), st.booleans(), st.just(0)
)
funding_action = st.tuples(st.just("funding"), st.integers(-20, 20), st.just(0), st.just(0), st.just(0))
actions = st.lists(
    st.one_of(
        quote_action,
        quote_action,
        trade_action,
        trade_action,
        order_action,
        order_action,
        cancel_action,
        amend_action,
        depth_action,
        funding_action,
    ),
    min_size=1,
    max_size=80,
)


def run(v: Venue, script: list[tuple[object, ...]]) -> dict[int, tuple[int, Side, TimeInForce | None]]:
    """Drive the venue; return order_id → (limit price, side, tif) of accepted orders."""
    t = T0 + 1
    mid = MID
    placed: dict[int, tuple[int, Side, TimeInForce | None]] = {}
    mark(v, "60000", T0, rate="0.0003", next_funding=T0 + H8)
    quote(v, MID, MID + 1, T0)
    for n, (kind, a, b, c, d) in enumerate(script):
        t += 1
        try:
            if kind == "quote":
                mid = MID + int(a)  # type: ignore[call-overload]
                quote(v, mid, mid + int(b), t, int(c), int(d))  # type: ignore[call-overload]
            elif kind == "trade":
                trade(v, MID + int(a), int(b), t, seller_aggressor=bool(c))  # type: ignore[call-overload]
            elif kind == "depth":
                px = MID + int(a)  # type: ignore[call-overload]
                level = ((px, int(b)),)  # type: ignore[call-overload]
                v.on_depth_update(DepthUpdate(SYM, n, n, n - 1, level if c else (), () if c else level, t, t))
            elif kind == "funding":
                t += H8
                mark(v, str(Decimal(MID + int(a)) / 10), t, rate="-0.0002", next_funding=t + H8)  # type: ignore[call-overload]
            elif kind == "order":
                side = Side.BUY if d[0] else Side.SELL  # type: ignore[index]
                reduce_only = bool(d[1])  # type: ignore[index]
                if c == "MKT":
                    o = v.place(market(side, int(b), f"o{n}", reduce_only=reduce_only), t)  # type: ignore[call-overload]
                    placed[o.order_id] = (0, side, None)
                else:
                    px = mid + int(a)  # type: ignore[call-overload]
                    tif = TimeInForce(c)
                    o = v.place(limit(side, px, int(b), f"o{n}", tif, reduce_only=reduce_only), t)  # type: ignore[call-overload]
                    placed[o.order_id] = (px, side, tif)
            elif kind == "cancel":
                v.cancel_order(symbol=SYM, order_id=int(a), now_ms=t)  # type: ignore[call-overload]
            elif kind == "amend":
                o = v.get_order(symbol=SYM, order_id=int(a))  # type: ignore[call-overload]
                new_px = o.price_ticks + int(b)  # type: ignore[call-overload]
                v.amend(AmendOrder(SYM, o.client_order_id, o.side, new_px, int(c)), t)  # type: ignore[call-overload]
                if o.order_type is OrderType.LIMIT:
                    placed[o.order_id] = (new_px, o.side, o.time_in_force)
        except VenueReject:
            pass
        check_queue(v)
    return placed


def check_queue(v: Venue) -> None:
    for o in v.open_orders(SYM):
        ahead = v.queue_ahead(SYM, o.order_id)
        assert ahead is None or ahead >= 0
    check_margin_sums(v)


def check_margin_sums(v: Venue) -> None:
    """The running open-order margin sums equal a scan over the open orders (white box)."""
    for m in v._markets.values():
        limits = [o for o in m.open_by_cid.values() if o.otype is OrderType.LIMIT]
        buys = [o for o in limits if o.sign > 0]
        sells = [o for o in limits if o.sign < 0]
        assert m.im_buy_lots == sum(o.remaining for o in buys)
        assert m.im_buy_units == sum(o.price * o.remaining for o in buys)
        assert m.im_sell_lots == sum(o.remaining for o in sells)
        assert m.im_sell_units == sum(o.price * o.remaining for o in sells)
        assert m.im_open_units == sum(o.price * o.remaining for o in limits if not o.closing)
        assert m.im_other == len(m.open_by_cid) - len(limits)
        fast, scan = v.ledger.open_order_im(m), v.ledger.open_order_im_scan(m)
        assert fast == scan and str(fast) == str(scan)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=actions, model=st.sampled_from(["queue", "touch"]))
def test_account_and_fill_invariants(script: list[tuple[object, ...]], model: str) -> None:
    v = make_venue(fill_model=model, initial_balance=Decimal(1_000_000))
    placed = run(v, script)
    trades = v.user_trades(SYM)
    # Position = signed sum of fills.
    assert v.positions(SYM)[0].amount_lots == sum(t.qty_lots * (1 if t.is_buyer else -1) for t in trades)
    # Wallet = initial + realized − fees + funding, and the income history says the same.
    realized = sum((t.realized_pnl for t in trades), Decimal(0))
    fees = sum((t.commission for t in trades), Decimal(0))
    funding = sum((i.income for i in v.income() if i.income_type == "FUNDING_FEE"), Decimal(0))
    assert v.balance().wallet_balance == Decimal(1_000_000) + realized - fees + funding
    assert v.balance().wallet_balance == Decimal(1_000_000) + sum((i.income for i in v.income()), Decimal(0))
    # Executed = Σ fills per order; never more than the order's quantity.
    for o in v.all_orders(SYM):
        assert o.executed_lots == sum(t.qty_lots for t in trades if t.order_id == o.order_id)
        assert 0 <= o.executed_lots <= o.orig_qty_lots
    for t in trades:
        if t.is_maker:
            # A resting buy never fills above its price, a resting sell never below (maker fills at the limit).
            px, side, _ = placed[t.order_id]
            assert (t.price_ticks <= px) if side is Side.BUY else (t.price_ticks >= px)
        else:
            # A post-only order never takes liquidity.
            assert placed[t.order_id][2] is not TimeInForce.GTX


hedge_order = st.tuples(
    st.integers(-30, 30),
    st.integers(1, 60),
    st.sampled_from(["GTC", "IOC", "MKT"]),
    st.booleans(),
    st.booleans(),
)
hedge_script = st.lists(st.one_of(quote_action, trade_action, hedge_order), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=hedge_script)
def test_hedge_positions_are_signed_sums_of_their_fills(script: list[tuple[object, ...]]) -> None:
    from grinder.core.enums import PositionSide

    v = make_venue(dual_side_position=True, initial_balance=Decimal(1_000_000))
    mark(v, "60000", T0)
    quote(v, MID, MID + 1, T0)
    t = T0
    for n, step in enumerate(script):
        t += 1
        try:
            if step[0] == "quote":
                quote(v, MID + int(step[1]), MID + int(step[1]) + int(step[2]), t, int(step[3]), int(step[4]))  # type: ignore[call-overload]
            elif step[0] == "trade":
                trade(v, MID + int(step[1]), int(step[2]), t, seller_aggressor=bool(step[3]))  # type: ignore[call-overload]
            else:
                off, lots, kind, buy, long_side = step
                side = Side.BUY if buy else Side.SELL
                ps = PositionSide.LONG if long_side else PositionSide.SHORT
                if kind == "MKT":
                    v.place(market(side, int(lots), f"h{n}", position_side=ps), t)  # type: ignore[call-overload]
                else:
                    v.place(
                        limit(side, MID + int(off), int(lots), f"h{n}", TimeInForce(kind), position_side=ps),
                        t,
                    )  # type: ignore[call-overload]
        except VenueReject:
            pass
        check_margin_sums(v)
    trades = v.user_trades(SYM)
    for p in v.positions(SYM):
        signed = sum(
            t.qty_lots * (1 if t.is_buyer else -1) for t in trades if t.position_side is p.position_side
        )
        assert p.amount_lots == signed
        assert (p.amount_lots >= 0) if p.position_side is PositionSide.LONG else (p.amount_lots <= 0)
