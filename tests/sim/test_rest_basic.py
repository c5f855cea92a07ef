"""REST basics over loopback: public market data, signed order round trip, rate-limit headers."""

from __future__ import annotations

import aiohttp
import pytest

from grinder.sim.server import SimServer
from tests.fixtures.simulator import signed_query

pytestmark = pytest.mark.integration


async def test_public_market_data_is_consistent(sim_server_manual: SimServer) -> None:
    server = sim_server_manual
    server.step_market(5)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.rest_url}/fapi/v1/ping") as r:
            assert r.status == 200
            assert await r.json() == {}
            assert r.headers["X-MBX-USED-WEIGHT-1M"] == "1"
        async with http.get(f"{server.rest_url}/fapi/v1/exchangeInfo") as r:
            info = await r.json()
        symbols = {s["symbol"]: s for s in info["symbols"]}
        assert set(symbols) == {"BTCUSDT", "ETHUSDT"}
        filters = {f["filterType"]: f for f in symbols["BTCUSDT"]["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
        assert {rl["rateLimitType"] for rl in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
        async with http.get(
            f"{server.rest_url}/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": "5"}
        ) as r:
            depth = await r.json()
        async with http.get(
            f"{server.rest_url}/fapi/v1/ticker/bookTicker", params={"symbol": "BTCUSDT"}
        ) as r:
            ticker = await r.json()
    book = server.market.books["BTCUSDT"]
    assert depth["lastUpdateId"] == book.last_update_id == ticker["lastUpdateId"]
    assert len(depth["bids"]) == 5
    assert depth["bids"][0] == [ticker["bidPrice"], ticker["bidQty"]]
    assert depth["asks"][0] == [ticker["askPrice"], ticker["askQty"]]
    assert float(depth["bids"][0][0]) < float(depth["asks"][0][0])


async def test_signed_limit_order_round_trip(sim_server_manual: SimServer) -> None:
    server = sim_server_manual
    bid_ticks, _ = server.market.books["BTCUSDT"].best_bid
    price = server.rules["BTCUSDT"].price_str(bid_ticks - 100)
    headers = {"X-MBX-APIKEY": server.api_key}
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.010",
        "price": price,
        "newClientOrderId": "grinder_t_BTCUSDT_1_1_1",
    }
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{server.rest_url}/fapi/v1/order?{signed_query(server, params)}") as r:
            assert r.status == 200, await r.text()
            placed = await r.json()
            assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1"
            assert r.headers["X-MBX-ORDER-COUNT-1M"] == "1"
        assert placed["status"] == "NEW"
        assert placed["price"] == price
        assert placed["origQty"] == "0.010"
        q = signed_query(server, {"symbol": "BTCUSDT", "origClientOrderId": "grinder_t_BTCUSDT_1_1_1"})
        async with http.get(f"{server.rest_url}/fapi/v1/order?{q}") as r:
            queried = await r.json()
        assert queried["orderId"] == placed["orderId"]
        assert "time" in queried
        q = signed_query(server, {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
        async with http.delete(f"{server.rest_url}/fapi/v1/order?{q}") as r:
            cancelled = await r.json()
        assert cancelled["status"] == "CANCELED"
        async with http.delete(
            f"{server.rest_url}/fapi/v1/order?{signed_query(server, {'symbol': 'BTCUSDT', 'orderId': placed['orderId']})}"
        ) as r:
            assert r.status == 400
            assert await r.json() == {"code": -2011, "msg": "Unknown order sent."}
