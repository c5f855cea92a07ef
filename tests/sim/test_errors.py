"""Error fidelity: every Binance error the simulator produces, with its exact body and HTTP status.

Requests go over loopback with aiohttp exactly as a client would send them (raw query strings,
form bodies, headers), so signing, parameter parsing and error rendering are all exercised.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yarl

from grinder.core.clock import VirtualClock
from grinder.sim.auth import sign
from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer
from tests.fixtures.simulator import SimFactory, signed_query

pytestmark = pytest.mark.integration

MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    server: SimServer,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    signed: bool = True,
    key: str | None = "default",
    timestamp_ms: int | None = None,
) -> tuple[int, Any, dict[str, str]]:
    query = signed_query(server, params, timestamp_ms=timestamp_ms) if signed else urlencode(params or {})
    headers = {} if key is None else {"X-MBX-APIKEY": server.api_key if key == "default" else key}
    # encoded=True: send the query byte for byte as signed (yarl would otherwise re-quote it).
    url = yarl.URL(f"{server.rest_url}{path}?{query}", encoded=True)
    async with http.request(method, url, headers=headers) as r:
        return r.status, await r.json(), dict(r.headers)


def limit_buy(
    server: SimServer, offset_ticks: int = -200, qty: str = "0.010", **extra: Any
) -> dict[str, Any]:
    bid, _ = server.market.books["BTCUSDT"].best_bid
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": qty,
        "price": server.rules["BTCUSDT"].price_str(bid + offset_ticks),
    }
    params.update(extra)
    return params


# ---------------------------------------------------------------------------- authentication
async def test_api_key_errors(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    status, body, headers = await call(http, s, "GET", "/fapi/v2/balance", key=None)
    assert (status, body) == (401, {"code": -2014, "msg": "API-key format invalid."})
    status, body, headers = await call(http, s, "GET", "/fapi/v2/balance", key="not-our-key")
    assert status == 401
    assert body["code"] == -2015
    assert body["msg"] == "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"
    assert "X-MBX-USED-WEIGHT-1M" in headers
    # listenKey endpoints need the key but no signature.
    status, body, _ = await call(http, s, "POST", "/fapi/v1/listenKey", signed=False, key=None)
    assert (status, body["code"]) == (401, -2014)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/listenKey", signed=False)
    assert status == 200
    assert len(body["listenKey"]) == 64


async def test_signature_errors(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    headers = {"X-MBX-APIKEY": s.api_key}
    query = urlencode({"timestamp": int(time.time() * 1000)})
    async with http.get(f"{s.rest_url}/fapi/v2/balance?{query}", headers=headers) as r:
        assert (r.status, await r.json()) == (400, {"code": -1102, "msg": MANDATORY.format("signature")})
    async with http.get(f"{s.rest_url}/fapi/v2/balance?{query}&signature={'0' * 64}", headers=headers) as r:
        assert (r.status, await r.json()) == (
            400,
            {"code": -1022, "msg": "Signature for this request is not valid."},
        )
    # A signature over the parameters in a different order is a different signature.
    good = sign(s.api_secret, query)
    async with http.get(
        f"{s.rest_url}/fapi/v2/balance?{query}&signature={good.upper()}", headers=headers
    ) as r:
        assert r.status == 200  # hex is case-insensitive


async def test_query_and_body_are_signed_concatenated(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    """Signature = HMAC(query ‖ body); a parameter in both places takes the query's value."""
    s = sim_server_manual
    params = limit_buy(s)
    query = f"symbol=BTCUSDT&side=BUY&timestamp={int(time.time() * 1000)}"
    body = urlencode({k: v for k, v in params.items() if k not in ("symbol", "side")} | {"side": "SELL"})
    signature = sign(s.api_secret, query + body)
    headers = {"X-MBX-APIKEY": s.api_key, "Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(
        f"{s.rest_url}/fapi/v1/order?{query}", data=f"{body}&signature={signature}", headers=headers
    ) as r:
        placed = await r.json()
        assert r.status == 200, placed
    assert placed["side"] == "BUY"  # the query's side won over the body's SELL
    # Signing query and body joined with '&' (a classic client bug) is refused.
    wrong = sign(s.api_secret, query + "&" + body)
    async with http.post(
        f"{s.rest_url}/fapi/v1/order?{query}", data=f"{body}&signature={wrong}", headers=headers
    ) as r:
        assert (await r.json())["code"] == -1022


