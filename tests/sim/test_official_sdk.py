"""Binance's official modular SDK (binance-sdk-derivatives-trading-usds-futures) against the simulator.

It signs differently from ccxt (everything in the query string, even for POST/DELETE), parses
responses into strict pydantic models, reads the rate-limit headers, and routes WebSocket streams
to /public, /market and /private with SUBSCRIBE — a second, independent conformance client.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from grinder.sim.server import SimServer
from tests.sim.clients import sdk_client

pytest.importorskip("binance_sdk_derivatives_trading_usds_futures")

pytestmark = pytest.mark.integration


def rest_round_trip(server: SimServer) -> dict[str, Any]:
    rest = sdk_client(server).rest_api
    info = rest.exchange_information().data()
    book = rest.order_book(symbol="BTCUSDT", limit=5).data()
    bid = float(book.bids[0][0])
    placed = rest.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=0.01,
        price=round(bid * 0.99, 1),
        time_in_force="GTC",
    )
    order = placed.data()
    queried = rest.query_order(symbol="BTCUSDT", order_id=order.order_id).data()
    cancelled = rest.cancel_order(symbol="BTCUSDT", order_id=order.order_id).data()
    account = rest.account_information_v3().data()
    return {
        "symbols": [s.symbol for s in info.symbols],
        "book_id": book.last_update_id,
        "status": (order.status, queried.status, cancelled.status),
        "rate_limits": {(r.rateLimitType, r.interval, r.intervalNum): r.count for r in placed.rate_limits},
        "wallet": account.total_wallet_balance,
    }


async def test_official_sdk_rest(sim_server: SimServer) -> None:
    out = await asyncio.to_thread(rest_round_trip, sim_server)
    assert out["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert out["book_id"] > 0
    assert out["status"] == ("NEW", "NEW", "CANCELED")
    assert out["rate_limits"][("ORDERS", "SECOND", 10)] == 1
    assert out["rate_limits"][("ORDERS", "MINUTE", 1)] == 1
    assert out["wallet"] == "10000.00000000"


async def test_official_sdk_streams_and_user_data(sim_server: SimServer) -> None:
    client = sdk_client(sim_server)
    tickers: list[Any] = []
    user: list[Any] = []
    conn = await client.websocket_streams.create_connection()
    try:
        stream = await conn.individual_symbol_book_ticker_streams(symbol="btcusdt")
        stream.on("message", tickers.append)
        key = await asyncio.to_thread(lambda: client.rest_api.start_user_data_stream().data().listen_key)
        handle = await conn.user_data(key)
        handle.on("message", user.append)
        for _ in range(100):
            if sim_server.hub.has_subscribers(key) and tickers:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(
            lambda: client.rest_api.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
        )
        for _ in range(100):
            if len(user) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close_connection()
    assert tickers[0].e == "bookTicker"
    assert tickers[0].s == "BTCUSDT"
    kinds = [type(m.actual_instance).__name__ for m in user]
    assert kinds == ["OrderTradeUpdate", "AccountUpdate", "OrderTradeUpdate"]
    fill = user[2].actual_instance.o
    assert (fill.x, fill.X, fill.z) == ("TRADE", "FILLED", "0.010")
