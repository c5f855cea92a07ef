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


async def _cancel_after(spins: int, body: Callable[[list[int]], Coroutine[Any, Any, None]]) -> tuple[bool, int]:
    """Start `body`, let the loop run `spins` iterations, cancel; (ended, passes made)."""
    passes: list[int] = []
    task = asyncio.get_running_loop().create_task(body(passes))
    for _ in range(spins):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if not done:
        task.cancel()
    return bool(done) and task.cancelled(), len(passes)


@pytest.mark.parametrize("spins", range(6))
async def test_a_wake_loop_built_on_wait_set_stops_when_cancelled(spins: int) -> None:
    async def loop(passes: list[int]) -> None:
        wake = asyncio.Event()
        wake.set()  # a pass was requested before the loop started (reconciliation's first pass)
        while True:
            await wait_set(wake, 5.0)
            wake.clear()
            passes.append(1)

    ended, _ = await _cancel_after(spins, loop)
    assert ended


@pytest.mark.parametrize("spins", range(6))
async def test_a_loop_built_on_within_stops_when_cancelled(spins: int) -> None:
    async def loop(passes: list[int]) -> None:
        while True:
            await within(asyncio.sleep(0), 5.0)
            passes.append(1)
            await asyncio.sleep(3600)

    ended, _ = await _cancel_after(spins, loop)
    assert ended


async def test_wait_set_reports_set_or_timed_out_and_within_raises_past_its_bound() -> None:
    ev = asyncio.Event()
    assert await wait_set(ev, 0.01) is False
    asyncio.get_running_loop().call_soon(ev.set)
    assert await wait_set(ev, 5.0) is True
    assert await within(asyncio.sleep(0, result=7), 5.0) == 7
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)
