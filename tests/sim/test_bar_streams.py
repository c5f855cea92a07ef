"""Kline and ticker streams on a virtual clock: a bar that closes is sent once more with `x: true`,
tickers keep Binance's cadence, and interval buckets (week, month) open where Binance's do."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import pytest

from grinder.core.clock import VirtualClock
from grinder.sim.bars import bucket
from grinder.sim.config import SimConfig
from tests.fixtures.simulator import SimFactory

pytestmark = pytest.mark.integration
T0 = 1_800_000_030_000  # 30 s into a minute


async def frames(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every frame that is already on its way (waits until 50 ms pass without one)."""
    out = []
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), 0.05)
        except TimeoutError:
            return out
        out.append(json.loads(msg.data))


async def test_kline_closes_with_x_true_and_ticker_keeps_its_cadence(sim_factory: SimFactory) -> None:
    clock = VirtualClock.from_ms(T0)
    s = await sim_factory(SimConfig(port=0, seed=7, manual_market=True), clock=clock)
    async with aiohttp.ClientSession() as http:
        url = f"{s.ws_url}/market/stream?streams=btcusdt@kline_1m/btcusdt@ticker"
        async with http.ws_connect(url) as ws:
            while not s.hub.has_subscribers("btcusdt@ticker"):
                await asyncio.sleep(0.01)
            for _ in range(5):  # trades in the first minute, 250 ms apart
                clock.advance_ms(250)
                s.step_market(1)
            first = await frames(ws)
            klines = [f["data"] for f in first if f["stream"] == "btcusdt@kline_1m"]
            tickers = [f["data"] for f in first if f["stream"] == "btcusdt@ticker"]
            assert len(klines) >= 4 and all(not k["k"]["x"] for k in klines)  # from the first trade on
            assert all(b["E"] - a["E"] >= 250 for a, b in itertools.pairwise(klines))
            assert len(tickers) == 1  # the first at once, then every 2 s
            open_ms = klines[0]["k"]["t"]
            assert open_ms == T0 // 60_000 * 60_000 and klines[0]["k"]["T"] == open_ms + 59_999
            clock.advance_ms(60_000)  # into the next minute
            s.step_market(1)
            rolled = [f["data"]["k"] for f in await frames(ws) if f["stream"] == "btcusdt@kline_1m"]
    assert [(k["t"], k["x"]) for k in rolled] == [(open_ms, True), (open_ms + 60_000, False)]


def test_week_and_month_buckets() -> None:
    friday = 1_800_000_000_000  # 2027-01-15 08:00 UTC
    week_open, week_close = bucket("1w", friday)
    assert week_open == 1_799_625_600_000  # Monday 2027-01-11 00:00 UTC
    assert week_close == week_open + 7 * 86_400_000 - 1
    month_open, month_close = bucket("1M", friday)
    assert (month_open, month_close) == (1_798_761_600_000, 1_801_439_999_999)  # 2027-01-01 … 01-31
