"""Unmodified third-party Binance clients pointed at a running simulator, plus a primed-market server.

`primed_server()` starts a simulator whose synthetic market already holds `minutes` of history
(trades, mark and index prices): an `OffsetClock` runs the market from the past up to now, then
follows the wall clock, so signed requests from clients that stamp wall time stay valid.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
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


def require_clients() -> None:
    """Skip the calling test module when any of the three clients is not installed."""
    import pytest

    for module in ("ccxt", "binance_sdk_derivatives_trading_usds_futures", "binance.client"):
        pytest.importorskip(module)


async def serving(minutes: int, *, stepping: bool) -> AsyncIterator[SimServer]:
    """A primed simulator for a test module; `stepping` keeps its market moving every 50 ms."""
    server = await primed_server(minutes=minutes)

    async def keep_stepping() -> None:
        while True:
            server.step_market(1)
            await asyncio.sleep(0.05)

    stepper = asyncio.create_task(keep_stepping()) if stepping else None
    try:
        yield server
    finally:
        if stepper is not None:
            stepper.cancel()
            await asyncio.gather(stepper, return_exceptions=True)
        await server.stop()


def api_errors(calls: Iterable[Callable[[], Any]]) -> list[tuple[int, str]]:
    """(code, message) of the Binance error each python-binance call raised; (0, "no error") if none."""
    from binance.exceptions import BinanceAPIException

    out = []
    for call in calls:
        try:
            call()
            out.append((0, "no error"))
        except BinanceAPIException as exc:
            out.append((exc.code, exc.message))
    return out


async def sdk_user_stream(
    client: Any, server: SimServer, on_message: Callable[[Any], None]
) -> tuple[Any, str]:
    """The official SDK's user-data stream, subscribed and delivering to `on_message`: (connection, key)."""
    conn = await client.websocket_streams.create_connection()
    key: str = await asyncio.to_thread(lambda: client.rest_api.start_user_data_stream().data().listen_key)
    handle = await conn.user_data(key)
    handle.on("message", on_message)
    for _ in range(100):
        if server.hub.has_subscribers(key):
            break
        await asyncio.sleep(0.02)
    return conn, key
