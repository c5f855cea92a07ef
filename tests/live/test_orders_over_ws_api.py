"""The live engine sends its orders over the WebSocket API session by default (ADR-230), keeps
trading over REST while the session is down, and leaves no secret in its journal."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from grinder.binance.ws_api import BinanceWsApiClient
from grinder.connector.binance_port import BinanceFuturesPort
from grinder.core.enums import SafeMode
from grinder.sim.server import SimServer
from tests.live.procs import poll
from tests.live.test_engine_inprocess import settings, start

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def transport_count(name: str) -> float:
    return REGISTRY.get_sample_value("grinder_connector_order_requests_ok_total", {"transport": name}) or 0.0


def ws_client_of(engine: object) -> BinanceWsApiClient:
    port = engine.parts.connector.config.futures_port  # type: ignore[attr-defined]
    assert isinstance(port, BinanceFuturesPort)
    assert port.ws_client is not None
    return port.ws_client


async def test_engine_orders_go_over_the_ws_api_and_survive_a_dropped_session(
    sim_server: SimServer, tmp_path: Path
) -> None:
    cfg = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    assert cfg.binance.order_transport == "ws"  # the default
    ws_before, rest_before = transport_count("ws"), transport_count("rest")
    run = await start(cfg, keys=True)
    try:
        ws = ws_client_of(run.engine)
        assert ws.is_connected and ws.url == f"{sim_server.ws_url}/ws-fapi/v1"
        await poll(lambda: run.engine.counts.placed >= 4, 20, "the engine to place its grid")
        assert transport_count("ws") >= ws_before + 4
        assert transport_count("rest") == rest_before  # nothing went over REST while the session was up
        await ws.drop()  # the session goes down; orders keep flowing (REST), then it comes back
        await poll(lambda: ws.connects >= 2 and ws.is_connected, 20, "the WebSocket API session to reconnect")
        placed = run.engine.counts.placed
        await poll(lambda: run.engine.counts.placed > placed, 30, "orders after the reconnect")
    finally:
        assert await run.stop() == 0
    assert run.engine.counts.unknown == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert b"grinder-sim-secret" not in raw and b"grinder-sim-key" not in raw
    assert not re.search(rb"[0-9a-f]{64}", raw)  # no request signature


async def test_order_transport_rest_keeps_every_order_on_rest(sim_server: SimServer, tmp_path: Path) -> None:
    base = settings(sim_server, tmp_path, mode=SafeMode.LIVE_TRADE, armed=True)
    cfg = dataclasses.replace(base, binance=dataclasses.replace(base.binance, order_transport="rest"))
    ws_before = transport_count("ws")
    run = await start(cfg, keys=True)
    try:
        port = run.engine.parts.connector.config.futures_port
        assert isinstance(port, BinanceFuturesPort) and port.ws_client is None
        await poll(lambda: run.engine.counts.placed >= 4, 20, "the engine to place its grid")
    finally:
        assert await run.stop() == 0
    assert transport_count("ws") == ws_before


def test_a_bad_order_transport_is_refused_with_the_accepted_values() -> None:
    from grinder.binance.config import BinanceConfig

    with pytest.raises(ValueError, match=r"order_transport must be one of ws, rest"):
        BinanceConfig(order_transport="fix")
