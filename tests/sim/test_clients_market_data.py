"""Market-data history and streams through ccxt (REST + pro), the official SDK and python-binance.

One simulator for the module, primed with six minutes of synthetic market history; a stepper task
keeps the market moving while the stream tests listen. Error answers keep Binance's code and text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from grinder.sim.server import SimServer
from tests.sim.clients import (
    api_errors,
    ccxt_client,
    python_binance_client,
    require_clients,
    sdk_client,
    serving,
)

require_clients()

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async for server in serving(6, stepping=True):
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ccxt(sim: SimServer) -> AsyncIterator[Any]:
    ex = ccxt_client(sim)
    await ex.load_markets()
    try:
        yield ex
    finally:
        await ex.close()


async def test_ccxt_rest_market_data(ccxt: Any, sim: SimServer) -> None:
    trades = await ccxt.fetch_trades(SYMBOL, limit=50)  # GET /fapi/v1/aggTrades
    assert len(trades) == 50
    assert all(t["price"] > 0 and t["amount"] > 0 for t in trades)
    assert [t["timestamp"] for t in trades] == sorted(t["timestamp"] for t in trades)
    bars = await ccxt.fetch_ohlcv(SYMBOL, "1m", limit=5)
    assert len(bars) == 5
    assert all(b[2] >= max(b[1], b[4]) and b[3] <= min(b[1], b[4]) and b[5] > 0 for b in bars)
    five = await ccxt.fetch_ohlcv(SYMBOL, "5m", since=bars[0][0] - 300_000, limit=2)
    assert five[0][0] % 300_000 == 0
    mark = await ccxt.fetch_ohlcv(SYMBOL, "1m", limit=3, params={"price": "mark"})  # markPriceKlines
    index = await ccxt.fetch_ohlcv(SYMBOL, "1m", limit=3, params={"price": "index"})  # indexPriceKlines
    assert len(mark) == len(index) == 3
    assert mark[-1][4] > 0 and index[-1][4] > 0 and mark[-1][5] == 0
    ticker = await ccxt.fetch_ticker(SYMBOL)  # ticker/24hr
    assert ticker["last"] > 0 and ticker["baseVolume"] > 0
    assert set(await ccxt.fetch_tickers()) == {SYMBOL, "ETH/USDT:USDT"}
    bids_asks = await ccxt.fetch_bids_asks([SYMBOL])  # ticker/bookTicker
    assert bids_asks[SYMBOL]["bid"] < bids_asks[SYMBOL]["ask"]
    funding = await ccxt.fetch_funding_rate(SYMBOL)  # premiumIndex
    assert funding["markPrice"] > 0 and funding["fundingRate"] is not None
    oi = await ccxt.fetch_open_interest(SYMBOL)  # openInterest
    assert oi["openInterestAmount"] > 0
    assert isinstance(await ccxt.fetch_funding_rate_history(SYMBOL), list)  # fundingRate


def _sdk_rest_market_data(sim: SimServer) -> dict[str, Any]:
    rest = sdk_client(sim).rest_api
    now = int(time.time() * 1000)
    return {
        "agg": rest.compressed_aggregate_trades_list(symbol="BTCUSDT", limit=10).data(),
        "agg_window": rest.compressed_aggregate_trades_list(
            symbol="BTCUSDT", start_time=now - 120_000, end_time=now
        ).data(),
        "klines": rest.kline_candlestick_data(symbol="BTCUSDT", interval="1m", limit=4).data(),
        "continuous": rest.continuous_contract_kline_candlestick_data(
            pair="BTCUSDT", contract_type="PERPETUAL", interval="3m", limit=2
        ).data(),
        "mark": rest.mark_price_kline_candlestick_data(symbol="BTCUSDT", interval="1m", limit=2).data(),
        "index": rest.index_price_kline_candlestick_data(pair="BTCUSDT", interval="1m", limit=2).data(),
        "premium": rest.premium_index_kline_data(symbol="BTCUSDT", interval="1m", limit=2).data(),
        "oi": rest.open_interest(symbol="BTCUSDT").data(),
        "t24": rest.ticker24hr_price_change_statistics(symbol="BTCUSDT").data(),
        "price": rest.symbol_price_ticker(symbol="BTCUSDT").data(),
        "book": rest.symbol_order_book_ticker(symbol="BTCUSDT").data(),
        "premium_index": rest.mark_price(symbol="BTCUSDT").data(),
        "funding": rest.get_funding_rate_history(symbol="BTCUSDT").data(),
    }


async def test_official_sdk_rest_market_data(sim: SimServer) -> None:
    out = await asyncio.to_thread(_sdk_rest_market_data, sim)
    assert len(out["agg"]) == 10
    first = out["agg"][0]
    assert first.a == first.f == first.l and float(first.p) > 0
    assert out["agg_window"] and all(int(time.time() * 1000) - 200_000 <= t.T for t in out["agg_window"])
    assert len(out["klines"]) == 4
    assert len(out["continuous"]) == 2
    assert len(out["mark"]) == len(out["index"]) == len(out["premium"]) == 2
    assert float(out["oi"].open_interest) > 0
    assert out["t24"].actual_instance.symbol == "BTCUSDT"
    assert float(out["price"].actual_instance.price) > 0
    assert out["book"].actual_instance.bid_price < out["book"].actual_instance.ask_price
    assert out["premium_index"].actual_instance.mark_price
    assert isinstance(out["funding"], list)


def _python_binance_market_data(sim: SimServer) -> dict[str, Any]:
    client = python_binance_client(sim)
    return {
        "agg": client.futures_aggregate_trades(symbol="BTCUSDT", limit=7),
        "recent": client.futures_recent_trades(symbol="BTCUSDT", limit=4),
        "historical": client.futures_historical_trades(symbol="BTCUSDT", limit=3, fromId=2),
        "klines": client.futures_klines(symbol="BTCUSDT", interval="1m", limit=3),
        "continuous": client.futures_continuous_klines(
            pair="BTCUSDT", contractType="PERPETUAL", interval="1m", limit=3
        ),
        "mark": client.futures_mark_price_klines(symbol="BTCUSDT", interval="1m", limit=3),
        "index": client.futures_index_price_klines(pair="BTCUSDT", interval="1m", limit=3),
        "ticker": client.futures_ticker(symbol="BTCUSDT"),
        "price": client.futures_symbol_ticker(symbol="BTCUSDT"),
        "book": client.futures_orderbook_ticker(symbol="BTCUSDT"),
        "oi": client.futures_open_interest(symbol="BTCUSDT"),
        "funding": client.futures_funding_rate(symbol="BTCUSDT"),
        "mark_price": client.futures_mark_price(symbol="BTCUSDT"),
    }


async def test_python_binance_rest_market_data(sim: SimServer) -> None:
    out = await asyncio.to_thread(_python_binance_market_data, sim)
    assert len(out["agg"]) == 7 and set(out["agg"][0]) >= {"a", "p", "q", "f", "l", "T", "m"}
    assert len(out["recent"]) == 4 and set(out["recent"][0]) == {
        "id",
        "price",
        "qty",
        "quoteQty",
        "time",
        "isBuyerMaker",
    }
    assert [t["id"] for t in out["historical"]] == [2, 3, 4]
    assert len(out["klines"]) == len(out["continuous"]) == len(out["mark"]) == len(out["index"]) == 3
    assert out["klines"][-1][0] % 60_000 == 0 and out["klines"][-1][6] == out["klines"][-1][0] + 59_999
    assert out["mark"][-1][5] == "0" and out["mark"][-1][8] > 0  # price klines: no volume, sample count
    assert out["ticker"]["symbol"] == "BTCUSDT" and int(out["ticker"]["count"]) > 0
    assert float(out["price"]["price"]) > 0
    assert float(out["book"]["bidPrice"]) < float(out["book"]["askPrice"])
    assert float(out["oi"]["openInterest"]) > 0
    # The simulator's clock is the wall clock: a run that crosses 00:00, 08:00 or 16:00 UTC has settled
    # one funding interval (CI saw this at 08:00); otherwise there is no history yet.
    assert len(out["funding"]) <= 1
    for f in out["funding"]:
        assert f["symbol"] == "BTCUSDT" and int(f["fundingTime"]) % (8 * 3_600_000) == 0
        assert float(f["fundingRate"]) != 0 and float(f["markPrice"]) > 0
    assert out["mark_price"]["symbol"] == "BTCUSDT"


def _errors(sim: SimServer) -> list[tuple[int, str]]:
    client = python_binance_client(sim)
    now = int(time.time() * 1000)
    calls = [
        lambda: client.futures_aggregate_trades(symbol="BTCUSDT", startTime=now - 7_200_000, endTime=now),
        lambda: client.futures_aggregate_trades(symbol="BTCUSDT", startTime=now, endTime=now - 1),
        lambda: client.futures_klines(symbol="BTCUSDT", interval="7m"),
        lambda: client.futures_klines(symbol="BTCUSDT", interval="1m", limit=1501),
        lambda: client.futures_aggregate_trades(symbol="BTCUSDT", limit=1001),
        lambda: client.futures_mark_price_klines(symbol="NOPEUSDT", interval="1m"),
        lambda: client.futures_continuous_klines(pair="BTCUSDT", contractType="WEEKLY", interval="1m"),
        lambda: client.futures_open_interest(),
    ]
    return api_errors(calls)


async def test_market_data_errors_keep_binance_codes(sim: SimServer) -> None:
    assert await asyncio.to_thread(_errors, sim) == [
        (-1127, "More than 1 hours between startTime and endTime."),
        (-1023, "Start time is greater than end time."),
        (-1120, "Invalid interval."),
        (-1130, "Data sent for parameter 'limit' is not valid."),
        (-1130, "Data sent for parameter 'limit' is not valid."),
        (-1121, "Invalid symbol."),
        (-1130, "Data sent for parameter 'contractType' is not valid."),
        (-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
    ]


async def test_ccxt_pro_streams(ccxt: Any) -> None:
    ohlcv = await asyncio.wait_for(ccxt.watch_ohlcv(SYMBOL, "1m"), 5)  # @kline_1m
    assert ohlcv[-1][0] % 60_000 == 0
    ticker = await asyncio.wait_for(ccxt.watch_ticker(SYMBOL), 5)  # @ticker
    assert ticker["last"] > 0
    trades = await asyncio.wait_for(ccxt.watch_trades(SYMBOL), 5)
    assert trades[-1]["price"] > 0
    mark = await asyncio.wait_for(ccxt.watch_mark_price(SYMBOL), 5)  # @markPrice
    assert mark["markPrice"] > 0
    bids_asks = await asyncio.wait_for(ccxt.watch_bids_asks([SYMBOL]), 5)  # @bookTicker
    assert bids_asks[SYMBOL]["bid"] < bids_asks[SYMBOL]["ask"]


async def test_official_sdk_streams(sim: SimServer) -> None:
    client = sdk_client(sim)
    conn = await client.websocket_streams.create_connection()
    seen: dict[str, list[Any]] = {}
    try:
        subscriptions = {
            "kline": conn.kline_candlestick_streams(symbol="btcusdt", interval="1m"),
            "continuous": conn.continuous_contract_kline_candlestick_streams(
                pair="btcusdt", contract_type="perpetual", interval="1m"
            ),
            "ticker": conn.individual_symbol_ticker_streams(symbol="btcusdt"),
            "all_minis": conn.all_market_mini_tickers_stream(),
            "agg": conn.aggregate_trade_streams(symbol="btcusdt"),
            "all_marks": conn.mark_price_stream_for_all_market(update_speed="1s"),
        }
        for name, pending in subscriptions.items():  # the SDK paces each subscription by 0.5 s
            handle = await pending
            seen[name] = []
            handle.on("message", seen[name].append)
        for _ in range(100):
            if all(seen.values()):
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close_connection()
    assert [name for name, got in seen.items() if not got] == []
    kline = seen["kline"][0]
    assert (kline.e, kline.k.i, kline.k.s) == ("kline", "1m", "BTCUSDT")
    assert seen["continuous"][0].e == "continuous_kline" and seen["continuous"][0].ct == "PERPETUAL"
    assert seen["ticker"][0].e == "24hrTicker" and float(seen["ticker"][0].c) > 0
    assert {(t.e, t.s) for t in seen["all_minis"][0]} == {
        ("24hrMiniTicker", "BTCUSDT"),
        ("24hrMiniTicker", "ETHUSDT"),
    }
    assert seen["agg"][0].e == "aggTrade"
    assert {m.s for m in seen["all_marks"][0]} == {"BTCUSDT", "ETHUSDT"}


async def test_python_binance_streams_and_countdown(ccxt: Any, sim: SimServer) -> None:
    """python-binance's async socket manager: continuous kline, aggTrade and the user stream, where
    the dead-man switch armed through python-binance cancels a resting order on the server's clock."""
    from binance import AsyncClient, BinanceSocketManager

    client = AsyncClient(sim.api_key, sim.api_secret)
    client.FUTURES_URL = sim.rest_url + "/fapi"
    sockets = BinanceSocketManager(client)
    sockets.FSTREAM_URL = sim.ws_url + "/"
    try:
        async with sockets.kline_futures_socket("BTCUSDT") as klines:
            kline = await asyncio.wait_for(klines.recv(), 5)
        async with sockets.aggtrade_futures_socket("BTCUSDT") as trades:
            trade = (await asyncio.wait_for(trades.recv(), 5))["data"]
        bid = float(sim.rules["BTCUSDT"].price_str(sim.market.books["BTCUSDT"].best_bid[0] - 300))
        async with sockets.futures_user_socket() as user:
            # The socket's reader wakes every TIMEOUT s to notice it is closing (10 s by default)
            user.TIMEOUT = 0.2
            for _ in range(100):
                if sim.user.keys and sim.hub.has_subscribers(next(iter(sim.user.keys))):
                    break
                await asyncio.sleep(0.02)
            order = await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                      timeInForce="GTC", quantity=0.01, price=bid)  # fmt: skip
            disarmed = await ccxt.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 0})
            armed = await client.futures_countdown_cancel_all(symbol="BTCUSDT", countdownTime=300)
            cancel = None
            while cancel is None:
                doc = await asyncio.wait_for(user.recv(), 5)
                if doc.get("e") == "ORDER_TRADE_UPDATE" and doc["o"]["X"] == "CANCELED":
                    cancel = doc["o"]
    finally:
        await client.close_connection()
    assert (kline["e"], kline["ct"], kline["k"]["i"]) == ("continuous_kline", "PERPETUAL", "1m")
    assert trade["e"] == "aggTrade" and float(trade["p"]) > 0
    assert disarmed == {"symbol": "BTCUSDT", "countdownTime": "0"}
    assert armed == {"symbol": "BTCUSDT", "countdownTime": "300"}
    assert cancel["i"] == order["orderId"]
    assert sim.venue.open_orders("BTCUSDT") == []
