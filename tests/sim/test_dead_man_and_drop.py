"""countdownCancelAll through the official SDK, and the drop_ws fault under uvloop (the `grinder sim` loop).

The countdown fires on the simulator's own clock: after arming, no request reaches the server and
the orders still go, each with an ORDER_TRADE_UPDATE on the user stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from grinder.core.clock import VirtualClock
from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer
from tests.fixtures.simulator import SimFactory

pytest.importorskip("binance_sdk_derivatives_trading_usds_futures")
from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import BadRequestError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)

pytestmark = pytest.mark.integration


def sdk_rest(server: SimServer) -> Any:
    config = ConfigurationRestAPI(
        api_key=server.api_key, api_secret=server.api_secret, base_path=server.rest_url
    )
    return DerivativesTradingUsdsFutures(config_rest_api=config).rest_api


async def _cancels(
    ws: aiohttp.ClientWebSocketResponse, want: int, timeout: float = 5
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < want:
        msg = await asyncio.wait_for(ws.receive(), deadline - asyncio.get_running_loop().time())
        doc = json.loads(msg.data)
        if doc.get("e") == "ORDER_TRADE_UPDATE" and doc["o"]["X"] == "CANCELED":
            got.append(doc["o"])
    return got


async def test_countdown_fires_on_the_sim_clock_with_no_request(sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(int(time.time() * 1000))
    s = await sim_factory(SimConfig(port=0, seed=7, manual_market=True), clock=clock)
    rest = sdk_rest(s)
    bid = s.market.books["BTCUSDT"].best_bid[0]
    price = float(s.rules["BTCUSDT"].price_str(bid - 200))

    def arm() -> tuple[list[int], Any, Any]:
        ids = [
            rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=0.01, price=price,
                           time_in_force="GTC").data().order_id
            for _ in range(2)
        ]  # fmt: skip
        rest.new_order(
            symbol="ETHUSDT", side="BUY", type="LIMIT", quantity=0.1, price=1000.0, time_in_force="GTC"
        )
        first = rest.auto_cancel_all_open_orders(symbol="BTCUSDT", countdown_time=10_000).data()
        # the timer restarts on every call: this one moves the deadline to t0 + 20 s
        again = rest.auto_cancel_all_open_orders(symbol="BTCUSDT", countdown_time=20_000).data()
        return ids, first, again

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{s.rest_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": s.api_key}) as r:
            key = (await r.json())["listenKey"]
        async with http.ws_connect(f"{s.ws_url}/private/ws/{key}") as ws:
            ids, first, again = await asyncio.to_thread(arm)
            assert (first.symbol, first.countdown_time) == ("BTCUSDT", "10000")
            assert again.countdown_time == "20000"
            requests = s.rest.requests
            clock.advance_ms(15_000)  # past the first deadline, before the restarted one
            await asyncio.sleep(0.2)  # several housekeeping ticks
            assert len(s.venue.open_orders("BTCUSDT")) == 2
            clock.advance_ms(5_000)
            cancels = await _cancels(ws, 2)  # the server's own timer, no request in between
            assert s.rest.requests == requests
    assert sorted(c["i"] for c in cancels) == sorted(ids)
    assert {c["x"] for c in cancels} == {"CANCELED"}
    assert s.venue.open_orders("BTCUSDT") == []
    assert len(s.venue.open_orders("ETHUSDT")) == 1  # only the armed symbol


async def test_countdown_zero_disarms_and_errors_keep_binance_codes(sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(int(time.time() * 1000))
    s = await sim_factory(SimConfig(port=0, seed=7, manual_market=True), clock=clock)
    rest = sdk_rest(s)
    bid = s.market.books["BTCUSDT"].best_bid[0]
    price = float(s.rules["BTCUSDT"].price_str(bid - 200))

    def arm_then_disarm() -> Any:
        rest.new_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=0.01, price=price, time_in_force="GTC"
        )
        rest.auto_cancel_all_open_orders(symbol="BTCUSDT", countdown_time=1_000)
        return rest.auto_cancel_all_open_orders(symbol="BTCUSDT", countdown_time=0).data()

    off = await asyncio.to_thread(arm_then_disarm)
    assert off.countdown_time == "0"
    with pytest.raises(BadRequestError) as bad_symbol:
        await asyncio.to_thread(
            lambda: rest.auto_cancel_all_open_orders(symbol="NOPEUSDT", countdown_time=1000)
        )
    assert (bad_symbol.value.status_code, bad_symbol.value.error_message) == (-1121, "Invalid symbol.")
    clock.advance_ms(60_000)
    await s.housekeeping()
    assert len(s.venue.open_orders("BTCUSDT")) == 1


def test_drop_ws_closes_the_tcp_connection_under_uvloop() -> None:
    """`grinder sim` runs on uvloop; there a drop must reach the client as a closed socket, not a stall."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> tuple[str, int]:
        async with SimServer(SimConfig(port=0, seed=7, manual_market=True)) as s:
            assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
            url = f"{s.ws_url}/public/ws/btcusdt@bookTicker"
            async with aiohttp.ClientSession() as http, http.ws_connect(url, autoping=False) as ws:
                async with http.post(f"{s.rest_url}/_sim/actions/drop_ws") as r:
                    dropped = (await r.json())["dropped"]
                msg = await asyncio.wait_for(ws.receive(), 3)
                return msg.type.name, dropped

    kind, dropped = uvloop.run(scenario())
    assert dropped == 1
    assert kind in ("CLOSED", "ERROR", "CLOSE")
