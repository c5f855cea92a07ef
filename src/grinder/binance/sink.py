"""Where a stream's decoded events go: a callback and/or an asyncio queue (ADR-300).

The callback's exceptions are logged, never raised into the stream. A full queue is handled by the
stream's policy: market data (`lossless=False`) drops the event and counts it — the local books are
kept by the stream before delivery, so a dropped diff never desynchronises them; user data
(`lossless=True`: fills) is never dropped — the events wait, in order, in a backlog that is handed
over as the consumer makes room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from grinder.binance import metrics

log = logging.getLogger("grinder.binance")

E = TypeVar("E")


@dataclass(eq=False)
class EventSink(Generic[E]):
    """One stream's delivery: `deliver(ev)` from the frame handler; `close()` when the stream stops."""

    stream: str
    on_event: Callable[[E], None] | None
    queue: asyncio.Queue[E] | None
    lossless: bool = field(kw_only=True)  # True: never drop (user data); False: drop and count
    backlog: deque[E] = field(default_factory=deque, init=False)  # lossless: waiting for room, oldest first
    dropped: int = field(default=0, init=False)
    _drain_task: asyncio.Task[None] | None = field(default=None, init=False)

    def deliver(self, ev: E) -> None:
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:
                log.exception("stream_event_handler_failed stream=%s event=%s", self.stream,
                              type(ev).__name__)
        queue = self.queue
        if queue is None:
            return
        if not self.backlog:  # behind a backlog an event waits its turn, even if the queue has room
            try:
                queue.put_nowait(ev)
                return
            except asyncio.QueueFull:
                pass
        if not self.lossless:
            self.dropped += 1
            metrics.EVENTS_DROPPED_TOTAL.labels(self.stream).inc()
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("stream_queue_full stream=%s dropped=%d (the consumer is too slow)",
                            self.stream, self.dropped)
            return
        self.backlog.append(ev)
        metrics.EVENT_BACKLOG.labels(self.stream).set(len(self.backlog))
        if self._drain_task is None or self._drain_task.done():
            log.warning("stream_queue_full stream=%s: events held in order until the consumer makes room",
                        self.stream)
            self._drain_task = asyncio.get_running_loop().create_task(
                self._drain(queue), name=f"event-backlog-{self.stream}"
            )

    async def _drain(self, queue: asyncio.Queue[E]) -> None:
        while self.backlog:
            await queue.put(self.backlog[0])
            self.backlog.popleft()
            metrics.EVENT_BACKLOG.labels(self.stream).set(len(self.backlog))

    async def close(self) -> None:
        """Stop handing the backlog over (what is left stays in `backlog`)."""
        task, self._drain_task = self._drain_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
