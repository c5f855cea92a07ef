"""Stream robustness against a scripted WebSocket server: bad frames, age limit, backoff, metric names."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

import grinder.binance.metrics  # noqa: F401 - registers the metrics
from grinder.binance.config import BinanceConfig
from grinder.binance.streams import Backoff, MarketStreams, redact_url
from grinder.core.events import BookTicker
from tests.binance.helpers import metric, wait_until

GOOD = {"stream": "btcusdt@bookTicker", "data": {"e": "bookTicker", "u": 5, "s": "BTCUSDT", "b": "61800.20",
                                                 "B": "1.000", "a": "61800.30", "A": "2.000", "T": 1, "E": 1}}
BAD_FRAMES = [
    "garbage{",
    json.dumps({"stream": "btcusdt@bookTicker", "data": {"e": "bookTicker", "u": 6, "s": "BTCUSDT"}}),
    json.dumps({**GOOD, "data": {**GOOD["data"], "b": "61800.25"}}),  # off the tick grid
]


@pytest.fixture
async def ws_server() -> AsyncIterator[tuple[str, list[str]]]:
    paths: list[str] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        paths.append(request.path_qs)
        for frame in BAD_FRAMES:
            await ws.send_str(frame)
        await ws.send_str('{"result":null,"id":1}')
        await ws.send_str(json.dumps(GOOD))
        async for _ in ws:  # keep open until the client leaves
            pass
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"ws://127.0.0.1:{port}", paths
    await runner.cleanup()


@pytest.mark.integration
async def test_bad_frames_are_counted_and_skipped_and_age_limit_reconnects(
    ws_server: tuple[str, list[str]], rules: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url, paths = ws_server
    events: list[Any] = []
    cfg = BinanceConfig(ws_url=url, max_connection_age_s=0.3, reconnect_initial_s=0.05)
    ms = MarketStreams(rules, config=cfg, rest=object(), on_event=events.append)
    await ms.subscribe("BTCUSDT", ["bookTicker"])
    before_age = metric("grinder_ws_reconnect_total", stream="public", reason="max_age")
    before_bad = metric("grinder_ws_malformed_messages_total", stream="public")
    await ms.start()
    try:
        await wait_until(lambda: len(events) >= 2, what="good frames on two connections")
    finally:
        await ms.stop()
    assert all(isinstance(e, BookTicker) and e.bid_ticks == 618002 for e in events)
    assert metric("grinder_ws_malformed_messages_total", stream="public") >= before_bad + 6
    assert metric("grinder_ws_reconnect_total", stream="public", reason="max_age") >= before_age + 1
    assert paths[0] == "/public/stream?streams=btcusdt@bookTicker"
    # Each kind of bad frame is logged once, however often it recurs.
    assert caplog.text.count("ws_malformed_message") == 3


def test_backoff_is_capped_seeded_and_resets() -> None:
    a = Backoff(0.5, 4.0, 0.25, random.Random(7))
    b = Backoff(0.5, 4.0, 0.25, random.Random(7))
    seq = [a.next() for _ in range(8)]
    assert seq == [b.next() for _ in range(8)]
    assert 0.375 <= seq[0] <= 0.625 and all(x <= 5.0 for x in seq) and seq[-1] >= 3.0
    a.reset()
    assert a.next() <= 0.625


def test_listen_key_never_logged() -> None:
    assert redact_url("ws://h/private/ws/SECRETKEY") == "ws://h/private/<listenKey>"
    assert redact_url("ws://h/public/stream?streams=a") == "ws://h/public/stream?streams=a"


def test_runbook_metric_names_are_pinned() -> None:
    names = {m.name for m in REGISTRY.collect()}
    # prometheus-client strips "_total" from counter family names.
    for name in ("grinder_ws_connected", "grinder_ws_reconnect", "grinder_ticks_received", "grinder_last_tick_ts",
                 "grinder_binance_rest_latency_seconds", "grinder_binance_rate_limit_used",
                 "grinder_book_resyncs", "grinder_ws_malformed_messages"):
        assert name in names, name