async def test_timestamp_errors(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    now = int(time.time() * 1000)
    status, body, _ = await call(http, s, "GET", "/fapi/v2/balance", timestamp_ms=now - 10_000)
    assert (status, body) == (
        400,
        {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
    )
    status, body, _ = await call(
        http, s, "GET", "/fapi/v2/balance", {"recvWindow": 20_000}, timestamp_ms=now - 10_000
    )
    assert status == 200
    status, body, _ = await call(http, s, "GET", "/fapi/v2/balance", timestamp_ms=now + 5_000)
    assert (status, body) == (
        400,
        {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."},
    )
    status, body, _ = await call(http, s, "GET", "/fapi/v2/balance", {"recvWindow": 70_000})
    assert (status, body) == (400, {"code": -1131, "msg": "recvWindow must be less than 60000."})
    q = "timestamp=abc"
    async with http.get(
        f"{s.rest_url}/fapi/v2/balance?{q}&signature={sign(s.api_secret, q)}",
        headers={"X-MBX-APIKEY": s.api_key},
    ) as r:
        assert (await r.json())["code"] == -1100
    q = "recvWindow=5000"
    async with http.get(
        f"{s.rest_url}/fapi/v2/balance?{q}&signature={sign(s.api_secret, q)}",
        headers={"X-MBX-APIKEY": s.api_key},
    ) as r:
        assert await r.json() == {"code": -1102, "msg": MANDATORY.format("timestamp")}


async def test_clock_skew_fault_moves_server_time(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    s.control.set_faults(clock_skew_ms=-30_000)
    _, body, _ = await call(http, s, "GET", "/fapi/v1/time", signed=False)
    assert abs(body["serverTime"] - (time.time() * 1000 - 30_000)) < 2_000
    _, body, _ = await call(http, s, "GET", "/fapi/v2/balance")
    assert body["code"] == -1021  # our wall-clock timestamp is now 30 s "ahead" of the server


# ---------------------------------------------------------------------------- order parameters
ORDER_PARAM_CASES = [
    ({"symbol": None}, -1102, MANDATORY.format("symbol")),
    ({"symbol": "XXXUSDT"}, -1121, "Invalid symbol."),
    ({"side": "HOLD"}, -1117, "Invalid side."),
    ({"type": "ICEBERG"}, -1116, "Invalid orderType."),
    (
        {"type": "STOP_MARKET"},
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    ),
    ({"timeInForce": "GTE"}, -1115, "Invalid timeInForce."),
    ({"price": None}, -1102, MANDATORY.format("price")),
    ({"quantity": "abc"}, -1102, MANDATORY.format("quantity")),
    ({"type": "MARKET", "timeInForce": None}, -1106, "Parameter 'price' sent when not required."),
    ({"newClientOrderId": "bad id!"}, -4015, "Client order id is not valid."),
    ({"newClientOrderId": "x" * 37}, -4015, "Client order id length should not be more than 36 chars"),
    ({"quantity": "0.0105"}, -1111, "Precision is over the maximum defined for this asset."),
    ({"quantity": "0"}, -4003, "Quantity less than or equal to zero."),
    ({"quantity": "2000"}, -4005, "Quantity greater than max quantity."),
    (
        {"quantity": "0.001"},
        -4164,
        "Order's notional must be no smaller than 100 (unless you choose reduce only)",
    ),
    ({"price": "100.00"}, -4013, "Price less than min price."),
    ({"price": "5000000.00"}, -4002, "Price greater than max price."),
    ({"price": "90000.00"}, -4016, "Price is higher than mark price multiplier cap."),
    ({"side": "SELL", "price": "40000.00"}, -4024, "Price is lower than mark price multiplier floor."),
    ({"price": "60000.05"}, -4014, "Price not increased by tick size."),
    ({"reduceOnly": "maybe"}, -1130, "Data sent for parameter 'reduceOnly' is not valid."),
]


@pytest.mark.parametrize(("changes", "code", "msg"), ORDER_PARAM_CASES)
async def test_new_order_rejections(
    http: aiohttp.ClientSession, sim_server_manual: SimServer, changes: dict[str, Any], code: int, msg: str
) -> None:
    s = sim_server_manual
    params = limit_buy(s)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", params)
    assert (status, body) == (400, {"code": code, "msg": msg})
    assert s.venue.open_orders("BTCUSDT") == []  # nothing was placed


async def test_time_in_force_outcome_rejections(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    ask, _ = s.market.books["BTCUSDT"].best_ask
    crossing = s.rules["BTCUSDT"].price_str(ask + 10)
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/order", limit_buy(s, timeInForce="GTX", price=crossing)
    )
    assert (status, body["code"]) == (400, -5022)
    assert body["msg"].startswith("Due to the order could not be executed as maker")
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/order", limit_buy(s, timeInForce="FOK", price=crossing, quantity="900")
    )
    assert (status, body["code"]) == (400, -5021)


async def test_order_lookup_and_modify_errors(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    status, body, _ = await call(http, s, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 999})
    assert (status, body) == (400, {"code": -2011, "msg": "Unknown order sent."})
    status, body, _ = await call(
        http, s, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "nope"}
    )
    assert (status, body) == (400, {"code": -2013, "msg": "Order does not exist."})
    status, body, _ = await call(http, s, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT"})
    assert (status, body) == (
        400,
        {"code": -1102, "msg": "Either orderId or origClientOrderId must be sent."},
    )
    status, body, _ = await call(http, s, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "1x"})
    assert (status, body["code"]) == (400, -1100)
    params = limit_buy(s)
    _, placed, _ = await call(http, s, "POST", "/fapi/v1/order", params)
    same = {k: params[k] for k in ("symbol", "side", "quantity", "price")} | {"orderId": placed["orderId"]}
    status, body, _ = await call(http, s, "PUT", "/fapi/v1/order", same)
    assert (status, body) == (400, {"code": -5027, "msg": "No need to modify the order."})
    await call(http, s, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
    status, body, _ = await call(
        http, s, "GET", "/fapi/v1/openOrder", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    assert (status, body) == (400, {"code": -2013, "msg": "Order does not exist."})
    status, body, _ = await call(
        http, s, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    assert (status, body["status"]) == (200, "CANCELED")


async def test_account_setting_errors(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "CROSSED"}
    )
    assert (status, body) == (400, {"code": -4046, "msg": "No need to change margin type."})
    status, body, _ = await call(http, s, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"})
    assert (status, body) == (400, {"code": -4059, "msg": "No need to change position side."})
    status, body, _ = await call(http, s, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 200})
    assert (status, body["code"]) == (400, -4028)
    await call(http, s, "POST", "/fapi/v1/order", limit_buy(s))
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"}
    )
    assert (status, body["code"]) == (400, -4047)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    assert (status, body["code"]) == (400, -4067)
    status, body, _ = await call(http, s, "PUT", "/fapi/v1/listenKey", signed=False)
    assert (status, body) == (400, {"code": -1125, "msg": "This listenKey does not exist."})
    status, body, _ = await call(
        http, s, "GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 7}, signed=False
    )
    assert (status, body) == (400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."})


async def test_batch_orders_report_each_item(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    import json

    s = sim_server_manual
    good = limit_buy(s)
    bad = limit_buy(s, quantity="0.001")
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([good, bad])}
    )
    assert status == 200
    assert body[0]["status"] == "NEW"
    assert body[1]["code"] == -4164
    ids = json.dumps([body[0]["orderId"], 424242])
    status, body, _ = await call(
        http, s, "DELETE", "/fapi/v1/batchOrders", {"symbol": "BTCUSDT", "orderIdList": ids}
    )
    assert body[0]["status"] == "CANCELED"
    assert body[1] == {"code": -2011, "msg": "Unknown order sent."}
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([good] * 6)}
    )
    assert (status, body) == (
        400,
        {"code": -1130, "msg": "Data sent for parameter 'batchOrders' is not valid."},
    )


# ---------------------------------------------------------------------------- rate limits
async def test_weight_limit_429_then_ban_418(http: aiohttp.ClientSession, sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(1_800_000_000_000)
    s = await sim_factory(
        SimConfig(
            port=0, manual_market=True, weight_limit_1m=5, ban_after_rejections=3, ban_initial_ms=120_000
        ),
        clock=clock,
    )
    for used in range(1, 6):
        status, _, headers = await call(http, s, "GET", "/fapi/v1/ping", signed=False)
        assert (status, headers["X-MBX-USED-WEIGHT-1M"]) == (200, str(used))
    status, body, headers = await call(http, s, "GET", "/fapi/v1/ping", signed=False)
    assert status == 429
    assert headers["Retry-After"] == "60"  # the clock sits on a minute boundary
    assert body["code"] == -1003
    assert body["msg"].startswith(
        "Too many requests; current limit of IP(127.0.0.1) is 5 requests per minute."
    )
    await call(http, s, "GET", "/fapi/v1/ping", signed=False)
    await call(http, s, "GET", "/fapi/v1/ping", signed=False)  # third refusal: banned
    status, body, headers = await call(http, s, "GET", "/fapi/v1/ping", signed=False)
    assert status == 418
    assert headers["Retry-After"] == "120"
    assert body["code"] == -1003
    assert f"banned until {1_800_000_000_000 + 120_000}" in body["msg"]
    clock.advance_ms(60_000)  # new minute, still banned
    assert (await call(http, s, "GET", "/fapi/v1/ping", signed=False))[0] == 418
    clock.advance_ms(61_000)
    assert (await call(http, s, "GET", "/fapi/v1/ping", signed=False))[0] == 200


async def test_order_rate_limit_1015(http: aiohttp.ClientSession, sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(1_800_000_000_000)
    s = await sim_factory(SimConfig(port=0, manual_market=True, orders_limit_10s=2), clock=clock)
    for n in (1, 2):
        status, body, headers = await call(
            http, s, "POST", "/fapi/v1/order", limit_buy(s), timestamp_ms=clock.now_ms()
        )
        assert status == 200, body
        assert headers["X-MBX-ORDER-COUNT-10S"] == str(n)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s), timestamp_ms=clock.now_ms())
    assert (status, body) == (
        429,
        {"code": -1015, "msg": "Too many new orders; current limit is 2 orders per 10 SECOND."},
    )
    assert len(s.venue.open_orders("BTCUSDT")) == 2
    clock.advance_ms(10_000)
    status, _, headers = await call(
        http, s, "POST", "/fapi/v1/order", limit_buy(s), timestamp_ms=clock.now_ms()
    )
    assert (status, headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1M"]) == (200, "1", "3")


# ---------------------------------------------------------------------------- execution faults
async def test_unknown_503_after_execution_leaves_the_order(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    s.control.set_faults(unknown_after_execute=1)
    params = limit_buy(s, newClientOrderId="grinder_t_BTCUSDT_1_1_7")
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", params)
    assert (status, body) == (
        503,
        {"code": -1000, "msg": "Unknown error, please check your request or try again later."},
    )
    status, body, _ = await call(
        http,
        s,
        "GET",
        "/fapi/v1/order",
        {"symbol": "BTCUSDT", "origClientOrderId": "grinder_t_BTCUSDT_1_1_7"},
    )
    assert (status, body["status"]) == (200, "NEW")  # it was executed


async def test_503_before_execution_and_throttle_leave_nothing(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    s.control.set_faults(unavailable_before_execute=1, throttle=1)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s, newClientOrderId="a1"))
    assert (status, body) == (503, {"code": -1001, "msg": "Service Unavailable."})
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s, newClientOrderId="a2"))
    assert (status, body["code"]) == (503, -1008)
    assert s.venue.open_orders("BTCUSDT") == []
    s.control.set_faults(reject_rate=1.0, reject_code=-2019)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s))
    assert (status, body) == (400, {"code": -2019, "msg": "Margin is insufficient."})
    s.control.clear_faults()
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s))
    assert status == 200


