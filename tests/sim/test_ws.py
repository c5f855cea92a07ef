"""WebSocket behaviour: routing, framing, live requests, user-data stream, expiry, lifetime, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from grinder.core.clock import VirtualClock
from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer
from tests.fixtures.simulator import SimFactory, signed_query

pytestmark = pytest.mark.integration


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3) -> Any:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def answer_pings(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Let the client read (and auto-answer) the server's ping, as a client that keeps reading does."""
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.receive(), 0.05)


async def listen_key(http: aiohttp.ClientSession, server: SimServer) -> str:
    async with http.post(
        f"{server.rest_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": server.api_key}
    ) as r:
        key: str = (await r.json())["listenKey"]
        return key


async def market_buy(
    http: aiohttp.ClientSession, server: SimServer, timestamp_ms: int | None = None
) -> dict[str, Any]:
    q = signed_query(server, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"},
                     timestamp_ms=timestamp_ms)  # fmt: skip
    async with http.post(
        f"{server.rest_url}/fapi/v1/order?{q}", headers={"X-MBX-APIKEY": server.api_key}
    ) as r:
        doc: dict[str, Any] = await r.json()
        assert r.status == 200, doc
        return doc


async def test_live_requests(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    async with http.ws_connect(f"{s.ws_url}/public/ws") as ws:
        await ws.send_str(
            json.dumps({"method": "SUBSCRIBE", "params": ["BTCUSDT@bookTicker", "ethusdt@depth"], "id": 1})
        )
        assert await recv_json(ws) == {"result": None, "id": 1}
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert await recv_json(ws) == {"result": ["btcusdt@bookTicker", "ethusdt@depth"], "id": 2}
        await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@depth"], "id": 3}))
        assert await recv_json(ws) == {"result": None, "id": 3}
        await ws.send_str(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}))
        assert await recv_json(ws) == {"result": False, "id": 4}
        s.step_market(1)
        raw = await recv_json(ws)
        assert raw["e"] == "bookTicker"  # raw framing on /ws
        await ws.send_str(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}))
        assert await recv_json(ws) == {"result": None, "id": 5}
        s.step_market(1)
        wrapped = await recv_json(ws)
        assert wrapped["stream"] == "btcusdt@bookTicker"
        assert wrapped["data"]["e"] == "bookTicker"
        await ws.send_str("{not json")
        bad = await recv_json(ws)
        assert bad["error"]["code"] == 3
        await ws.send_str(json.dumps({"method": "FLY", "id": 6}))
        assert (await recv_json(ws))["error"]["code"] == 2


async def test_routed_paths_deliver_only_their_class(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    mark = "btcusdt@markPrice@1s"
    async with (
        http.ws_connect(f"{s.ws_url}/public/ws/{mark}") as wrong,
        http.ws_connect(f"{s.ws_url}/market/ws/{mark}") as right,
        http.ws_connect(f"{s.ws_url}/ws/{mark}") as legacy,
    ):
        s.step_market(12)  # the synthetic market marks once a second (10 steps)
        assert (await recv_json(right))["e"] == "markPriceUpdate"
        assert (await recv_json(legacy))["e"] == "markPriceUpdate"
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(wrong, timeout=0.2)


async def test_trade_streams(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    async with http.ws_connect(f"{s.ws_url}/market/stream?streams=btcusdt@aggTrade") as ws:
        s.step_market(60)
        doc = await recv_json(ws)
    assert doc["stream"] == "btcusdt@aggTrade"
    trade = doc["data"]
    assert trade["e"] == "aggTrade"
    assert set(trade) >= {"E", "a", "s", "p", "q", "f", "l", "T", "m"}


@pytest.mark.parametrize(
    "form", ["private_ws_path", "legacy_ws_path", "private_ws_query", "private_stream_subscribe"]
)
async def test_user_data_stream_delivers_our_fill(
    http: aiohttp.ClientSession, sim_server_manual: SimServer, form: str
) -> None:
    s = sim_server_manual
    key = await listen_key(http, s)
    url = {
        "private_ws_path": f"{s.ws_url}/private/ws/{key}",
        "legacy_ws_path": f"{s.ws_url}/ws/{key}",
        "private_ws_query": f"{s.ws_url}/private/ws?listenKey={key}",
        "private_stream_subscribe": f"{s.ws_url}/private/stream",
    }[form]
    async with http.ws_connect(url) as ws:
        if form == "private_stream_subscribe":
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [key], "id": 1}))
            assert await recv_json(ws) == {"result": None, "id": 1}
        placed = await market_buy(http, s)
        events = [await recv_json(ws) for _ in range(3)]
    if form == "private_stream_subscribe":
        assert {e["stream"] for e in events} == {key}
        events = [e["data"] for e in events]
    assert [e["e"] for e in events] == ["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE"]
    new, account, fill = events
    assert (new["o"]["x"], new["o"]["X"], new["o"]["i"]) == ("NEW", "NEW", placed["orderId"])
    assert (fill["o"]["x"], fill["o"]["X"], fill["o"]["l"], fill["o"]["z"]) == (
        "TRADE",
        "FILLED",
        "0.010",
        "0.010",
    )
    assert fill["o"]["t"] > 0
    assert account["a"]["m"] == "ORDER"
    assert account["a"]["P"][0]["pa"] == "0.010"


