"""An unmodified third-party Binance client (ccxt binanceusdm, async + pro) against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from grinder.sim.server import SimServer
from tests.sim.clients import point_ccxt

ccxt_async = pytest.importorskip("ccxt.async_support")
ccxtpro = pytest.importorskip("ccxt.pro")

pytestmark = pytest.mark.integration
SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
async def client(sim_server: SimServer) -> AsyncIterator[Any]:
    # fetchCurrencies would call the spot wallet API (api.binance.com/sapi): not a futures endpoint.
    ex = ccxtpro.binanceusdm(
        {"apiKey": sim_server.api_key, "secret": sim_server.api_secret, "options": {"fetchCurrencies": False}}
    )
    point_ccxt(ex, sim_server)
    try:
        yield ex
    finally:
        await ex.close()


async def test_markets_book_and_balance(client: Any, sim_server: SimServer) -> None:
    markets = await client.load_markets()
    btc = markets[SYMBOL]
    assert btc["precision"]["price"] == 0.1
    assert btc["precision"]["amount"] == 0.001
    assert btc["limits"]["cost"]["min"] == 100.0
    book = await client.fetch_order_book(SYMBOL, 5)
    assert len(book["bids"]) == 5
    assert book["bids"][0][0] < book["asks"][0][0]
    assert isinstance(book["nonce"], int)
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] == 10000.0
    assert balance["USDT"]["free"] == 10000.0


async def test_order_lifecycle_positions_and_user_stream(client: Any, sim_server: SimServer) -> None:
    await client.load_markets()
    book = await client.fetch_order_book(SYMBOL, 5)
    bid = book["bids"][0][0]
    resting = await client.create_order(SYMBOL, "limit", "buy", 0.01, round(bid * 0.99, 1))
    assert resting["status"] == "open"
    edited = await client.edit_order(resting["id"], SYMBOL, "limit", "buy", 0.02, round(bid * 0.985, 1))
    assert edited["amount"] == 0.02
    assert edited["price"] == round(bid * 0.985, 1)
    assert (await client.fetch_order(resting["id"], SYMBOL))["status"] == "open"
    assert [o["id"] for o in await client.fetch_open_orders(SYMBOL)] == [resting["id"]]
    assert (await client.cancel_order(resting["id"], SYMBOL))["status"] == "canceled"

    # User-data stream (ccxt.pro: listenKey + /private/ws?listenKey=...): see our own fill arrive.
    watcher = asyncio.create_task(client.watch_orders(SYMBOL))
    await asyncio.sleep(0)
    for _ in range(100):  # wait until the listenKey connection is up
        if sim_server.user.keys and any(c.streams for c in sim_server.hub.conns):
            break
        await asyncio.sleep(0.02)
    market = await client.create_order(SYMBOL, "market", "buy", 0.01)
    await asyncio.wait_for(watcher, 5)  # the first update (NEW) has arrived over the WebSocket
    seen: dict[str, Any] = {}
    for _ in range(250):
        # ccxt folds every streamed update into its order cache; read the latest state of ours.
        seen = next((o for o in client.orders if o["id"] == market["id"]), seen)
        if seen.get("status") == "closed":
            break
        await asyncio.sleep(0.02)
    assert seen.get("status") == "closed", f"no fill on the user stream; last seen {seen}"
    assert seen["filled"] == 0.01

    positions = await client.fetch_positions([SYMBOL])
    assert len(positions) == 1
    assert positions[0]["contracts"] == 0.01
    assert positions[0]["side"] == "long"
    trades = await client.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [market["id"]]
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] < 10000.0  # the taker fee was paid


async def test_ticker_and_ohlcv(client: Any, sim_server: SimServer) -> None:
    for _ in range(100):  # wait for the live synthetic market to print a few trades
        if sim_server.exchange.bars.klines("BTCUSDT", "1m", None, None, 10):
            break
        await asyncio.sleep(0.05)
    ticker = await client.fetch_ticker(SYMBOL)
    assert ticker["last"] > 0
    assert ticker["low"] <= ticker["last"] <= ticker["high"]
    assert ticker["baseVolume"] > 0
    candles = await client.fetch_ohlcv(SYMBOL, "1m", limit=5)
    assert candles
    _, o, h, low, c, v = candles[-1]
    assert low <= min(o, c) <= max(o, c) <= h
    assert v > 0


async def test_ccxt_order_book_stream(client: Any) -> None:
    await client.load_markets()
    book = await asyncio.wait_for(client.watch_order_book(SYMBOL), 10)
    assert book["bids"][0][0] < book["asks"][0][0]


async def test_websocket_api_orders(client: Any, sim_server: SimServer) -> None:
    """ccxt's *Ws methods go through the WebSocket API (/ws-fapi/v1) with its own signing."""
    await client.load_markets()
    book = await client.fetch_order_book(SYMBOL, 5)
    placed = await client.create_order_ws(SYMBOL, "limit", "buy", 0.01, round(book["bids"][0][0] * 0.99, 1))
    assert placed["status"] == "open"
    assert [o.order_id for o in sim_server.venue.open_orders("BTCUSDT")] == [int(placed["id"])]
    cancelled = await client.cancel_order_ws(placed["id"], SYMBOL)
    assert cancelled["status"] == "canceled"
    balance = await client.fetch_balance_ws()
    assert balance["USDT"]["total"] == 10000.0
