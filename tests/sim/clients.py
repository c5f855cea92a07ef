"""Unmodified third-party Binance clients pointed at a running simulator, plus a primed-market server.

`primed_server()` starts a simulator whose synthetic market already holds `minutes` of history
(trades, mark and index prices): an `OffsetClock` runs the market from the past up to now, then
follows the wall clock, so signed requests from clients that stamp wall time stay valid.
"""

from __future__ import annotations

import time
from typing import Any

from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer


class OffsetClock:
    """Wall time shifted by `offset_ms` (negative while the market history is being played)."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def now_ns(self) -> int:
        return time.time_ns() + self.offset_ms * 1_000_000

    def now_ms(self) -> int:
        return self.now_ns() // 1_000_000

    def monotonic_ns(self) -> int:
        return time.monotonic_ns() + self.offset_ms * 1_000_000


async def primed_server(minutes: int = 6, step_ms: int = 1000, **config: Any) -> SimServer:
    """A started manual-market simulator with `minutes` of market history ending now."""
    clock = OffsetClock(-minutes * 60_000)
    server = SimServer(SimConfig(port=0, seed=11, manual_market=True, step_ms=step_ms, **config), clock=clock)
    await server.start()
    while clock.offset_ms < 0:
        clock.offset_ms = min(0, clock.offset_ms + step_ms)
        server.step_market(1)
    return server


def point_ccxt(exchange: Any, server: SimServer) -> None:
    """Override ccxt's Binance URLs (REST fapi v1/v2/v3 and the linear WS base) with the simulator's."""
    api = exchange.urls["api"]
    for name, url in list(api.items()):
        if name.startswith("fapi") and isinstance(url, str) and "/fapi/" in url:
            api[name] = server.rest_url + "/fapi/" + url.split("/fapi/")[1]
    if isinstance(api.get("ws"), dict):
        api["ws"]["linear"] = server.ws_url + "/ws"
        api["ws"]["ws-api"]["linear"] = server.ws_api_url


def ccxt_client(server: SimServer) -> Any:
    import ccxt.pro as ccxtpro

    # fetchCurrencies would call the spot wallet API (api.binance.com/sapi): not a futures endpoint.
    ex = ccxtpro.binanceusdm(
        {
            "apiKey": server.api_key,
            "secret": server.api_secret,
            "enableRateLimit": False,  # the simulator enforces the weights itself
            "options": {"fetchCurrencies": False},
        }
    )
    point_ccxt(ex, server)
    return ex


def sdk_client(server: SimServer) -> Any:
    from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketStreams
    from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
        DerivativesTradingUsdsFutures,
    )

    return DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(
            api_key=server.api_key, api_secret=server.api_secret, base_path=server.rest_url
        ),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=server.ws_url),
    )


def python_binance_client(server: SimServer) -> Any:
    """python-binance's synchronous Client with its futures base URL on the simulator."""
    from binance.client import Client

    client = Client(server.api_key, server.api_secret, ping=False)
    client.FUTURES_URL = server.rest_url + "/fapi"
    return client