async def test_user_event_filter_and_invalid_key(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    key = await listen_key(http, s)
    async with http.ws_connect(f"{s.ws_url}/private/ws?listenKey={key}&events=ACCOUNT_UPDATE") as ws:
        await market_buy(http, s)
        assert (await recv_json(ws))["e"] == "ACCOUNT_UPDATE"
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=0.2)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(f"{s.ws_url}/private/ws/{'x' * 64}")
    assert err.value.status == 400


async def test_duplicate_user_events_fault(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    key = await listen_key(http, s)
    s.control.set_faults(duplicate_user_event_rate=1.0)
    async with http.ws_connect(f"{s.ws_url}/private/ws/{key}") as ws:
        await market_buy(http, s)
        events = [await recv_json(ws) for _ in range(6)]
    assert [e["e"] for e in events[::2]] == ["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE"]
    assert events[0::2] == events[1::2]


async def test_reorder_user_events_fault(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    key = await listen_key(http, s)
    s.control.set_faults(reorder_user_event_rate=1.0)
    async with http.ws_connect(f"{s.ws_url}/private/ws/{key}") as ws:
        await market_buy(http, s)
        events = [await recv_json(ws) for _ in range(3)]
    assert [e["e"] for e in events] == ["ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE"]
    assert events[1]["o"]["x"] == "NEW"  # NEW was held back behind the ACCOUNT_UPDATE


async def test_listen_key_expiry_and_forced_expiry(
    http: aiohttp.ClientSession, sim_factory: SimFactory
) -> None:
    clock = VirtualClock.from_ms(1_800_000_000_000)
    s = await sim_factory(SimConfig(port=0, manual_market=True), clock=clock)
    key = await listen_key(http, s)
    async with http.ws_connect(f"{s.ws_url}/private/ws/{key}") as ws:
        clock.advance_ms(59 * 60_000)
        await s.housekeeping()
        await answer_pings(ws)
        async with http.put(f"{s.rest_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": s.api_key}) as r:
            assert (await r.json()) == {"listenKey": key}  # keepalive: another 60 minutes
        clock.advance_ms(59 * 60_000)
        await s.housekeeping()
        await answer_pings(ws)
        await market_buy(http, s, timestamp_ms=clock.now_ms())
        assert (await recv_json(ws))["e"] == "ORDER_TRADE_UPDATE"  # still alive
        for _ in range(2):
            await recv_json(ws)
        await answer_pings(ws)
        clock.advance_ms(60 * 60_000)
        await s.housekeeping()
        expired = await recv_json(ws)
        assert expired == {"e": "listenKeyExpired", "E": clock.now_ms(), "listenKey": key}
        await market_buy(http, s, timestamp_ms=clock.now_ms())
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=0.2)  # silence after expiry
    key2 = await listen_key(http, s)
    assert key2 != key
    async with http.ws_connect(f"{s.ws_url}/private/ws/{key2}") as ws:
        async with http.post(f"{s.rest_url}/_sim/actions/expire_listen_key") as r:
            assert (await r.json()) == {"expired": 1}
        assert (await recv_json(ws))["e"] == "listenKeyExpired"


