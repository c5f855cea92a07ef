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
from tests.sim.clients import (
    api_errors,
    ccxt_client,
    python_binance_client,
    require_clients,
    sdk_client,
    sdk_user_stream,
    serving,
)

require_clients()

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async for server in serving(1, stepping=True):
        yield server


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
        first = list(sim.hub.conns)  # held: an id() of a freed connection can be reused
        await lifecycle(sim, max_connection_lifetime_ms=300)
        with pytest.raises(ccxtpro.NetworkError):
            await _watch_until_cut(ex)
        await lifecycle(sim, max_connection_lifetime_ms=86_400_000)
        ticker = await asyncio.wait_for(ex.watch_ticker(SYMBOL), 5)  # a new connection
        assert ticker["last"] > 0
        assert sim.hub.conns and not any(c is old for c in sim.hub.conns for old in first)
    finally:
        await ex.close()


async def _watch_until_cut(ex: Any) -> None:
    for _ in range(200):  # tickers keep coming until the server closes the connection
        await asyncio.wait_for(ex.watch_ticker(SYMBOL), 5)


async def test_official_sdk_sees_listen_key_expired_then_keepalive_fails(sim: SimServer) -> None:
    client = sdk_client(sim)
    events: list[Any] = []
    conn, key = await sdk_user_stream(client, sim, events.append)
    try:
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

    keepalive = [lambda: python_binance_client(sim).futures_stream_keepalive(key)]
    assert await asyncio.to_thread(api_errors, keepalive) == [(-1125, "This listenKey does not exist.")]
