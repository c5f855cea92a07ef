"""Every REST endpoint answers with Binance's shape after a little trading; countdownCancelAll fires."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yarl

from grinder.core.clock import VirtualClock
from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer
from tests.fixtures.simulator import SimFactory, signed_query

pytestmark = pytest.mark.integration


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, s: SimServer, method: str, path: str, params: dict[str, Any] | None = None,
    *, signed: bool = True, ts: int | None = None,
) -> Any:  # fmt: skip
    from urllib.parse import urlencode

    query = signed_query(s, params, timestamp_ms=ts) if signed else urlencode(params or {})
    url = yarl.URL(f"{s.rest_url}{path}?{query}", encoded=True)
    async with http.request(method, url, headers={"X-MBX-APIKEY": s.api_key}) as r:
        body = await r.json()
        assert r.status == 200, (path, body)
        return body


async def test_account_endpoints_after_a_fill(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    s.step_market(15)
    await call(http, s, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 10})
    buy = await call(http, s, "POST", "/fapi/v1/order",
                     {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
                      "newOrderRespType": "RESULT"})  # fmt: skip
    assert (buy["status"], buy["executedQty"]) == ("FILLED", "0.010")
    bid, _ = s.market.books["BTCUSDT"].best_bid
    rest_price = s.rules["BTCUSDT"].price_str(bid - 500)
    resting = await call(http, s, "POST", "/fapi/v1/order",
                         {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                          "quantity": "0.002", "price": rest_price})  # fmt: skip

    v2 = await call(http, s, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
    assert (v2[0]["positionAmt"], v2[0]["leverage"], v2[0]["positionSide"]) == ("0.010", "10", "BOTH")
    v3 = await call(http, s, "GET", "/fapi/v3/positionRisk")
    assert [p["symbol"] for p in v3] == ["BTCUSDT"]  # only symbols with a position or open orders
    assert v3[0]["bidNotional"] == str(s.rules["BTCUSDT"].notional(bid - 500, 2).normalize())
    acc2 = await call(http, s, "GET", "/fapi/v2/account")
    acc3 = await call(http, s, "GET", "/fapi/v3/account")
    assert acc2["canTrade"] is True
    assert "canTrade" not in acc3
    assert acc2["totalWalletBalance"] == acc3["totalWalletBalance"]
    assert float(acc3["totalWalletBalance"]) < 10000  # fee paid
    bal = await call(http, s, "GET", "/fapi/v3/balance")
    assert bal[0]["asset"] == "USDT"
    assert bal[0]["updateTime"] > 0
    trades = await call(http, s, "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert [(t["orderId"], t["qty"], t["buyer"], t["maker"]) for t in trades] == [
        (buy["orderId"], "0.010", True, False)
    ]
    income = await call(http, s, "GET", "/fapi/v1/income", {"incomeType": "COMMISSION"})
    assert income[0]["income"].startswith("-")
    fees = await call(http, s, "GET", "/fapi/v1/commissionRate", {"symbol": "BTCUSDT"})
    assert (fees["makerCommissionRate"], fees["takerCommissionRate"]) == ("0.0002", "0.0005")
    opened = await call(http, s, "GET", "/fapi/v1/openOrders")
    assert [o["orderId"] for o in opened] == [resting["orderId"]]
    one = await call(
        http, s, "GET", "/fapi/v1/openOrder", {"symbol": "BTCUSDT", "orderId": resting["orderId"]}
    )
    assert one["status"] == "NEW"
    every = await call(http, s, "GET", "/fapi/v1/allOrders", {"symbol": "BTCUSDT"})
    assert [o["orderId"] for o in every] == [buy["orderId"], resting["orderId"]]
    modified = await call(http, s, "PUT", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([
        {"symbol": "BTCUSDT", "orderId": resting["orderId"], "side": "BUY", "quantity": "0.003", "price": rest_price}
    ])})  # fmt: skip
    assert modified[0]["origQty"] == "0.003"
    done = await call(http, s, "DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
    assert done == {"code": 200, "msg": "The operation of cancel all open order is done."}

    cfg = await call(http, s, "GET", "/fapi/v1/accountConfig")
    assert cfg["dualSidePosition"] is False
    sym_cfg = await call(http, s, "GET", "/fapi/v1/symbolConfig", {"symbol": "BTCUSDT"})
    assert (sym_cfg[0]["marginType"], sym_cfg[0]["leverage"]) == ("CROSSED", 10)
    brackets = await call(http, s, "GET", "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})
    assert brackets["brackets"][0]["maintMarginRatio"] == 0.004
    assert (await call(http, s, "GET", "/fapi/v1/positionSide/dual")) == {"dualSidePosition": False}
    assert (await call(http, s, "GET", "/fapi/v1/multiAssetsMargin")) == {"multiAssetsMargin": False}
    limits = await call(http, s, "GET", "/fapi/v1/rateLimit/order")
    assert {(x["interval"], x["limit"]) for x in limits} == {("SECOND", 300), ("MINUTE", 1200)}


async def test_public_endpoints(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    s.step_market(20)
    premium = await call(http, s, "GET", "/fapi/v1/premiumIndex", {"symbol": "ETHUSDT"}, signed=False)
    assert premium["symbol"] == "ETHUSDT"
    assert float(premium["markPrice"]) > 0
    assert premium["nextFundingTime"] % (8 * 3_600_000) == 0
    assert len(await call(http, s, "GET", "/fapi/v1/premiumIndex", signed=False)) == 2
    assert len(await call(http, s, "GET", "/fapi/v1/ticker/bookTicker", signed=False)) == 2
    price = await call(http, s, "GET", "/fapi/v1/ticker/price", {"symbol": "BTCUSDT"}, signed=False)
    assert float(price["price"]) > 0
    assert await call(http, s, "GET", "/fapi/v1/fundingRate", {"symbol": "BTCUSDT"}, signed=False) == []
    assert (await call(http, s, "GET", "/fapi/v1/time", signed=False))["serverTime"] > 0


async def test_countdown_cancel_all(http: aiohttp.ClientSession, sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(1_800_000_000_000)
    s = await sim_factory(SimConfig(port=0, manual_market=True), clock=clock)
    bid, _ = s.market.books["BTCUSDT"].best_bid
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
             "price": s.rules["BTCUSDT"].price_str(bid - 100)}  # fmt: skip
    await call(http, s, "POST", "/fapi/v1/order", order, ts=clock.now_ms())
    armed = await call(http, s, "POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 5000},
                       ts=clock.now_ms())  # fmt: skip
    assert armed == {"symbol": "BTCUSDT", "countdownTime": "5000"}
    clock.advance_ms(4_000)
    await s.housekeeping()
    assert len(s.venue.open_orders("BTCUSDT")) == 1
    clock.advance_ms(1_000)
    await s.housekeeping()
    assert s.venue.open_orders("BTCUSDT") == []
