"""Liveness and size caps on real loopback sockets: a silent WebSocket is noticed within 5 s (pings
for the quiet user stream, a data timeout for market streams), an oversized frame or REST body is
refused with a clear error and never decoded."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from grinder.binance.config import BinanceConfig
from grinder.binance.errors import BinanceUnknownOutcome, BodyTooLarge
from grinder.binance.rest import BinanceRestClient
from grinder.binance.streams import WsConnection
from grinder.core.clock import WallClock
from tests.binance.helpers import loopback_server, metric, wait_until

pytestmark = pytest.mark.integration

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(handler: Handler) -> str:
            return f"127.0.0.1:{await stack.enter_async_context(loopback_server(handler))}"

        yield start


async def _silent_ws(request: web.Request) -> web.WebSocketResponse:
    """Accepts, sends one frame, then goes silent: no data and no pongs (it never reads)."""
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    await ws.send_str('{"e":"hello"}')
    await asyncio.sleep(30)
    return ws


async def _run_connection(host: str, data_timeout: bool, cfg: BinanceConfig) -> tuple[WsConnection, float]:
    session = aiohttp.ClientSession()
    conn = WsConnection("private" if not data_timeout else "public", _url(f"ws://{host}/x"), lambda f: None,
                        config=cfg, clock=WallClock(), rng=random.Random(1), session_factory=lambda: session,
                        data_timeout=data_timeout)
    task = asyncio.get_running_loop().create_task(conn.run())
    try:
        await wait_until(lambda: conn.frames >= 1, 5, "first frame")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wait_until(lambda: conn.connects >= 2 or not conn.is_connected, 5.0, "silence noticed")
        return conn, loop.time() - started
    finally:
        conn.stop()
        await asyncio.wait_for(task, 5)
        await session.close()


def _url(url: str) -> Callable[[], Awaitable[str]]:
    async def make() -> str:
        return url

    return make


async def test_silent_user_stream_is_noticed_by_ping_within_5s(serve: Callable[[Handler], Awaitable[str]]) -> None:
    host = await serve(_silent_ws)
    reasons = ("no_pong", "error", "closed")  # aiohttp reports the missing pong as either
    before = sum(metric("grinder_ws_reconnect_total", stream="private", reason=r) for r in reasons)
    _, took = await _run_connection(host, False, BinanceConfig())  # the defaults: heartbeat 2 s
    assert took <= 5.0
    await wait_until(lambda: sum(metric("grinder_ws_reconnect_total", stream="private", reason=r)
                                 for r in reasons) > before, 2, "reconnect counted")


async def test_silent_market_stream_is_noticed_by_data_timeout_within_5s(
    serve: Callable[[Handler], Awaitable[str]]
) -> None:
    host = await serve(_silent_ws)
    before = metric("grinder_ws_reconnect_total", stream="public", reason="stale")
    cfg = BinanceConfig(heartbeat_s=60.0)  # pings off: the data timeout alone must notice
    _, took = await _run_connection(host, True, cfg)
    assert took <= 5.5
    await wait_until(lambda: metric("grinder_ws_reconnect_total", stream="public", reason="stale") > before,
                     2, "stale reconnect counted")


async def test_oversized_frame_is_refused_and_the_stream_reconnects(
    serve: Callable[[Handler], Awaitable[str]], caplog: pytest.LogCaptureFixture
) -> None:
    async def big(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"e":"small"}')
        await ws.send_str("x" * (64 * 1024))
        async for _ in ws:
            pass
        return ws

    host = await serve(big)
    frames: list[str | bytes] = []
    session = aiohttp.ClientSession()
    conn = WsConnection("public", _url(f"ws://{host}/x"), frames.append,
                        config=BinanceConfig(max_frame_bytes=8192), clock=WallClock(), rng=random.Random(1),
                        session_factory=lambda: session)
    task = asyncio.get_running_loop().create_task(conn.run())
    try:
        await wait_until(lambda: conn.connects >= 2, 5, "reconnect after the oversized frame")
    finally:
        conn.stop()
        await asyncio.wait_for(task, 5)
        await session.close()
    assert all(len(f) < 8192 for f in frames)
    assert "ws_frame_too_large stream=public cap_bytes=8192" in caplog.text


async def test_oversized_rest_body_is_refused_before_decoding(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no Content-Length, so the cap applies while reading
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b" " * 65536)
        await resp.write_eof()
        return resp

    host = await serve(huge)
    client = BinanceRestClient(f"http://{host}", api_key="k", api_secret="s", max_body_bytes=1 << 20)
    client._last_sync_mono_ns = WallClock().monotonic_ns()  # no time sync against this server
    try:
        with pytest.raises(BodyTooLarge, match="exceeds the cap of 1048576 bytes"):
            await client.server_time()
        with pytest.raises(BinanceUnknownOutcome, match="resolve the order by query"):
            await client.cancel_order("BTCUSDT", client_order_id="grinder_x")
    finally:
        await client.close()


async def test_a_connection_stopped_during_its_handshake_closes_unread_and_ends_on_its_own(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """A stop that lands while the socket is still opening (a SIGTERM during start-up) must not leave
    the loop reading the new connection until its data timeout: nothing is delivered, the loop ends."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_handshake(request: web.Request) -> web.WebSocketResponse:
        entered.set()
        await release.wait()
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        for _ in range(3):
            await ws.send_str('{"e":"hello"}')
        async for _ in ws:  # answers the client's close
            pass
        return ws

    host = await serve(slow_handshake)
    delivered: list[str | bytes] = []
    session = aiohttp.ClientSession()
    conn = WsConnection("public", _url(f"ws://{host}/x"), delivered.append, config=BinanceConfig(),
                        clock=WallClock(), rng=random.Random(1), session_factory=lambda: session)
    task = asyncio.get_running_loop().create_task(conn.run())
    try:
        await asyncio.wait_for(entered.wait(), 5)
        conn.stop()
        release.set()
        await asyncio.wait_for(task, 5)  # the market data timeout is longer than this
        assert delivered == [] and conn.frames == 0 and conn.connects == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await session.close()
