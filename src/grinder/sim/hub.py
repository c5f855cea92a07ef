"""WebSocket stream fan-out: connections, subscriptions, per-connection write queues, stall/drop faults.

A published message is encoded once; each subscribed connection gets it raw (`/ws`) or wrapped as
`{"stream": name, "data": ...}` (`/stream`, or after SET_PROPERTY combined=true). A slow client
whose queue passes `max_queue` is disconnected rather than slowing everyone (as Binance does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from aiohttp import web

from grinder.sim.metrics import WS_CONNECTIONS, WS_MESSAGES_TOTAL

log = logging.getLogger(__name__)

PUBLIC = "public"
MARKET = "market"
PRIVATE = "private"
LEGACY = "legacy"


def stream_class(stream: str) -> str:
    """Which routed path serves a stream name (protocol sheet §5.1); listenKeys are private."""
    if "@" not in stream and not stream.startswith("!"):
        return PRIVATE
    kind = stream.split("@", 1)[1] if "@" in stream else stream
    # ccxt (following Binance's routing notice) also serves the raw `@trade` stream on /public.
    if stream.startswith("!bookTicker") or kind.startswith(("bookTicker", "depth", "rpiDepth", "trade")):
        return PUBLIC
    return MARKET


class StreamConn:
    """One client WebSocket: its path class, framing, subscriptions and outgoing queue."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        path_class: str,
        combined: bool,
        opened_ms: int,
        max_queue: int,
    ):
        self.ws = ws
        self._transport = transport
        self.path_class = path_class
        self.combined = combined
        self.opened_ms = opened_ms
        self.streams: list[str] = []  # in subscription order (LIST_SUBSCRIPTIONS)
        self.event_filter: dict[str, frozenset[str]] = {}  # listenKey -> allowed event types
        self.last_pong_ms = opened_ms
        self.incoming: deque[int] = deque()
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._max_queue = max_queue
        self.stalled_until_ns = 0
        self.silent_until_ns = 0  # pings unanswered until then (a "silent" stall)
        self.closed = False
        self.sent = 0

    def push(self, text: str) -> bool:
        """Queue a frame; False (and the connection is closed) when the client cannot keep up."""
        if self.closed:
            return False
        if len(self._queue) >= self._max_queue:
            log.warning("sim_ws_slow_client_disconnected queued=%d", len(self._queue))
            self.abort()
            return False
        self._queue.append(text)
        self._wake.set()
        return True

    async def writer(self, monotonic_ns: Callable[[], int]) -> None:
        ws = self.ws
        queue = self._queue
        while not self.closed:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            stall_ns = self.stalled_until_ns - monotonic_ns()
            if stall_ns > 0:
                await asyncio.sleep(stall_ns / 1e9)
                continue
            try:
                while queue:
                    await ws.send_str(queue.popleft())
                    self.sent += 1
            except (ConnectionError, RuntimeError):
                self.closed = True
                return

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (what a network failure looks like)."""
        self.closed = True
        self._wake.set()
        # uvloop's transports are not `asyncio.Transport` subclasses, so duck-type the abort: an
        # isinstance check would silently skip it there and turn the drop into a stall.
        abort = getattr(self._transport, "abort", None)
        if abort is not None:
            abort()

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message)


class StreamHub:
    """stream name -> subscribed connections; publishing encodes the combined wrapper lazily once."""

    def __init__(self, *, routed_strict: bool, legacy_public_only: bool) -> None:
        self.conns: set[StreamConn] = set()
        self._subs: dict[str, set[StreamConn]] = {}
        self._routed_strict = routed_strict
        self._legacy_public_only = legacy_public_only
        self.published = 0

    def deliverable(self, conn: StreamConn, stream: str) -> bool:
        """Binance silently delivers nothing for a stream on the wrong routed path (§5.1)."""
        cls = stream_class(stream)
        if conn.path_class == LEGACY:
            return cls != MARKET or not self._legacy_public_only
        if not self._routed_strict:
            return True
        return cls == conn.path_class

    def subscribe(self, conn: StreamConn, stream: str) -> None:
        if stream not in conn.streams:
            conn.streams.append(stream)
        if self.deliverable(conn, stream):
            self._subs.setdefault(stream, set()).add(conn)

    def unsubscribe(self, conn: StreamConn, stream: str) -> None:
        if stream in conn.streams:
            conn.streams.remove(stream)
        subs = self._subs.get(stream)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self._subs[stream]

    def add(self, conn: StreamConn) -> None:
        self.conns.add(conn)
        WS_CONNECTIONS.inc()

    def remove(self, conn: StreamConn) -> None:
        for stream in list(conn.streams):
            self.unsubscribe(conn, stream)
        if conn in self.conns:
            self.conns.discard(conn)
            WS_CONNECTIONS.dec()

    def has_subscribers(self, stream: str) -> bool:
        return stream in self._subs

    def publish(self, stream: str, raw: str, event_type: str | None = None) -> int:
        """Send `raw` (a JSON document) to every subscriber of `stream`; returns the number reached."""
        subs = self._subs.get(stream)
        if not subs:
            return 0
        wrapped: str | None = None
        reached = 0
        for conn in list(subs):
            if event_type is not None and conn.event_filter:
                allowed = conn.event_filter.get(stream)
                if allowed is not None and event_type not in allowed:
                    continue
            if conn.combined:
                if wrapped is None:
                    wrapped = '{"stream":"' + stream + '","data":' + raw + "}"
                ok = conn.push(wrapped)
            else:
                ok = conn.push(raw)
            if ok:
                reached += 1
            else:
                self.remove(conn)
        self.published += reached
        WS_MESSAGES_TOTAL.inc(reached)
        return reached
