"""The write fence at the wire: a write is re-checked once its connection is obtained, right before it
is written, so a permit that lapsed while the request waited (e.g. the process was paused) sends
nothing. Real loopback sockets; the fence is the only thing scripted."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from grinder.binance.errors import WriteFenced
from grinder.binance.rest import BinanceRestClient, write_fence_trace
from grinder.core.clock import WallClock
from tests.binance.helpers import loopback_server

pytestmark = pytest.mark.integration


async def test_a_permit_that_lapses_before_the_write_sends_nothing() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.json_response({"serverTime": 1})

    async with loopback_server(handler) as port:
        await _fenced_writes_send_nothing(port, seen)


async def _fenced_writes_send_nothing(port: int, seen: list[str]) -> None:
    session = aiohttp.ClientSession(trace_configs=[write_fence_trace()])
    client = BinanceRestClient(f"http://127.0.0.1:{port}", api_key="k", api_secret="s", session=session)
    client._last_sync_mono_ns = WallClock().monotonic_ns()  # no time sync against this server
    answers = iter([None, "HA lease deadline passed 5 ms ago (fencing token 7)"])
    client.write_fence = lambda: next(answers)  # passes before the connection, lapses once it is ours
    try:
        with pytest.raises(WriteFenced, match="lease deadline passed"):
            await client.cancel_order("BTCUSDT", client_order_id="grinder_x")
        client.write_fence = lambda: "not the HA leader (no lease held)"
        with pytest.raises(WriteFenced, match="not the HA leader"):
            await client.cancel_order("BTCUSDT", client_order_id="grinder_x")
        assert seen == []  # neither write reached the server
        await client.server_time()  # reads are never fenced
        assert seen == ["GET /fapi/v1/time"]
    finally:
        await session.close()