async def test_injected_429_and_418(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    s.control.set_faults(too_many_requests=1, ban=1)
    statuses = [(await call(http, s, "GET", "/fapi/v1/ping", signed=False))[0] for _ in range(3)]
    assert statuses == [418, 429, 200]


async def test_control_api_over_http(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    async with http.post(f"{s.rest_url}/_sim/faults", json={"delay_ms": 1, "depth_gaps": 2}) as r:
        plan = await r.json()
    assert (plan["delay_ms"], plan["depth_gaps"]) == (1, 2)
    async with http.post(f"{s.rest_url}/_sim/faults", json={"no_such_fault": 1}) as r:
        assert r.status == 400
        assert "unknown fault 'no_such_fault'" in (await r.json())["error"]
    async with http.post(f"{s.rest_url}/_sim/faults", json={"delay_ms": "slow"}) as r:
        assert r.status == 400
    async with http.delete(f"{s.rest_url}/_sim/faults") as r:
        assert (await r.json())["delay_ms"] == 0
    before = s.market.books["BTCUSDT"].last_update_id
    async with http.post(f"{s.rest_url}/_sim/actions/step", json={"count": 3}) as r:
        assert (await r.json()) == {"applied": 3}
    async with http.get(f"{s.rest_url}/_sim/state") as r:
        state = await r.json()
    assert state["books"]["BTCUSDT"]["lastUpdateId"] > before
    assert Decimal(state["books"]["BTCUSDT"]["bid"]) < Decimal(state["books"]["BTCUSDT"]["ask"])


async def test_position_mode_reduce_only_margin_and_max_orders(
    http: aiohttp.ClientSession, sim_factory: SimFactory
) -> None:
    from dataclasses import replace

    from grinder.core.rules import btcusdt_rules

    rules = {"BTCUSDT": replace(btcusdt_rules(), max_num_orders=2)}
    s = await sim_factory(SimConfig(port=0, symbols=("BTCUSDT",), manual_market=True), rules=rules)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s, positionSide="LONG"))
    assert (status, body) == (
        400,
        {"code": -4061, "msg": "Order's position side does not match user's setting."},
    )
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/order", limit_buy(s, side="SELL", reduceOnly="true")
    )
    assert (status, body["code"]) == (400, -2022)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s, quantity="900"))
    assert (status, body) == (400, {"code": -2019, "msg": "Margin is insufficient."})
    for _ in range(2):
        assert (await call(http, s, "POST", "/fapi/v1/order", limit_buy(s)))[0] == 200
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s))
    assert (status, body) == (400, {"code": -2025, "msg": "Reach max open order limit."})
    await call(http, s, "DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
    status, body, _ = await call(http, s, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    assert (status, body) == (200, {"code": 200, "msg": "success"})
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/order", limit_buy(s, positionSide="LONG", reduceOnly="false")
    )
    assert (status, body["code"]) == (400, -1106)
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s))
    assert (status, body["code"]) == (400, -4061)  # hedge mode needs LONG/SHORT
    status, body, _ = await call(http, s, "POST", "/fapi/v1/order", limit_buy(s, positionSide="LONG"))
    assert (status, body["positionSide"]) == (200, "LONG")


