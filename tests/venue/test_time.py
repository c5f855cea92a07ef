"""Latency, the vectorised fast path, and determinism."""

from __future__ import annotations

import hashlib
import random

import msgspec
import numpy as np

from grinder.core.enums import OrderStatus, Side, TimeInForce
from grinder.core.events import BookTicker
from grinder.venue import Venue, VenueReject
from tests.venue.builders import SYM, T0, limit, make_venue, mark, market, quote, trade


# ------------------------------------------------------------------ latency
def test_order_latency_delays_arrival_at_the_matching_engine() -> None:
    v = make_venue(order_latency_ms=50, fill_model="touch")
    quote(v, 600_000, 600_001, T0)
    ack = v.place(limit(Side.BUY, 599_990, 10, "b"), T0)
    assert ack.status is OrderStatus.NEW and v.open_orders(SYM) == []
    trade(v, 599_980, 1, T0 + 49)  # before arrival: cannot fill
    assert v.user_trades(SYM) == []
    trade(v, 599_980, 1, T0 + 50)  # arrival is processed first, then the trade fills it
    assert v.get_order(symbol=SYM, order_id=ack.order_id).status is OrderStatus.FILLED


def test_late_rejection_is_reported_as_an_event() -> None:
    v = make_venue(order_latency_ms=10)
    quote(v, 600_000, 600_001, T0)
    v.place(limit(Side.BUY, 599_990, 10, "p", TimeInForce.GTX), T0)
    quote(v, 599_980, 599_990, T0 + 5)  # by arrival the post-only would take
    v.advance_to(T0 + 10)
    [ev] = v.drain_events()
    assert ev.status is OrderStatus.EXPIRED and ev.expiry_reason == 11  # type: ignore[union-attr]
    assert v.late_rejects[0][3].code == -5022


def test_cancel_latency() -> None:
    v = make_venue(order_latency_ms=10)
    quote(v, 600_000, 600_001, T0)
    o = v.place(limit(Side.BUY, 599_990, 10, "b"), T0)
    v.advance_to(T0 + 10)
    v.cancel_order(symbol=SYM, order_id=o.order_id, now_ms=T0 + 20)
    assert v.get_order(symbol=SYM, order_id=o.order_id).status is OrderStatus.NEW
    v.advance_to(T0 + 30)
    assert v.get_order(symbol=SYM, order_id=o.order_id).status is OrderStatus.CANCELED


def test_feed_latency_holds_user_events_back() -> None:
    v = make_venue(feed_latency_ms=100)
    quote(v, 600_000, 600_001, T0)
    v.place(limit(Side.BUY, 599_990, 10, "b"), T0)
    assert v.drain_events(T0 + 99) == []
    assert len(v.drain_events(T0 + 100)) == 1