async def test_unanswered_ping_disconnects(http: aiohttp.ClientSession, sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(1_800_000_000_000)
    s = await sim_factory(SimConfig(port=0, manual_market=True), clock=clock)
    async with http.ws_connect(f"{s.ws_url}/public/ws/btcusdt@bookTicker", autoping=False) as ws:
        clock.advance_ms(180_000)
        await s.housekeeping()  # ping
        assert (await asyncio.wait_for(ws.receive(), 3)).type == aiohttp.WSMsgType.PING
        clock.advance_ms(600_000)
        await s.housekeeping()  # 10 minutes without a pong
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert (msg.type, msg.extra) == (aiohttp.WSMsgType.CLOSE, "pong timeout")


async def test_max_connection_lifetime(http: aiohttp.ClientSession, sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(1_800_000_000_000)
    s = await sim_factory(
        SimConfig(port=0, manual_market=True, max_connection_lifetime_ms=3_600_000), clock=clock
    )
    async with http.ws_connect(f"{s.ws_url}/public/ws/btcusdt@bookTicker") as ws:
        clock.advance_ms(3_600_000)
        await s.housekeeping()
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type == aiohttp.WSMsgType.CLOSE


async def test_drop_and_stall_faults(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    async with http.ws_connect(f"{s.ws_url}/public/ws/btcusdt@bookTicker") as ws:
        s.control.stall_ws(300)
        s.step_market(1)
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=0.1)
        assert (await recv_json(ws, timeout=2))["e"] == "bookTicker"  # late, not lost
        async with http.post(f"{s.rest_url}/_sim/actions/drop_ws") as r:
            assert (await r.json()) == {"dropped": 1}
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)


async def test_leverage_change_sends_account_config_update(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    key = await listen_key(http, s)
    async with http.ws_connect(f"{s.ws_url}/private/ws/{key}") as ws:
        q = signed_query(s, {"symbol": "ETHUSDT", "leverage": 7})
        async with http.post(f"{s.rest_url}/fapi/v1/leverage?{q}", headers={"X-MBX-APIKEY": s.api_key}) as r:
            assert (await r.json())["leverage"] == 7
        event = await recv_json(ws)
    assert event["e"] == "ACCOUNT_CONFIG_UPDATE"
    assert event["ac"] == {"s": "ETHUSDT", "l": 7}


async def test_websocket_api_requests_and_errors(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    import time

    from grinder.sim.auth import sign
    from grinder.sim.wsapi import ws_signed_payload

    s = sim_server_manual
    bid, _ = s.market.books["BTCUSDT"].best_bid

    def signed(params: dict[str, Any]) -> dict[str, Any]:
        params = {**params, "apiKey": s.api_key, "timestamp": int(time.time() * 1000)}
        wire = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()}
        return {**params, "signature": sign(s.api_secret, ws_signed_payload(wire))}

    async with http.ws_connect(s.ws_api_url) as ws:
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
                 "price": s.rules["BTCUSDT"].price_str(bid - 100)}  # fmt: skip
        await ws.send_str(json.dumps({"id": "a1", "method": "order.place", "params": signed(order)}))
        placed = await recv_json(ws)
        assert (placed["id"], placed["status"], placed["result"]["status"]) == ("a1", 200, "NEW")
        limits = {(r["rateLimitType"], r["interval"]): r["count"] for r in placed["rateLimits"]}
        assert limits[("ORDERS", "SECOND")] == 1
        bad = {**signed(order), "signature": "0" * 64}
        await ws.send_str(json.dumps({"id": 2, "method": "order.place", "params": bad}))
        assert (await recv_json(ws))["error"] == {
            "code": -1022,
            "msg": "Signature for this request is not valid.",
        }
        status = {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"], "returnRateLimits": False}
        await ws.send_str(json.dumps({"id": 3, "method": "order.status", "params": signed(status)}))
        answer = await recv_json(ws)
        assert answer["result"]["status"] == "NEW"
        assert "rateLimits" not in answer
        await ws.send_str(json.dumps({"id": 4, "method": "ticker.book", "params": {"symbol": "BTCUSDT"}}))
        assert (await recv_json(ws))["result"]["bidPrice"] == s.rules["BTCUSDT"].price_str(bid)
        await ws.send_str(json.dumps({"id": 5, "method": "order.teleport", "params": {}}))
        assert (await recv_json(ws))["status"] == 400
        await ws.send_str(json.dumps({"id": 6, "method": "account.balance", "params": {"timestamp": 1}}))
        assert (await recv_json(ws))["error"]["code"] == -2014
        algo = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                "quantity": "0.010", "triggerPrice": s.rules["BTCUSDT"].price_str(bid - 1000)}  # fmt: skip
        await ws.send_str(json.dumps({"id": 7, "method": "algoOrder.place", "params": signed(algo)}))
        placed_algo = (await recv_json(ws))["result"]
        assert (placed_algo["algoStatus"], placed_algo["orderType"]) == ("NEW", "STOP_MARKET")
        cancel = {"algoId": placed_algo["algoId"]}
        await ws.send_str(json.dumps({"id": 8, "method": "algoOrder.cancel", "params": signed(cancel)}))
        assert (await recv_json(ws))["result"]["msg"] == "success"
        assert s.venue.conditional.open_orders("BTCUSDT") == []
