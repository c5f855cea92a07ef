"""A full consumer queue (ADR-300): user data (fills) is never dropped and keeps its order; market data is
dropped and counted, the stream's own book staying in sync."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from grinder.binance.rest import BinanceRestClient
from grinder.binance.streams import MarketStreams
from grinder.binance.user_stream import UserDataStream, UserStreamEvent
from grinder.core.events import BookTicker, OrderUpdate
from grinder.core.rules import btcusdt_rules
from tests.binance.helpers import metric, wait_until


def fill_frame(trade_id: int) -> str:
    order = {
        "s": "BTCUSDT", "c": "grinder_g1_BTCUSDT_b1_1_1", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.010",
        "p": "96500.00", "ap": "96500.0", "sp": "0", "x": "TRADE", "X": "PARTIALLY_FILLED", "i": 77,
        "l": "0.001", "z": f"0.00{trade_id}", "L": "96500.00", "N": "USDT", "n": "0.0193", "T": 1000 + trade_id,
        "t": trade_id, "b": "0", "a": "0", "m": True, "R": False, "wt": "CONTRACT_PRICE", "ot": "LIMIT",
        "ps": "BOTH", "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE",
        "gtd": 0,
    }
    return json.dumps({"e": "ORDER_TRADE_UPDATE", "E": 1000 + trade_id, "T": 1000 + trade_id, "o": order})


async def test_user_fills_wait_in_order_behind_a_full_queue() -> None:
    queue: asyncio.Queue[UserStreamEvent] = asyncio.Queue(maxsize=1)
    rest = cast(BinanceRestClient, object())  # no REST call happens on this path
    stream = UserDataStream(rest, {"BTCUSDT": btcusdt_rules()}, queue=queue)
    for trade_id in (1, 2, 3, 4):
        stream._on_frame(fill_frame(trade_id))  # what the WebSocket loop calls per frame
    assert metric("grinder_stream_event_backlog", stream="user") == 3
    got: list[int | None] = []

    async def consume() -> None:
        while len(got) < 4:
            ev = await queue.get()
            assert isinstance(ev, OrderUpdate)
            got.append(ev.trade_id)

    await asyncio.wait_for(consume(), 5)
    assert got == [1, 2, 3, 4]
    await wait_until(lambda: metric("grinder_stream_event_backlog", stream="user") == 0, what="backlog drained")
    await stream.stop(close_listen_key=False)


async def test_market_events_past_a_full_queue_are_dropped_and_counted() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
    streams = MarketStreams({"BTCUSDT": btcusdt_rules()}, queue=queue)
    before = metric("grinder_stream_events_dropped_total", stream="market")
    for u in (1, 2, 3):
        streams.handle_event(BookTicker("BTCUSDT", 600000 + u, 1, 600001 + u, 1, u, u, u))
    assert queue.qsize() == 1 and queue.get_nowait().update_id == 1
    assert streams.dropped_events == 2
    assert metric("grinder_stream_events_dropped_total", stream="market") == before + 2
    assert metric("grinder_ws_malformed_messages_total", stream="queue") == 0  # a drop is not a bad message
    await streams.stop()
