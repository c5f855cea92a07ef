"""Market playback speed: 1× / N× pace by data time, 0 plays as fast as possible."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import grinder.sim.driver as driver_module
from grinder.core.clock import VirtualClock, WallClock
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


class VirtualSleep:
    """Stands in for the driver's `asyncio.sleep`: a sleep moves the virtual clock instead of waiting."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.slept_ns: list[int] = []

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            ns = round(seconds * 1e9)
            self.slept_ns.append(ns)
            self.clock.advance_ns(ns)
        await asyncio.sleep(0)


@pytest.mark.parametrize("speed", [20.0, 1.0, 0.0])
async def test_playback_paces_each_batch_by_data_time(speed: float, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = VirtualClock.from_ms(1_700_000_000_000)
    fake = VirtualSleep(clock)
    monkeypatch.setattr(driver_module, "asyncio", fake)
    state = MarketState({"BTCUSDT": btcusdt_rules()})
    applied: list[tuple[int, int]] = []  # (data time ms, clock ns when applied)
    real_apply = state.apply

    def apply(batch: TimedBatch, now_ms: int, **kw: Any) -> None:
        applied.append((batch.data_time_ms, clock.monotonic_ns()))
        real_apply(batch, now_ms, **kw)

    monkeypatch.setattr(state, "apply", apply)
    start_ns = clock.monotonic_ns()
    driver = MarketDriver(state, iter(source(100, 100)), clock, speed)  # 10 s of data
    await driver.run()
    assert driver.batches_applied == 101 and driver.finished
    assert len(applied) == 101
    if speed == 0:
        assert fake.slept_ns == []  # as fast as possible: never waits
        assert all(at == start_ns for _, at in applied)
    else:
        # each batch goes out exactly when its data time, scaled by the speed, has passed: never early
        for data_ms, at in applied:
            assert at - start_ns == round(data_ms * 1_000_000 / speed), (data_ms, at - start_ns)
        assert clock.monotonic_ns() - start_ns == round(10_000 * 1_000_000 / speed)
    assert state.books["BTCUSDT"].best_bid == (600_000, 105)
    assert state.books["BTCUSDT"].last_update_id == 110  # 10 + one id per changed level


def test_negative_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed must be >= 0"):
        MarketDriver(MarketState({"BTCUSDT": btcusdt_rules()}), iter(()), WallClock(), -1)


@pytest.mark.integration
async def test_a_failing_source_freezes_the_market_not_the_server(
    sim_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
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
