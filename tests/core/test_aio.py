"""`grinder.core.aio`: a task stopped by cancellation stops, whichever loop iteration the cancel hits.

The loop below is the shape of every background job (reconciliation, HA lease, stream backoff):
wait for a wake-up or a timeout, do a pass, repeat. Python 3.11's `asyncio.wait_for` loses the
cancel when it lands as the awaited event completes (CPython gh-86296); these helpers must not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from grinder.core.aio import wait_set, within


async def _ends_when_cancelled(spins: int, body: Callable[[], Coroutine[Any, Any, None]]) -> bool:
    """Start `body`, let the loop run `spins` iterations, cancel it: did it end as cancelled?"""
    task = asyncio.get_running_loop().create_task(body())
    for _ in range(spins):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if not done:
        task.cancel()
    return bool(done) and task.cancelled()


@pytest.mark.parametrize("spins", range(6))
async def test_a_wake_loop_built_on_wait_set_stops_when_cancelled(spins: int) -> None:
    async def loop() -> None:
        wake = asyncio.Event()
        wake.set()  # a pass was requested before the loop started (reconciliation's first pass)
        while True:
            await wait_set(wake, 5.0)
            wake.clear()

    assert await _ends_when_cancelled(spins, loop)


@pytest.mark.parametrize("spins", range(6))
async def test_a_loop_built_on_within_stops_when_cancelled(spins: int) -> None:
    async def loop() -> None:
        while True:
            await within(asyncio.sleep(0), 5.0)
            await asyncio.sleep(3600)

    assert await _ends_when_cancelled(spins, loop)


async def test_wait_set_reports_set_or_timed_out_and_within_raises_past_its_bound() -> None:
    ev = asyncio.Event()
    assert await wait_set(ev, 0.01) is False
    asyncio.get_running_loop().call_soon(ev.set)
    assert await wait_set(ev, 5.0) is True
    assert await within(asyncio.sleep(0, result=7), 5.0) == 7
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)