# ------------------------------------------------------------------ vectorised fast path
def _quotes(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    mid = 600_000 + np.cumsum(rng.integers(-3, 4, n))
    spread = rng.integers(1, 3, n)
    bid = mid.astype(np.int64)
    ask = (mid + spread).astype(np.int64)
    lots = rng.integers(1, 2000, n).astype(np.int64)
    times = (T0 + np.arange(n) * 10).astype(np.int64)
    return bid, lots, ask, lots[::-1].copy(), times


def _run(v: Venue, batch: bool, arrays: tuple[np.ndarray, ...]) -> list[object]:
    bid, bl, ask, al, times = arrays
    n = len(bid)
    i = 0
    steps = 0
    while i < n:
        if batch and v.open_orders(SYM):  # the strategy below is idle while its orders rest
            i = v.apply_quotes(SYM, bid, bl, ask, al, times, start=i)
            if i >= n:
                break
        v.on_book_ticker(
            BookTicker(SYM, int(bid[i]), int(bl[i]), int(ask[i]), int(al[i]), 0, int(times[i]), int(times[i]))
        )
        # A tiny strategy: keep one buy 20 ticks under the bid and one sell 20 over the ask.
        if not v.open_orders(SYM):
            steps += 1
            v.place(limit(Side.BUY, int(bid[i]) - 20, 10, f"b{steps}"), int(times[i]))
            v.place(limit(Side.SELL, int(ask[i]) + 20, 10, f"s{steps}"), int(times[i]))
        i += 1
    return [*v.drain_events(), v.best_bid_ask(SYM), v.balance()]


def test_apply_quotes_is_equivalent_to_per_event_processing() -> None:
    arrays = _quotes(5000, 3)
    for model in ("queue", "touch"):
        a = _run(make_venue(fill_model=model), False, arrays)
        b = _run(make_venue(fill_model=model), True, arrays)
        assert a == b
        assert len(a) > 10  # the scenario actually trades


def test_apply_quotes_stops_at_the_first_touch_and_fast_forwards_state(venue: Venue) -> None:
    venue.place(limit(Side.BUY, 599_900, 10, "b"), T0)
    bid = np.array([600_000, 599_950, 599_901, 599_899, 599_000], dtype=np.int64)
    ask = bid + 1
    lots = np.full(5, 7, dtype=np.int64)
    times = np.arange(5, dtype=np.int64) + T0
    k = venue.apply_quotes(SYM, bid, lots, ask, lots, times)
    assert k == 3 and venue.best_bid_ask(SYM) == (599_901, 7, 599_902, 7)


def test_apply_trades_and_funding_due_stop_the_scan(venue: Venue) -> None:
    venue.place(limit(Side.SELL, 600_100, 10, "s"), T0)
    prices = np.array([600_000, 600_050, 600_100], dtype=np.int64)
    times = np.arange(3, dtype=np.int64) + T0
    assert venue.apply_trades(SYM, prices, times) == 2
    mark(venue, "60000", T0, next_funding=T0 + 1)
    assert venue.apply_trades(SYM, prices, times) == 1  # funding due at T0 + 1


# ------------------------------------------------------------------ determinism
def _scenario(seed: int) -> str:
    rng = random.Random(seed)
    v = make_venue(seed=seed)
    mark(v, "60000", T0, rate="0.0001", next_funding=T0 + 5000)
    t = T0
    mid = 600_000
    rejects: list[int] = []
    for step in range(3000):
        t += rng.randint(1, 5)
        mid += rng.randint(-4, 4)
        if rng.random() < 0.6:
            quote(v, mid, mid + rng.randint(1, 3), t, rng.randint(1, 500), rng.randint(1, 500))
        else:
            trade(v, mid + rng.randint(-2, 3), rng.randint(1, 300), t, seller_aggressor=rng.random() < 0.5)
        if rng.random() < 0.05:
            side = rng.choice([Side.BUY, Side.SELL])
            px = mid + (-1 if side is Side.BUY else 1) * rng.randint(0, 10)
            try:
                if rng.random() < 0.2:
                    v.place(market(side, rng.randint(2, 20), f"m{step}"), t)
                else:
                    v.place(limit(side, px, rng.randint(2, 20), f"l{step}"), t)
            except VenueReject as rej:  # rejections are part of the output
                rejects.append(rej.code)
    digest = hashlib.sha256()
    for ev in v.drain_events():
        digest.update(msgspec.json.encode(ev))
    digest.update(msgspec.json.encode(rejects))
    digest.update(msgspec.json.encode(v.balance()))
    digest.update(msgspec.json.encode(v.positions()))
    return digest.hexdigest()


def test_same_inputs_give_identical_outputs() -> None:
    assert _scenario(11) == _scenario(11)
    assert _scenario(11) != _scenario(12)


def test_apply_quotes_does_not_skip_once_l2_is_fed() -> None:
    from tests.venue.builders import depth

    v = make_venue()
    depth(v, [(600_000, 5)], [(600_001, 5)], T0)
    v.place(limit(Side.BUY, 590_000, 10, "b"), T0)
    arr = np.array([600_000, 600_001], dtype=np.int64)
    assert v.apply_quotes(SYM, arr, arr, arr + 1, arr, arr, start=0) == 0


def test_late_cancel_of_a_filled_order_is_recorded() -> None:
    v = make_venue(order_latency_ms=10, fill_model="touch")
    quote(v, 600_000, 600_001, T0)
    o = v.place(limit(Side.BUY, 599_990, 10, "b"), T0)
    v.advance_to(T0 + 10)
    v.cancel_order(symbol=SYM, order_id=o.order_id, now_ms=T0 + 11)
    trade(v, 599_990, 1, T0 + 15)  # fills before the cancel arrives at T0 + 21
    v.advance_to(T0 + 21)
    assert v.get_order(symbol=SYM, order_id=o.order_id).status is OrderStatus.FILLED
    assert [r[3].code for r in v.late_rejects] == [-2011]


def test_cancel_all_and_amend_with_latency() -> None:
    from grinder.core.commands import AmendOrder

    v = make_venue(order_latency_ms=5)
    quote(v, 600_000, 600_001, T0)
    v.place(limit(Side.BUY, 599_990, 10, "a"), T0)
    v.place(limit(Side.BUY, 599_980, 10, "b"), T0)
    v.advance_to(T0 + 5)
    v.amend(AmendOrder(SYM, "a", Side.BUY, 599_970, 10), T0 + 5)
    assert v.get_order(symbol=SYM, client_order_id="a").price_ticks == 599_990  # not arrived yet
    v.advance_to(T0 + 10)
    assert v.get_order(symbol=SYM, client_order_id="a").price_ticks == 599_970
    assert len(v.cancel_all(SYM, T0 + 10)) == 2 and len(v.open_orders(SYM)) == 2
    v.advance_to(T0 + 15)
    assert v.open_orders(SYM) == []
