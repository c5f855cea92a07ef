"""The wire client against the in-process simulator over loopback: REST, faults, streams, user data."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from grinder.binance.config import BinanceConfig
from grinder.binance.constants import StreamGroup
from grinder.binance.errors import BinanceAPIError, BinanceUnknownOutcome, ErrorKind, RateLimitRefused
from grinder.binance.governor import WEIGHT_1M, RateLimitGovernor
from grinder.binance.rest import BinanceRestClient
from grinder.binance.streams import MarketStreams
from grinder.binance.user_stream import UserDataStream, UserStreamResynced
from grinder.core.commands import AmendOrder, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from grinder.core.events import BookTicker, DepthUpdate, OrderUpdate, Trade
from tests.binance.helpers import metric, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(sim_server: Any) -> AsyncIterator[BinanceRestClient]:
    c = BinanceRestClient(sim_server.rest_url, api_key=sim_server.api_key, api_secret=sim_server.api_secret)
    await c.exchange_info()
    yield c
    await c.close()


def limit(cid: str, price_ticks: int, lots: int = 20, side: Side = Side.BUY) -> PlaceOrder:
    return PlaceOrder("BTCUSDT", side, OrderType.LIMIT, lots, cid, price_ticks=price_ticks,
                      time_in_force=TimeInForce.GTC)


def market(cid: str, lots: int = 20, side: Side = Side.BUY) -> PlaceOrder:
    return PlaceOrder("BTCUSDT", side, OrderType.MARKET, lots, cid, time_in_force=None)


async def test_every_rest_endpoint(client: BinanceRestClient) -> None:
    r = client.rules["BTCUSDT"]
    assert abs(await client.server_time() - client.server_now_ms()) < 5_000
    snap = await client.depth("BTCUSDT", 5)
    assert len(snap.bids) == 5 and snap.bids[0][0] < snap.asks[0][0]
    bt = await client.book_ticker("BTCUSDT")
    assert bt.bid_ticks(r) < bt.ask_ticks(r)
    assert (await client.premium_index("BTCUSDT")).markPrice > 0
    bid = bt.bid_ticks(r)
    placed = await client.new_order(limit("grinder_t_BTCUSDT_b1_1_1", bid - 100), r)
    assert placed.to_status() is OrderStatus.NEW and placed.orig_lots(r) == 20
    assert [o.clientOrderId for o in await client.open_orders("BTCUSDT")] == ["grinder_t_BTCUSDT_b1_1_1"]
    amended = await client.modify_order(
        AmendOrder("BTCUSDT", "grinder_t_BTCUSDT_b1_1_1", Side.BUY, bid - 101, 30), r)
    assert amended.price_ticks(r) == bid - 101 and amended.orig_lots(r) == 30
    queried = await client.query_order("BTCUSDT", client_order_id="grinder_t_BTCUSDT_b1_1_1")
    assert queried.orderId == placed.orderId and queried.orig_lots(r) == 30
    cancelled = await client.cancel_order("BTCUSDT", order_id=placed.orderId)
    assert cancelled.to_status() is OrderStatus.CANCELED
    await client.new_order(limit("grinder_t_BTCUSDT_b2_1_1", bid - 100), r)
    await client.cancel_order("BTCUSDT", client_order_id="grinder_t_BTCUSDT_b2_1_1")
    assert await client.open_orders() == []
    filled = await client.new_order(market("grinder_t_BTCUSDT_m1_1_1"), r, resp_type="RESULT")
    assert filled.executed_lots(r) == 20
    positions = await client.position_risk("BTCUSDT")
    assert positions[0].amount_lots(r) == 20
    trades = await client.user_trades("BTCUSDT", start_time_ms=client.server_now_ms() - 60_000)
    assert sum(t.qty_lots(r) for t in trades) == 20 and all(t.orderId == filled.orderId for t in trades)
    assert (await client.balance())[0].asset == "USDT"
    acct = await client.account()
    assert acct.totalWalletBalance > 0
    key = await client.start_listen_key()
    assert key and await client.start_listen_key() == key  # POST returns the active key
    await client.keepalive_listen_key()
    await client.close_listen_key()
    used, limit_ = client.governor.usage()[WEIGHT_1M]
    assert 0 < used < limit_  # adopted from X-MBX-USED-WEIGHT-1M


async def test_clock_skew_is_measured_and_minus_1021_resyncs(sim_server: Any) -> None:
    sim_server.control.set_faults(clock_skew_ms=20_000)
    c = BinanceRestClient(sim_server.rest_url, api_key=sim_server.api_key, api_secret=sim_server.api_secret)
    try:
        await c.open_orders("BTCUSDT")  # first signed request syncs the clock first
        assert abs(c.offset_ms - 20_000) < 1_000
        sim_server.control.set_faults(clock_skew_ms=-30_000)  # server jumps: next request gets -1021
        before = metric("grinder_binance_rest_errors_total", endpoint="GET /fapi/v1/openOrders",
                        kind="retryable")
        assert await c.open_orders("BTCUSDT") == []
        assert abs(c.offset_ms + 30_000) < 1_000
        assert metric("grinder_binance_rest_errors_total", endpoint="GET /fapi/v1/openOrders",
                      kind="retryable") == before + 1
    finally:
        await c.close()


async def test_bad_secret_is_non_retryable_and_never_leaks(sim_server: Any, caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "definitely-wrong-secret-0123456789"
    c = BinanceRestClient(sim_server.rest_url, api_key=sim_server.api_key, api_secret=secret)
    try:
        with pytest.raises(BinanceAPIError) as info:
            await c.account()
        assert info.value.code == -1022 and info.value.kind is ErrorKind.NON_RETRYABLE
        for text in (str(info.value), repr(info.value), repr(c), caplog.text):
            assert secret not in text and sim_server.api_key not in text
    finally:
        await c.close()


async def test_429_then_418_are_honoured(sim_server: Any) -> None:
    gov = RateLimitGovernor(default_deadline_s=0.0)
    c = BinanceRestClient(sim_server.rest_url, api_key=sim_server.api_key, api_secret=sim_server.api_secret,
                          governor=gov, max_retries=0)
    try:
        sim_server.control.set_faults(too_many_requests=1)
        with pytest.raises(BinanceAPIError) as info:
            await c.server_time()
        assert info.value.http_status == 429 and info.value.kind is ErrorKind.RETRYABLE
        with pytest.raises(RateLimitRefused, match="REQUEST_WEIGHT_1M"):
            await c.server_time()  # held locally until the window ends: nothing sent
        gov2 = RateLimitGovernor(default_deadline_s=0.0)
        c2 = BinanceRestClient(sim_server.rest_url, governor=gov2, max_retries=0)
        sim_server.control.set_faults(ban=1)
        with pytest.raises(BinanceAPIError) as info:
            await c2.server_time()
        assert info.value.http_status == 418
        with pytest.raises(RateLimitRefused, match="ban"):
            await c2.server_time()
        assert gov2.banned_until_ms > gov2.server_now_ms() + 60_000
        await c2.close()
    finally:
        await c.close()


async def test_unknown_outcome_is_reported_and_resolved_by_query(client: BinanceRestClient, sim_server: Any
                                                                  ) -> None:
    r = client.rules["BTCUSDT"]
    bid = (await client.book_ticker("BTCUSDT")).bid_ticks(r)
    sim_server.control.set_faults(unknown_after_execute=1)
    with pytest.raises(BinanceUnknownOutcome) as info:
        await client.new_order(limit("grinder_t_BTCUSDT_u1_1_1", bid - 100), r)
    assert info.value.http_status == 503 and info.value.kind is ErrorKind.UNKNOWN_OUTCOME
    found = await client.query_order("BTCUSDT", client_order_id="grinder_t_BTCUSDT_u1_1_1")
    assert found.to_status() is OrderStatus.NEW  # it did execute: resolved, not re-sent


async def test_retryable_write_is_retried_once_with_the_same_id(client: BinanceRestClient, sim_server: Any
                                                                 ) -> None:
    r = client.rules["BTCUSDT"]
    bid = (await client.book_ticker("BTCUSDT")).bid_ticks(r)
    sim_server.control.set_faults(unavailable_before_execute=1, throttle=1)
    placed = await client.new_order(limit("grinder_t_BTCUSDT_r1_1_1", bid - 100), r)
    assert placed.clientOrderId == "grinder_t_BTCUSDT_r1_1_1"
    assert len(await client.open_orders("BTCUSDT")) == 1


async def test_market_streams_deliver_and_reconnect_after_drop(
    sim_server: Any, client: BinanceRestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="grinder.binance")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url, reconnect_initial_s=0.05)
    ms = MarketStreams(client.rules, config=cfg, rest=client, queue=queue)
    await ms.subscribe("BTCUSDT")
    await ms.start()
    try:
        await ms.wait_connected()
        seen: set[type] = set()

        def drain() -> bool:
            while not queue.empty():
                seen.add(type(queue.get_nowait()))
            return {BookTicker, DepthUpdate} <= seen

        await wait_until(drain, what="bookTicker and depth events")
        await wait_until(lambda: ms.book("BTCUSDT").is_synced, what="book sync")
        assert metric("grinder_ws_connected", stream="public") == 1
        ticks = metric("grinder_ticks_received_total", symbol="BTCUSDT")
        assert ticks > 0 and metric("grinder_last_tick_ts", symbol="BTCUSDT") > 1.6e9
        before = metric("grinder_ws_reconnect_total", stream="public", reason="closed")
        public = ms.connection(StreamGroup.PUBLIC)
        assert public is not None
        connects = public.connects
        sim_server.control.drop_ws()
        await wait_until(lambda: public.connects > connects and public.is_connected, what="reconnect")
        assert metric("grinder_ws_reconnect_total", stream="public", reason="closed") == before + 1
        later = metric("grinder_ticks_received_total", symbol="BTCUSDT")
        await wait_until(lambda: metric("grinder_ticks_received_total", symbol="BTCUSDT") > later,
                         what="ticks after reconnect")
        await ms.subscribe("BTCUSDT", ["trade"])  # live SUBSCRIBE on the open market connection
        seen.clear()

        def got_trade() -> bool:
            drain()
            return Trade in seen

        await wait_until(got_trade, what="trades from the market connection")
    finally:
        await ms.stop()
    assert "WebSocket connected to ws://127.0.0.1" in caplog.text
    assert "Received tick BTCUSDT price=" in caplog.text
    assert metric("grinder_ws_connected", stream="public") == 0


async def test_book_stays_exact_through_gaps_and_reconnects(sim_server_manual: Any) -> None:
    sim = sim_server_manual
    c = BinanceRestClient(sim.rest_url)
    await c.exchange_info()
    cfg = BinanceConfig(rest_url=sim.rest_url, ws_url=sim.ws_url, depth_speed="0ms", reconnect_initial_s=0.05)
    ms = MarketStreams(c.rules, config=cfg, rest=c)
    await ms.subscribe("BTCUSDT", ["depth"])
    await ms.start()
    sim_book = sim.market.books["BTCUSDT"]
    book = ms.book("BTCUSDT")

    def caught_up() -> bool:
        return book.is_synced and book.last_update_id == sim_book.last_update_id

    async def step_and_compare(n: int) -> None:
        for _ in range(n):
            sim.control.step(1)
            await asyncio.sleep(0)
        await wait_until(caught_up, what="book caught up with the simulator")
        bids, asks = sim_book.top(10**6)
        assert book.bids(10**6) == list(bids) and book.asks(10**6) == list(asks)

    try:
        await ms.wait_connected()
        await step_and_compare(20)
        resyncs = book.resyncs
        sim.control.set_faults(depth_gaps=2, depth_gap_symbol="BTCUSDT")
        await step_and_compare(30)
        assert book.resyncs >= resyncs + 1
        conn = ms.connection(StreamGroup.PUBLIC)
        assert conn is not None
        connects = conn.connects
        sim.control.drop_ws()
        await wait_until(lambda: conn.connects > connects and conn.is_connected, what="reconnect")
        await step_and_compare(30)
    finally:
        await ms.stop()
        await c.close()


async def test_stale_feed_reconnects(sim_server_manual: Any) -> None:
    sim = sim_server_manual
    c = BinanceRestClient(sim.rest_url)
    await c.exchange_info()
    cfg = BinanceConfig(rest_url=sim.rest_url, ws_url=sim.ws_url, stale_after_s=0.3, reconnect_initial_s=0.05)
    ms = MarketStreams(c.rules, config=cfg, rest=c)
    await ms.subscribe("ETHUSDT", ["bookTicker"])
    await ms.start()
    try:
        before = metric("grinder_ws_reconnect_total", stream="public", reason="stale")
        await wait_until(lambda: metric("grinder_ws_reconnect_total", stream="public", reason="stale") > before,
                         timeout_s=5, what="stale reconnect")
    finally:
        await ms.stop()
        await c.close()


def _fills(events: list[Any], cid: str) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate) and e.client_order_id == cid and e.is_fill]


async def test_listen_key_expiry_loses_no_fill(sim_server: Any, client: BinanceRestClient) -> None:
    events: list[Any] = []
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url, reconnect_initial_s=0.05)
    us = UserDataStream(client, client.rules, symbols=["BTCUSDT"], config=cfg, on_event=events.append)
    await us.start()
    r = client.rules["BTCUSDT"]
    try:
        await us.wait_connected()
        await wait_until(lambda: any(isinstance(e, UserStreamResynced) for e in events), what="initial resync")
        # Live fill first: arrives over the stream.
        await client.new_order(market("grinder_t_BTCUSDT_l1_1_1"), r)
        await wait_until(lambda: bool(_fills(events, "grinder_t_BTCUSDT_l1_1_1")), what="live fill")
        # Hold the socket, expire the key, fill while nobody listens: that event is lost on the wire.
        recovered = metric("grinder_user_stream_recovered_fills_total")
        sim_server.control.stall_ws(300)
        sim_server.control.expire_listen_key()
        missed = await client.new_order(market("grinder_t_BTCUSDT_l2_1_1", lots=30), r, resp_type="RESULT")
        await wait_until(lambda: sum(1 for e in events if isinstance(e, UserStreamResynced)) >= 2,
                         what="resync after expiry")
        fills = _fills(events, "grinder_t_BTCUSDT_l2_1_1")
        assert sum(f.last_fill_lots for f in fills) == missed.executed_lots(r) == 30
        assert fills[-1].status is OrderStatus.FILLED and fills[-1].cum_filled_lots == 30
        assert len({f.trade_id for f in fills}) == len(fills)  # each fill exactly once
        assert metric("grinder_user_stream_recovered_fills_total") == recovered + len(fills)  # via REST
        assert us.key_renewals >= 2
        # After recovery the stream works again.
        await client.new_order(market("grinder_t_BTCUSDT_l3_1_1", side=Side.SELL), r)
        await wait_until(lambda: bool(_fills(events, "grinder_t_BTCUSDT_l3_1_1")), what="fill after recovery")
        assert len(_fills(events, "grinder_t_BTCUSDT_l1_1_1")) >= 1
        assert sum(f.last_fill_lots for f in _fills(events, "grinder_t_BTCUSDT_l1_1_1")) == 20
    finally:
        await us.stop()


async def test_duplicates_dropped_and_keepalive_recreates_missing_key(sim_server: Any, client: BinanceRestClient
                                                                      ) -> None:
    events: list[Any] = []
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url, reconnect_initial_s=0.05)
    us = UserDataStream(client, client.rules, symbols=["BTCUSDT"], config=cfg, on_event=events.append)
    await us.start()
    r = client.rules["BTCUSDT"]
    try:
        await us.wait_connected()
        sim_server.control.set_faults(duplicate_user_event_rate=1.0)
        bid = (await client.book_ticker("BTCUSDT")).bid_ticks(r)
        await client.new_order(limit("grinder_t_BTCUSDT_d1_1_1", bid - 100), r)
        await client.cancel_order("BTCUSDT", client_order_id="grinder_t_BTCUSDT_d1_1_1")

        def mine() -> list[OrderUpdate]:
            return [e for e in events if isinstance(e, OrderUpdate) and e.client_order_id.endswith("d1_1_1")]

        await wait_until(lambda: any(e.execution_type is ExecutionType.CANCELED for e in mine()),
                         what="cancel event")
        assert [e.execution_type for e in mine()] == [ExecutionType.NEW, ExecutionType.CANCELED]
        sim_server.control.clear_faults()
        old_key = us.listen_key
        await client.close_listen_key()  # the key vanishes server-side
        await us.keepalive()  # -1125 → new key, reconnect, resync
        await wait_until(lambda: us.listen_key not in (None, old_key) and us.connection is not None
                         and us.connection.is_connected, what="new listenKey")
    finally:
        await us.stop()


async def test_unsubscribe_stops_a_stream(sim_server: Any, client: BinanceRestClient) -> None:
    events: list[Any] = []
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url)
    ms = MarketStreams(client.rules, config=cfg, rest=client, on_event=events.append)
    await ms.subscribe("BTCUSDT", ["bookTicker"])
    await ms.subscribe("ETHUSDT", ["bookTicker"])
    await ms.start()
    try:
        await wait_until(lambda: {e.symbol for e in events} == {"BTCUSDT", "ETHUSDT"}, what="both symbols")
        await ms.unsubscribe("ETHUSDT", ["bookTicker"])
        # frames already in flight may still arrive: wait until a run of BTCUSDT-only ticks shows
        # the server has applied the UNSUBSCRIBE, then check that no ETHUSDT tick follows
        await wait_until(lambda: len(events) >= 5 and {e.symbol for e in events[-5:]} == {"BTCUSDT"},
                         what="the unsubscribe applied")
        events.clear()
        await wait_until(lambda: len(events) >= 5, what="more BTCUSDT ticks")
        assert {e.symbol for e in events} == {"BTCUSDT"}
    finally:
        await ms.stop()



async def _started_user_stream(rest: BinanceRestClient, sim_server: Any, events: list[Any], *,
                               reconnect_initial_s: float) -> UserDataStream:
    """A BTCUSDT user stream through `rest`, connected; events are appended to `events`."""
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url,
                        reconnect_initial_s=reconnect_initial_s, reconnect_jitter=0.0)
    us = UserDataStream(rest, rest.rules, symbols=["BTCUSDT"], config=cfg, on_event=events.append)
    await us.start()
    try:
        await us.wait_connected()
    except BaseException:
        await us.stop()
        raise
    return us


async def test_fills_during_a_dropped_connection_arrive_exactly_once(sim_server: Any, client: BinanceRestClient
                                                                     ) -> None:
    events: list[Any] = []
    us = await _started_user_stream(client, sim_server, events, reconnect_initial_s=0.3)
    r = client.rules["BTCUSDT"]
    try:
        assert metric("grinder_ws_connected", stream="private") == 1
        conn = us.connection
        assert conn is not None
        connects = conn.connects
        sim_server.control.drop_ws()
        done = await client.new_order(market("grinder_t_BTCUSDT_g1_1_1", lots=50), r, resp_type="RESULT")
        await wait_until(lambda: conn.connects > connects and conn.is_connected, what="user stream reconnect")
        await wait_until(lambda: sum(f.last_fill_lots for f in _fills(events, "grinder_t_BTCUSDT_g1_1_1")) >= 50,
                         what="the fill made while disconnected")
        await asyncio.sleep(0.2)  # any late duplicate would show up now
        fills = _fills(events, "grinder_t_BTCUSDT_g1_1_1")
        assert sum(f.last_fill_lots for f in fills) == done.executed_lots(r) == 50
        assert len({f.trade_id for f in fills}) == len(fills)
    finally:
        await us.stop()


class _ShiftedClock:
    """Wall time plus a shift the test moves forward (ends a governor ban without waiting)."""

    def __init__(self) -> None:
        self.shift_ms = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift_ms

    def monotonic_ns(self) -> int:
        return time.monotonic_ns() + self.shift_ms * 1_000_000


async def test_user_stream_keeps_running_through_a_rest_backoff(sim_server: Any, client: BinanceRestClient
                                                                ) -> None:
    """A 429/418 back-off refuses every REST call: the private socket must still reconnect and deliver
    live fills, and the fills of the gap arrive once REST is allowed again (each exactly once)."""
    events: list[Any] = []
    clock = _ShiftedClock()
    rest = BinanceRestClient(sim_server.rest_url, api_key=sim_server.api_key, api_secret=sim_server.api_secret,
                             governor=RateLimitGovernor(clock))
    await rest.exchange_info()
    us = await _started_user_stream(rest, sim_server, events, reconnect_initial_s=0.05)
    r = client.rules["BTCUSDT"]
    try:
        await wait_until(lambda: any(isinstance(e, UserStreamResynced) for e in events), what="initial resync")
        conn = us.connection
        assert conn is not None
        rest.governor.on_rate_limited(418, None, 3600.0)  # banned for an hour: every REST call refused
        connects = conn.connects
        sim_server.control.drop_ws()
        gap = await client.new_order(market("grinder_t_BTCUSDT_k1_1_1", lots=40), r, resp_type="RESULT")
        await wait_until(lambda: conn.connects > connects and conn.connected.is_set(),
                         what="user stream open again while REST is refused")
        live = await client.new_order(market("grinder_t_BTCUSDT_k2_1_1", lots=20), r, resp_type="RESULT")
        await wait_until(lambda: sum(f.last_fill_lots for f in _fills(events, "grinder_t_BTCUSDT_k2_1_1")) >= 20,
                         what="a live fill during the back-off")
        assert _fills(events, "grinder_t_BTCUSDT_k1_1_1") == []  # the gap waits for REST
        clock.shift_ms = 3_601_000  # the ban is over
        await wait_until(lambda: sum(f.last_fill_lots for f in _fills(events, "grinder_t_BTCUSDT_k1_1_1")) >= 40,
                         what="the gap's fill recovered after the back-off")
        # The fills are delivered inside the recovery pass; the pass is counted once it has also read
        # the open orders, so wait for the count rather than read it at the first fill.
        await wait_until(lambda: us.deferred_recoveries >= 1, what="the deferred recovery pass counted")
        assert us.deferred_recoveries == 1
        for done, cid in ((gap, "grinder_t_BTCUSDT_k1_1_1"), (live, "grinder_t_BTCUSDT_k2_1_1")):
            fills = _fills(events, cid)
            assert sum(f.last_fill_lots for f in fills) == done.executed_lots(r)
            assert len({f.trade_id for f in fills}) == len(fills)
    finally:
        await us.stop()
        await rest.close()
