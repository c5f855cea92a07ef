"""Local order-book sync from the simulator's depth stream (protocol sheet §5.3) reproduces its book.

The reference sync below is written from the protocol text, independent of the simulator's code:
buffer diffs, fetch a REST snapshot, drop diffs with u < lastUpdateId, require U ≤ lastUpdateId ≤ u
for the first applied diff and pu == previous u afterwards, otherwise resync from a new snapshot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from grinder.sim.server import SimServer

pytestmark = pytest.mark.integration


class ReferenceBook:
    """A client's local book kept by the §5.3 rules; counts how often it had to resync."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_u: int | None = None
        self.snapshot_id = 0
        self.resyncs = 0

    def load(self, snapshot: dict[str, Any]) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        self.snapshot_id = snapshot["lastUpdateId"]
        self.last_u = None

    def apply(self, ev: dict[str, Any]) -> bool:
        """Apply one diff; False when the chain broke and a new snapshot is needed."""
        if ev["u"] < self.snapshot_id:
            return True  # older than the snapshot: drop
        if self.last_u is None:
            if not ev["U"] <= self.snapshot_id <= ev["u"]:
                return False
        elif ev["pu"] != self.last_u:
            return False
        for side, levels in ((self.bids, ev["b"]), (self.asks, ev["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
        self.last_u = ev["u"]
        return True


def server_book(server: SimServer, symbol: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    book, rules = server.market.books[symbol], server.rules[symbol]
    bids = {rules.ticks_to_price(p): rules.lots_to_qty(q) for p, q in book.bids.items()}
    asks = {rules.ticks_to_price(p): rules.lots_to_qty(q) for p, q in book.asks.items()}
    return bids, asks


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def snapshot(http: aiohttp.ClientSession, server: SimServer) -> dict[str, Any]:
    async with http.get(
        f"{server.rest_url}/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": "1000"}
    ) as r:
        doc: dict[str, Any] = await r.json()
        return doc


async def drain_until(ws: aiohttp.ClientWebSocketResponse, final_u: int, into: list[dict[str, Any]]) -> None:
    """Read combined frames until the diff carrying `final_u` (or later) has arrived."""
    while not into or into[-1]["u"] < final_u:
        msg = await asyncio.wait_for(ws.receive(), 5)
        doc = json.loads(msg.data)
        if "stream" in doc:
            into.append(doc["data"])


@pytest.mark.parametrize(
    "stream", ["btcusdt@depth@100ms", "btcusdt@depth", "btcusdt@depth@500ms", "btcusdt@depth@0ms"]
)
async def test_local_book_matches_after_sync_and_gaps(
    http: aiohttp.ClientSession, sim_server_manual: SimServer, stream: str
) -> None:
    server = sim_server_manual
    async with http.ws_connect(f"{server.ws_url}/public/stream?streams={stream}") as ws:
        events: list[dict[str, Any]] = []
        server.step_market(3)
        ref = ReferenceBook()
        ref.load(await snapshot(http, server))
        server.step_market(25)
        await drain_until(ws, server.market.books["BTCUSDT"].last_update_id, events)
        assert all(ref.apply(ev) for ev in events)
        assert (ref.bids, ref.asks) == server_book(server, "BTCUSDT")

        # Injected gap: a diff is skipped, so the next pu does not chain; the client resyncs.
        server.control.set_faults(depth_gaps=1)
        server.step_market(5)
        events.clear()
        await drain_until(ws, server.market.books["BTCUSDT"].last_update_id, events)
        broke = [ev for ev in events if not ref.apply(ev)]
        assert broke, "an injected gap must break the pu chain"
        # Resync: new snapshot, then replay the buffered diffs (those before it are dropped).
        ref.load(await snapshot(http, server))
        assert all(ref.apply(ev) for ev in events)
        ref.resyncs += 1
        server.step_market(10)
        events.clear()
        await drain_until(ws, server.market.books["BTCUSDT"].last_update_id, events)
        assert all(ref.apply(ev) for ev in events)
        assert (ref.bids, ref.asks) == server_book(server, "BTCUSDT")


async def test_book_ticker_and_partial_depth_share_the_sequence(
    http: aiohttp.ClientSession, sim_server_manual: SimServer
) -> None:
    server = sim_server_manual
    streams = "btcusdt@bookTicker/btcusdt@depth5@100ms"
    async with http.ws_connect(f"{server.ws_url}/public/stream?streams={streams}") as ws:
        server.step_market(10)
        book = server.market.books["BTCUSDT"]
        last: dict[str, dict[str, Any]] = {}
        while last.get("btcusdt@depth5@100ms", {}).get("u", 0) < book.last_update_id:
            doc = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
            last[doc["stream"]] = doc["data"]
        ticker, partial = last["btcusdt@bookTicker"], last["btcusdt@depth5@100ms"]
        assert ticker["u"] <= book.last_update_id
        rules = server.rules["BTCUSDT"]
        bids, asks = book.top(5)
        assert partial["b"] == [[rules.price_str(p), rules.qty_str(q)] for p, q in bids]
        assert partial["a"] == [[rules.price_str(p), rules.qty_str(q)] for p, q in asks]
        assert [ticker["b"], ticker["B"]] == partial["b"][0]
        assert [ticker["a"], ticker["A"]] == partial["a"][0]
        async with http.get(
            f"{server.rest_url}/fapi/v1/ticker/bookTicker", params={"symbol": "BTCUSDT"}
        ) as r:
            rest = await r.json()
        assert rest["lastUpdateId"] == book.last_update_id