async def test_delay_fault_slows_answers(http: aiohttp.ClientSession, sim_server_manual: SimServer) -> None:
    s = sim_server_manual
    s.control.set_faults(delay_ms=150)
    t0 = time.perf_counter()
    status, _, _ = await call(http, s, "GET", "/fapi/v1/ping", signed=False)
    assert status == 200
    assert time.perf_counter() - t0 >= 0.15


async def test_settings_refused_with_a_position(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    s = sim_server_manual
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
    assert (await call(http, s, "POST", "/fapi/v1/order", market))[0] == 200
    status, body, _ = await call(
        http, s, "POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"}
    )
    assert (status, body) == (
        400,
        {"code": -4048, "msg": "Margin type cannot be changed if there exists position."},
    )
    status, body, _ = await call(http, s, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    assert (status, body) == (
        400,
        {"code": -4068, "msg": "Position side cannot be changed if there exists position."},
    )
    status, body, _ = await call(http, s, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
    assert (status, body[0]["positionAmt"], body[0]["marginType"]) == (200, "0.010", "cross")


async def test_metrics_endpoint_counts_requests_and_faults(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    s = sim_server_manual
    pings = value("grinder_sim_rest_requests_total", endpoint="/fapi/v1/ping", status="200")
    throttles = value("grinder_sim_faults_injected_total", fault="throttle")
    await call(http, s, "GET", "/fapi/v1/ping", signed=False)
    s.control.set_faults(throttle=1)
    await call(http, s, "POST", "/fapi/v1/order", limit_buy(s))
    assert value("grinder_sim_rest_requests_total", endpoint="/fapi/v1/ping", status="200") == pings + 1
    assert value("grinder_sim_faults_injected_total", fault="throttle") == throttles + 1
    async with http.get(f"{s.rest_url}/metrics") as r:
        text = await r.text()
    assert 'grinder_sim_rest_requests_total{endpoint="/fapi/v1/order",status="503"}' in text
