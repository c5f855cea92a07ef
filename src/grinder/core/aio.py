"""Bounded waits that never lose a cancellation.

On Python 3.11 `asyncio.wait_for` has a race (CPython gh-86296, fixed in 3.12 where it is built on
`asyncio.timeout`): when the waiting task is cancelled in the same loop iteration as the awaited
thing completes, `wait_for` returns the result and the cancellation is gone. A loop that is stopped
by cancelling its task (`while True: wait_for(event.wait(), t); ...`) then simply runs on, and
whoever awaits the task waits for ever. That is how a `grinder live` whose reconciliation loop had
just started ignored SIGTERM. Code in `src/grinder` waits with these helpers or `asyncio.timeout`;
ruff's banned-api rule (TID251) refuses `asyncio.wait_for` there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait until `event` is set, at most `timeout_s` (None: no bound); True when it is set. A
    cancellation propagates."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def within(aw: Awaitable[T], timeout_s: float | None) -> T:
    """`await aw`, raising TimeoutError after `timeout_s`. A cancellation propagates."""
    async with asyncio.timeout(timeout_s):
        return await aw
