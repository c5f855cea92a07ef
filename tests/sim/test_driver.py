"""Market playback speed: 1× / N× pace by data time, 0 plays as fast as possible."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from grinder.core.clock import WallClock
from grinder.core.events import DepthSnapshot
from grinder.core.rules import btcusdt_rules
from grinder.sim.driver import MarketDriver
from grinder.sim.inputs import BookDiff, BookReset, TimedBatch
from grinder.sim.market import MarketState


def source(n: int, step_ms: int) -> list[TimedBatch]:
    snap = DepthSnapshot("BTCUSDT", 10, ((600_000, 5),), ((600_001, 5),), 0, 0)
    out = [TimedBatch(0, (BookReset(snap),))]
    out += [TimedBatch(i * step_ms, (BookDiff("BTCUSDT", ((600_000, 5 + i),), ()),)) for i in range(1, n + 1)]
    return out


@pytest.mark.parametrize(("speed", "min_s"), [(20.0, 0.5), (0.0, 0.0)])
async def test_playback_speed(speed: float, min_s: float) -> None:
    state = MarketState({"BTCUSDT": btcusdt_rules()})
    driver = MarketDriver(state, iter(source(100, 100)), WallClock(), speed)  # 10 s of data
    t0 = time.perf_counter()
    await driver.run()
    elapsed = time.perf_counter() - t0
    assert driver.batches_applied == 101
    assert driver.finished
    assert elapsed >= min_s  # 10 s of data at 20× can never take less than 0.5 s
    if speed == 0:
        assert elapsed < 0.5
    assert state.books["BTCUSDT"].best_bid == (600_000, 105)
    assert state.books["BTCUSDT"].last_update_id == 110  # 10 + one id per changed level


def test_negative_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed must be >= 0"):
        MarketDriver(MarketState({"BTCUSDT": btcusdt_rules()}), iter(()), WallClock(), -1)


@pytest.mark.integration
async def test_a_failing_source_freezes_the_market_not_the_server(
    sim_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    import aiohttp

    from grinder.sim.config import SimConfig

    def broken() -> Iterator[TimedBatch]:
        yield from source(2, 10)
        raise ValueError("corrupt row 3 in data file")

    server = await sim_factory(SimConfig(port=0, symbols=("BTCUSDT",)), source=broken())
    for _ in range(100):
        if server.driver.finished:
            break
        await asyncio.sleep(0.02)
    assert server.driver.finished
    assert "sim_market_failed" in caplog.text
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.rest_url}/fapi/v1/depth?symbol=BTCUSDT") as r,
    ):
        assert r.status == 200
        assert (await r.json())["bids"][0] == ["60000.00", "0.007"]
