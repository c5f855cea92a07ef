"""Plays a market source into `MarketState` at a speed factor (1× real time, N×, or as fast as possible)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from grinder.core.clock import Clock
from grinder.sim.inputs import TimedBatch
from grinder.sim.market import MarketState
from grinder.sim.metrics import MARKET_BATCHES_TOTAL

log = logging.getLogger(__name__)


class MarketDriver:
    """Feeds batches from `source` to `state`, paced by data time / speed; or stepped by hand."""

    def __init__(self, state: MarketState, source: Iterator[TimedBatch], clock: Clock, speed: float) -> None:
        if speed < 0:
            raise ValueError(f"market speed must be >= 0 (0 = as fast as possible), got {speed}")
        self.state = state
        self._source = source
        self._clock = clock
        self._speed = speed
        self.batches_applied = 0
        self.finished = False

    def _next(self) -> TimedBatch | None:
        batch = next(self._source, None)
        if batch is None and not self.finished:
            self.finished = True
            log.info("sim_market_source_finished batches=%d", self.batches_applied)
        return batch

    def step(self, count: int = 1) -> int:
        """Apply up to `count` batches now, flushing every depth stream after each; returns how many."""
        done = 0
        for _ in range(count):
            batch = self._next()
            if batch is None:
                break
            self.state.apply(batch, self._clock.now_ms(), flush_all=True)
            self.batches_applied += 1
            MARKET_BATCHES_TOTAL.inc()
            done += 1
        return done

    async def run(self) -> None:
        """Play the source until it ends (or the task is cancelled)."""
        first = self._next()
        if first is None:
            return
        start_data_ms = first.data_time_ms
        start_mono_ns = self._clock.monotonic_ns()
        self.state.apply(first, self._clock.now_ms())
        self.batches_applied += 1
        MARKET_BATCHES_TOTAL.inc()
        since_yield = 0
        while True:
            batch = self._next()
            if batch is None:
                return
            if self._speed > 0:
                due_ns = start_mono_ns + int((batch.data_time_ms - start_data_ms) * 1_000_000 / self._speed)
                wait_ns = due_ns - self._clock.monotonic_ns()
                if wait_ns > 0:
                    await asyncio.sleep(wait_ns / 1e9)
                    since_yield = 0
            since_yield += 1
            if since_yield >= 64:  # as fast as possible, but let the server answer requests
                since_yield = 0
                await asyncio.sleep(0)
            self.state.apply(batch, self._clock.now_ms())
            self.batches_applied += 1
            MARKET_BATCHES_TOTAL.inc()
