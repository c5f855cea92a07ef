"""Binance's connection lifecycle, accelerated through `/_sim/lifecycle`, as third-party clients see it:
ccxt pro is cut at the connection's maximum lifetime and reconnects; the official SDK receives
`listenKeyExpired` when the key goes without keepalive; keepalive afterwards answers -1125.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from grinder.sim.server import SimServer
from tests.sim.clients import ccxt_client, primed_server, python_binance_client, sdk_client

pytest.importorskip("ccxt")
pytest.importorskip("binance_sdk_derivatives_trading_usds_futures")
pytest.importorskip("binance.client")

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[SimServer]:
    server = await primed_server(minutes=1)

    async def keep_stepping() -> None:
        while True:
            server.step_market(1)
            await asyncio.sleep(0.05)

    stepper = asyncio.create_task(keep_stepping())
    try:
        yield server
    finally:
        stepper.cancel()
        await asyncio.gather(stepper, return_exceptions=True)
        await server.stop()


async def lifecycle(sim: SimServer, **body: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(f"{sim.rest_url}/_sim/lifecycle", json=body) as r:
        doc: dict[str, Any] = await r.json()
        assert r.status == 200, doc
        return doc


async def test_lifecycle_setting_is_validated(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.rest_url}/_sim/lifecycle", json={"listen_key_ttl_ms": 0}) as r:
            assert r.status == 400
            assert (await r.json())[
                "error"
            ] == "listen_key_ttl_ms must be a positive integer of milliseconds, got 0"
        async with http.get(f"{sim.rest_url}/_sim/lifecycle") as r:
            assert await r.json() == {
                "max_connection_lifetime_ms": 86_400_000,
                "listen_key_ttl_ms": 3_600_000,
            }


async def test_ccxt_pro_is_cut_at_the_connection_lifetime_and_reconnects(sim: SimServer) -> None:
    import ccxt.pro as ccxtpro

    ex = ccxt_client(sim)
    try:
        await ex.load_markets()
        await asyncio.wait_for(ex.watch_ticker(SYMBOL), 5)
        first = {id(c) for c in sim.hub.conns}
        await lifecycle(sim, max_connection_lifetime_ms=300)
        with pytest.raises(ccxtpro.NetworkError):
            await _watch_until_cut(ex)
        await lifecycle(sim, max_connection_lifetime_ms=86_400_000)
        ticker = await asyncio.wait_for(ex.watch_ticker(SYMBOL), 5)  # a new connection
        assert ticker["last"] > 0
        assert not first & {id(c) for c in sim.hub.conns}
    finally:
        await ex.close()


async def _watch_until_cut(ex: Any) -> None:
    for _ in range(200):  # tickers keep coming until the server closes the connection
        await asyncio.wait_for(ex.watch_ticker(SYMBOL), 5)


async def test_official_sdk_sees_listen_key_expired_then_keepalive_fails(sim: SimServer) -> None:
    client = sdk_client(sim)
    conn = await client.websocket_streams.create_connection()
    events: list[Any] = []
    try:
        key = await asyncio.to_thread(lambda: client.rest_api.start_user_data_stream().data().listen_key)
        handle = await conn.user_data(key)
        handle.on("message", events.append)
        for _ in range(100):
            if sim.hub.has_subscribers(key):
                break
            await asyncio.sleep(0.02)
        await lifecycle(sim, listen_key_ttl_ms=200)  # no keepalive within 200 ms: the key expires
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.02)
    finally:
        await conn.close_connection()
        await lifecycle(sim, listen_key_ttl_ms=3_600_000)
    expired = events[0].actual_instance
    assert (type(expired).__name__, expired.listen_key) == ("ListenKeyExpired", key) and expired.E > 0

    def keepalive() -> tuple[int, str]:
        from binance.exceptions import BinanceAPIException

        try:
            python_binance_client(sim).futures_stream_keepalive(key)
        except BinanceAPIException as exc:
            return exc.code, exc.message
        return 0, "no error"

    assert await asyncio.to_thread(keepalive) == (-1125, "This listenKey does not exist.")
