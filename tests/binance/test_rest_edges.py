"""Protocol edges the simulator does not produce, against a tiny aiohttp server inside the test."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from grinder.binance.config import BinanceConfig
from grinder.binance.errors import MSG_503_UNKNOWN, BinanceAPIError, BinanceUnknownOutcome, ErrorKind
from grinder.binance.governor import WEIGHT_1M, RateLimitGovernor
from grinder.binance.rest import BinanceRestClient
from grinder.binance.user_stream import UserDataStream
from grinder.core.clock import VirtualClock
from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, Side
from grinder.core.events import OrderUpdate
from grinder.core.rules import btcusdt_rules

pytestmark = pytest.mark.integration

KEY = "edge-test-api-key-AAAAAAAAAAAAAAAAAAAAAAAA"
SECRET = "edge-test-secret-BBBBBBBBBBBBBBBBBBBBBBBBBB"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Script:
    """Responses served in order per path; records every request."""

    def __init__(self) -> None:
        self.responses: dict[str, list[Handler]] = {}
        self.requests: list[web.Request] = []

    def on(self, path: str, *handlers: Handler) -> None:
        self.responses.setdefault(path, []).extend(handlers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if request.path == "/fapi/v1/time":
            return web.json_response({"serverTime": 1_700_000_000_000})
        queue = self.responses.get(request.path, [])
        if not queue:
            return web.json_response({"code": -9999, "msg": "no scripted response"}, status=500)
        return await queue.pop(0)(request)


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Handler:
    async def h(request: web.Request) -> web.StreamResponse:
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, headers=headers, content_type="application/json")
    return h


def hang(seconds: float) -> Handler:
    async def h(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response({})
    return h


ORDER = {"orderId": 1, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": "grinder_x_BTCUSDT_b1_1_1",
         "price": "60000.00", "origQty": "0.010", "executedQty": "0", "side": "BUY", "type": "LIMIT"}


@pytest.fixture
async def server() -> AsyncIterator[tuple[Script, str]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield script, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def cmd(cid: str = "grinder_x_BTCUSDT_b1_1_1") -> PlaceOrder:
    return PlaceOrder("BTCUSDT", Side.BUY, OrderType.LIMIT, 10, cid, price_ticks=600000)


async def make(url: str, **kw: Any) -> BinanceRestClient:
    kw.setdefault("retry_backoff_s", 0.01)
    return BinanceRestClient(url, api_key=KEY, api_secret=SECRET, **kw)


async def test_503_without_code_on_write_is_unknown_outcome(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/order", reply(503, {"timestamp": 1, "path": "/fapi/v1/order", "msg": MSG_503_UNKNOWN}))
    c = await make(url)
    with pytest.raises(BinanceUnknownOutcome) as info:
        await c.new_order(cmd(), btcusdt_rules())
    assert info.value.code is None and info.value.http_status == 503
    assert sum(r.path == "/fapi/v1/order" for r in script.requests) == 1  # never retried blindly
    await c.close()


async def test_read_5xx_is_retried_then_succeeds(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/openOrders", reply(502, "<html>Bad gateway</html>"), reply(200, [ORDER]))
    c = await make(url)
    orders = await c.open_orders("BTCUSDT")
    assert orders[0].orderId == 1
    await c.close()


async def test_retry_after_is_honoured(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/openOrders",
              reply(429, {"code": -1003, "msg": "Too many requests"}, {"Retry-After": "0.3"}),
              reply(200, []))
    c = await make(url, max_retries=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await c.open_orders("BTCUSDT") == []
    assert loop.time() - start >= 0.25
    await c.close()


async def test_timeouts_write_unknown_read_retryable(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/order", hang(1.0))
    c = await make(url, timeout_s=0.2, max_retries=0)
    with pytest.raises(BinanceUnknownOutcome, match="no response within"):
        await c.new_order(cmd(), btcusdt_rules())
    script.on("/fapi/v1/openOrders", hang(1.0))
    with pytest.raises(BinanceAPIError) as info:
        await c.open_orders("BTCUSDT")
    assert info.value.kind is ErrorKind.RETRYABLE and not isinstance(info.value, BinanceUnknownOutcome)
    await c.close()


async def test_undecodable_success_body_on_write_is_unknown(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/order", reply(200, {"unexpected": True}))
    c = await make(url)
    with pytest.raises(BinanceUnknownOutcome, match="resolve the order by query"):
        await c.new_order(cmd(), btcusdt_rules())
    await c.close()


async def test_lowercase_headers_feed_the_governor(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/openOrders", reply(200, [], {"x-mbx-used-weight-1m": "1234"}))
    gov = RateLimitGovernor()
    c = await make(url, governor=gov)
    await c.open_orders("BTCUSDT")
    assert gov.usage()[WEIGHT_1M][0] == 1234
    await c.close()


async def test_connection_refused_is_retryable_and_names_no_secret() -> None:
    c = BinanceRestClient("http://127.0.0.1:9", api_key=KEY, api_secret=SECRET, max_retries=1, retry_backoff_s=0.01)
    with pytest.raises(BinanceAPIError) as info:
        await c.account()
    assert info.value.kind is ErrorKind.RETRYABLE and "cannot connect" in str(info.value)
    assert SECRET not in str(info.value) and KEY not in str(info.value)
    await c.close()


async def test_bad_commands_are_refused_before_sending(server: tuple[Script, str]) -> None:
    script, url = server
    c = await make(url)
    with pytest.raises(ValueError, match="client order id"):
        await c.new_order(cmd("has space"), btcusdt_rules())
    with pytest.raises(ValueError, match="LIMIT order needs a positive price"):
        await c.new_order(PlaceOrder("BTCUSDT", Side.BUY, OrderType.LIMIT, 10, "grinder_a"), btcusdt_rules())
    with pytest.raises(ValueError, match="rules of BTCUSDT"):
        await c.new_order(PlaceOrder("ETHUSDT", Side.BUY, OrderType.MARKET, 10, "grinder_a"), btcusdt_rules())
    anon = BinanceRestClient(url)
    with pytest.raises(BinanceAPIError, match="BINANCE_API_KEY"):
        await anon.account()
    assert not any(r.path == "/fapi/v1/order" for r in script.requests)
    await c.close()
    await anon.close()


async def test_signed_request_shape_and_secret_hygiene(
    server: tuple[Script, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script, url = server
    script.on("/fapi/v1/order", reply(400, {"code": -4164, "msg": "Order's notional must be no smaller than 100"}))
    c = await make(url)
    with pytest.raises(BinanceAPIError) as info:
        await c.new_order(cmd(), btcusdt_rules())
    assert info.value.kind is ErrorKind.NON_RETRYABLE and info.value.code == -4164
    req = next(r for r in script.requests if r.path == "/fapi/v1/order")
    assert req.headers["X-MBX-APIKEY"] == KEY
    assert req.query_string.split("&")[-1].startswith("signature=")
    assert {"recvWindow", "timestamp", "newClientOrderId", "price", "quantity"} <= set(req.query)
    assert req.query["price"] == "60000.00" and req.query["quantity"] == "0.010"
    for text in (caplog.text, str(info.value), repr(info.value), repr(c)):
        assert SECRET not in text and KEY not in text
    await c.close()


async def test_offset_from_server_time_and_periodic_resync(server: tuple[Script, str]) -> None:
    script, url = server
    clock = VirtualClock.from_ms(1_699_999_990_000)  # 10 s behind the scripted server
    script.on("/fapi/v1/openOrders", reply(200, []), reply(200, []), reply(200, []))
    c = await make(url, clock=clock, time_resync_interval_s=1800)
    await c.open_orders("BTCUSDT")
    assert c.offset_ms == 10_000
    signed = [r for r in script.requests if r.path == "/fapi/v1/openOrders"][-1]
    assert signed.query["timestamp"] == "1700000000000" and signed.query["recvWindow"] == "5000"
    time_calls = sum(r.path == "/fapi/v1/time" for r in script.requests)
    assert time_calls == 3  # median of three samples
    await c.open_orders("BTCUSDT")
    assert sum(r.path == "/fapi/v1/time" for r in script.requests) == 3
    clock.advance_ms(1_800_000)  # 30 min later: re-sync before the next signed request
    await c.open_orders("BTCUSDT")
    assert sum(r.path == "/fapi/v1/time" for r in script.requests) == 6
    await c.close()


async def test_from_config_reads_credentials_from_the_environment(server: tuple[Script, str]) -> None:
    script, url = server
    script.on("/fapi/v1/openOrders", reply(200, []))
    cfg = BinanceConfig(rest_url=url, recv_window_ms=3000)
    anon = BinanceRestClient.from_config(cfg, environ={})
    assert not anon.has_credentials
    c = BinanceRestClient.from_config(cfg, environ={"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET})
    assert c.has_credentials and KEY not in repr(c)
    await c.open_orders("BTCUSDT")
    signed = [r for r in script.requests if r.path == "/fapi/v1/openOrders"][-1]
    assert signed.headers["X-MBX-APIKEY"] == KEY and signed.query["recvWindow"] == "3000"
    await c.close()
    await anon.close()


async def test_recovery_pages_user_trades_past_the_limit(server: tuple[Script, str]) -> None:
    script, url = server

    def trades(ids: range) -> list[dict[str, Any]]:
        return [{"symbol": "BTCUSDT", "id": i, "orderId": 9, "side": "BUY", "price": "60000.00", "qty": "0.001",
                 "realizedPnl": "0", "commission": "0", "commissionAsset": "USDT", "time": 1_700_000_000_000,
                 "maker": True} for i in ids]

    script.on("/fapi/v1/userTrades", reply(200, trades(range(1, 1001))), reply(200, trades(range(1001, 1004))))
    script.on("/fapi/v1/order", reply(200, {**ORDER, "orderId": 9, "origQty": "1.003", "executedQty": "1.003",
                                            "status": "FILLED"}))
    script.on("/fapi/v1/openOrders", reply(200, []))
    c = await make(url)
    c.rules["BTCUSDT"] = btcusdt_rules()
    events: list[Any] = []
    us = UserDataStream(c, c.rules, symbols=["BTCUSDT"], on_event=events.append)
    assert await us.recover("test") == 1003
    fills = [e for e in events if isinstance(e, OrderUpdate)]
    assert [f.trade_id for f in fills] == list(range(1, 1004))
    assert fills[-1].cum_filled_lots == 1003 and fills[-1].status is OrderStatus.FILLED
    paged = [r for r in script.requests if r.path == "/fapi/v1/userTrades"]
    assert "startTime" in paged[0].query and paged[1].query["fromId"] == "1001"
    await c.close()
