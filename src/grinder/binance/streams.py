"""Market-data WebSocket streams: routed combined-stream connections that stay up, feeding core events.

One connection per routed group (`/public/stream` for bookTicker and depth, `/market/stream` for
aggTrade/trade/markPrice). Each connection reconnects with capped exponential backoff plus seeded
jitter, is recycled before Binance's 24 h cut, and is replaced when no frame arrived for
`stale_after_s`. Depth diffs keep a `LocalOrderBook` per symbol in sync (snapshots fetched over
REST as needed). Malformed frames are counted, logged once per kind, and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

from grinder.binance import metrics
from grinder.binance.book import LocalOrderBook
from grinder.binance.config import BinanceConfig
from grinder.binance.constants import StreamGroup, stream_group
from grinder.binance.errors import BinanceAPIError, MalformedMessage, RateLimitRefused
from grinder.binance.parse import decode_stream_message
from grinder.binance.sink import EventSink
from grinder.core.aio import wait_set, within
from grinder.core.clock import Clock, WallClock
from grinder.core.events import BookTicker, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

MarketEvent = BookTicker | DepthUpdate | Trade | MarkPrice
MARKET_KINDS = ("bookTicker", "depth", "aggTrade", "markPrice")
_encode = msgspec.json.Encoder().encode
# Stream sessions: bound the connect phase only; an open WebSocket lives as long as it is healthy.
STREAM_SESSION_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15.0)


class Backoff:
    """Capped exponential backoff with ± jitter drawn from a seeded RNG (deterministic in tests)."""

    def __init__(self, initial_s: float, max_s: float, jitter: float, rng: random.Random) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = jitter
        self._rng = rng
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next(self) -> float:
        base = min(self.max_s, self.initial_s * float(2**self.attempt))
        self.attempt += 1
        spread = base * self.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))


def redact_url(url: str) -> str:
    """A stream URL fit for logs: a listenKey in the path or query is replaced by `<listenKey>`."""
    if "/private/" not in url:
        return url
    head, _, _ = url.partition("/private/")
    return f"{head}/private/<listenKey>"


class WsConnection:
    """One WebSocket kept alive: reconnects, staleness and age limits, frames to a callback."""

    def __init__(
        self,
        name: str,
        url_factory: Callable[[], Awaitable[str]],
        on_frame: Callable[[str | bytes], None],
        *,
        config: BinanceConfig,
        clock: Clock,
        rng: random.Random,
        session_factory: Callable[[], aiohttp.ClientSession],
        on_open: Callable[[], Awaitable[None]] | None = None,
        data_timeout: bool = True,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        # Market streams are never quiet: no frame for `stale_after_s` means a dead feed. The user
        # stream is quiet by nature; its silence is caught by ping/pong (`heartbeat_s`) only.
        self._data_timeout_s = config.stale_after_s if data_timeout else None
        self._url_factory = url_factory
        self._on_frame = on_frame
        self._config = config
        self._clock = clock
        self._session_factory = session_factory
        self._on_open = on_open
        self._on_close = on_close  # after each connection ends (requests awaiting answers fail)
        self._backoff = Backoff(
            config.reconnect_initial_s, config.reconnect_max_s, config.reconnect_jitter, rng
        )
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stop = asyncio.Event()
        self._force_reason: str | None = None
        self._closing: set[asyncio.Task[bool]] = set()
        self.connects = 0
        self.frames = 0
        self.last_alive_ns = 0  # monotonic time of the last frame or pong from the server
        self.pongs = 0
        self.connected = asyncio.Event()
        # Set by a frame handler whose frame caused work on other tasks (e.g. order sends): the
        # reader then lets the loop run them before it decodes the next buffered frame.
        self.yield_requested = False

    @property
    def is_connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def silent_s(self) -> float | None:
        """Seconds since the server last sent a frame or a pong; None while not connected."""
        if not self.is_connected:
            return None
        return (self._clock.monotonic_ns() - self.last_alive_ns) / 1e9

    def stop(self) -> None:
        self._stop.set()
        self.reconnect("stopped")

    def reconnect(self, reason: str) -> None:
        """Drop the current connection; the run loop opens a new one (at once)."""
        self._force_reason = reason
        ws = self._ws
        if ws is not None and not ws.closed:
            task = asyncio.get_running_loop().create_task(ws.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def send_json(self, payload: Mapping[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        await ws.send_str(_encode(payload).decode())
        return True

    async def run(self) -> None:
        cfg = self._config
        while not self._stop.is_set():
            reason = "connect_failed"
            immediate = False
            try:
                url = await self._url_factory()
                session = self._session_factory()
                async with session.ws_connect(
                    url, heartbeat=cfg.heartbeat_s, autoping=False, max_msg_size=cfg.max_frame_bytes,
                    compress=0,
                ) as ws:  # pings answered in `_read`, so pongs are seen there too (liveness)
                    if self._stop.is_set():
                        continue  # stopped while the handshake ran: close it unread
                    self._ws = ws
                    self._force_reason = None
                    self.last_alive_ns = self._clock.monotonic_ns()
                    self.connects += 1
                    metrics.WS_CONNECTED.labels(self.name).set(1)
                    log.info("WebSocket connected to %s", redact_url(url))
                    if self._on_open is not None:
                        await self._on_open()
                    self.connected.set()
                    reason = await self._read(ws)
                    immediate = reason in (
                        "max_age",
                        "listen_key_expired",
                        "listen_key_invalid",
                        "resubscribe",
                    )
            except (
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                BinanceAPIError,
                RateLimitRefused,
                ValueError,
            ) as exc:
                log.warning("ws_connect_failed stream=%s error=%s", self.name, type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
                metrics.WS_CONNECTED.labels(self.name).set(0)
                if self._on_close is not None:
                    self._on_close()
            if self._stop.is_set():
                break
            metrics.WS_RECONNECT_TOTAL.labels(self.name, reason).inc()
            delay = 0.0 if immediate else self._backoff.next()
            log.warning("ws_reconnect stream=%s reason=%s delay_s=%.3f", self.name, reason, delay)
            if delay > 0:
                await wait_set(self._stop, delay)
        log.info("ws_stopped stream=%s", self.name)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        cfg = self._config
        opened_ns = self._clock.monotonic_ns()
        got_frame = False
        while True:
            age_s = (self._clock.monotonic_ns() - opened_ns) / 1e9
            left_s = cfg.max_connection_age_s - age_s
            if left_s <= 0:
                await ws.close()
                return "max_age"
            data_timeout_s = self._data_timeout_s
            wait_s = left_s if data_timeout_s is None else min(data_timeout_s, left_s)
            try:
                msg = await ws.receive(timeout=wait_s)
            except TimeoutError:
                if cfg.max_connection_age_s - (self._clock.monotonic_ns() - opened_ns) / 1e9 <= 0:
                    await ws.close()
                    return "max_age"
                log.warning("ws_stale stream=%s silent_s=%.1f", self.name, data_timeout_s)
                await ws.close()
                return "stale"
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                if not got_frame:
                    got_frame = True
                    self._backoff.reset()  # the connection really works: start backoff afresh
                self.frames += 1
                self.last_alive_ns = self._clock.monotonic_ns()
                try:
                    self._on_frame(msg.data)
                except Exception:  # one bad frame or handler bug must not end the stream
                    metrics.MALFORMED_MESSAGES_TOTAL.labels(self.name).inc()
                    log.exception("ws_frame_handler_failed stream=%s", self.name)
                if self.yield_requested:
                    # `ws.receive()` returns buffered frames without suspending: without this a
                    # burst would be decoded in full before the tasks the frame started could run.
                    self.yield_requested = False
                    await asyncio.sleep(0)
                continue
            if msg.type is aiohttp.WSMsgType.PING:
                await ws.pong(msg.data)
                continue
            if msg.type is aiohttp.WSMsgType.PONG:  # the answer to aiohttp's heartbeat ping
                self.last_alive_ns = self._clock.monotonic_ns()
                self.pongs += 1
                continue
            return self._force_reason or _end_reason(self.name, msg, cfg.max_frame_bytes)


def _end_reason(name: str, msg: aiohttp.WSMessage, cap: int) -> str:
    """Why a connection ended, for the reconnect metric; an oversized frame and a missing pong say so."""
    if msg.type is not aiohttp.WSMsgType.ERROR:
        return "closed"
    err = msg.data
    if isinstance(err, aiohttp.WebSocketError) and err.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
        metrics.BODIES_TOO_LARGE_TOTAL.labels("ws_frame").inc()
        log.error("ws_frame_too_large stream=%s cap_bytes=%d: frame dropped, reconnecting (%s); raise "
                  "[binance] max_frame_bytes only if the exchange really sends frames this large",
                  name, cap, err)
        return "frame_too_large"
    if isinstance(err, aiohttp.ServerTimeoutError):
        log.warning("ws_silent stream=%s: no pong to our ping (%s)", name, err)
        return "no_pong"
    return "error"


async def stop_tasks(tasks: list[asyncio.Task[None]], grace_s: float = 2.0) -> None:
    """Let stopped connection loops finish (they close their sockets); cancel any still stuck."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _MalformedLog:
    """Counts malformed frames and logs each distinct kind once (with context)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.count = 0

    def report(self, stream: str, exc: Exception, frame: str | bytes) -> None:
        self.count += 1
        metrics.MALFORMED_MESSAGES_TOTAL.labels(stream).inc()
        kind = str(exc)[:60]
        if kind in self._seen:
            return
        if len(self._seen) < 1000:
            self._seen.add(kind)
        head = frame[:160] if isinstance(frame, str) else frame[:160].decode("utf-8", "replace")
        log.warning(
            "ws_malformed_message stream=%s error=%s frame=%r (skipped; further ones counted)",
            stream,
            exc,
            head,
        )


class TickLog:
    """`Received tick <SYMBOL> price=<p>` at INFO: the first per symbol, then at most one per interval."""

    def __init__(self, clock: Clock, interval_s: float) -> None:
        self._clock = clock
        self._interval_ns = int(interval_s * 1e9)
        self._next_ns: dict[str, int] = {}

    def maybe_log(self, symbol: str, price: Decimal) -> None:
        now = self._clock.monotonic_ns()
        if now < self._next_ns.get(symbol, -1):
            return
        self._next_ns[symbol] = now + self._interval_ns
        log.info("Received tick %s price=%s", symbol, format(price, "f"))


class MarketStreams:
    """Market-data streams for a set of symbols, delivering core events to a callback and/or queue."""

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        *,
        config: BinanceConfig | None = None,
        rest: Any | None = None,  # BinanceRestClient (for depth snapshots); typed loosely to avoid a cycle
        on_event: Callable[[MarketEvent], None] | None = None,
        queue: asyncio.Queue[MarketEvent] | None = None,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._rules = rules
        self._config = config or BinanceConfig()
        self._rest = rest
        self._sink: EventSink[MarketEvent] = EventSink("market", on_event, queue, lossless=False)
        self._clock: Clock = clock or WallClock()
        self._session = session
        self._own_session = session is None
        self._rng = random.Random(self._config.seed)
        self._streams: dict[StreamGroup, list[str]] = {StreamGroup.PUBLIC: [], StreamGroup.MARKET: []}
        self._conns: dict[StreamGroup, WsConnection] = {}
        self._tasks: dict[StreamGroup, asyncio.Task[None]] = {}
        self._snapshot_tasks: dict[str, asyncio.Task[None]] = {}
        self.books: dict[str, LocalOrderBook] = {}
        self._malformed = _MalformedLog()
        self._ticks = TickLog(self._clock, self._config.tick_log_interval_s)
        self._tick_children: dict[str, tuple[Any, Any]] = {}
        self._request_id = 0
        self._running = False

    # ----------------------------------------------------------------- subscription
    def stream_names(self, symbol: str, kinds: Iterable[str] = MARKET_KINDS) -> list[str]:
        s = symbol.lower()
        names = []
        for kind in kinds:
            if kind == "depth":
                speed = self._config.depth_speed
                names.append(f"{s}@depth@{speed}" if speed else f"{s}@depth")
            else:
                names.append(f"{s}@{kind}")
        return names

    async def subscribe(self, symbol: str, kinds: Iterable[str] = MARKET_KINDS) -> None:
        """Add streams for a symbol (live SUBSCRIBE on an open connection, or kept for the next one)."""
        if symbol not in self._rules:
            raise ValueError(f"cannot subscribe {symbol}: no SymbolRules for it (load exchangeInfo first)")
        if "depth" in kinds and symbol not in self.books:
            if self._rest is None:
                raise ValueError("depth streams need a REST client for order-book snapshots (pass rest=)")
            self.books[symbol] = LocalOrderBook(symbol)
        added: dict[StreamGroup, list[str]] = {}
        for name in self.stream_names(symbol, kinds):
            group = stream_group(name)
            if name not in self._streams[group]:
                self._streams[group].append(name)
                added.setdefault(group, []).append(name)
        for group, names in added.items():
            await self._send_method(group, "SUBSCRIBE", names)

    async def unsubscribe(self, symbol: str, kinds: Iterable[str] = MARKET_KINDS) -> None:
        removed: dict[StreamGroup, list[str]] = {}
        for name in self.stream_names(symbol, kinds):
            group = stream_group(name)
            if name in self._streams[group]:
                self._streams[group].remove(name)
                removed.setdefault(group, []).append(name)
        if "depth" in kinds:
            self.books.pop(symbol, None)
            task = self._snapshot_tasks.pop(symbol, None)
            if task is not None:
                task.cancel()
        for group, names in removed.items():
            await self._send_method(group, "UNSUBSCRIBE", names)

    async def _send_method(self, group: StreamGroup, method: str, names: list[str]) -> None:
        if not self._running:
            return
        conn = self._conns.get(group)
        if conn is None:
            if method == "SUBSCRIBE":
                self._start_group(group)
            return
        self._request_id += 1
        sent = await conn.send_json({"method": method, "params": names, "id": self._request_id})
        if not sent:
            log.info(
                "ws_%s_deferred stream=%s count=%d (applied on reconnect)",
                method.lower(),
                group.value,
                len(names),
            )

    # ----------------------------------------------------------------- lifecycle
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=STREAM_SESSION_TIMEOUT)
            self._own_session = True
        return self._session

    def _start_group(self, group: StreamGroup) -> None:
        async def url() -> str:
            streams = self._streams[group]
            if not streams:
                raise BinanceAPIError(0, None, f"no streams left on {group.value}")
            return f"{self._config.ws_url.rstrip('/')}/{group.value}/stream?streams={'/'.join(streams)}"

        conn = WsConnection(
            group.value,
            url,
            lambda frame: self._on_frame(group, frame),
            config=self._config,
            clock=self._clock,
            rng=random.Random(self._rng.random()),
            session_factory=self._get_session,
        )
        self._conns[group] = conn
        self._tasks[group] = asyncio.get_running_loop().create_task(conn.run(), name=f"ws-{group.value}")

    async def start(self) -> None:
        self._running = True
        for group, streams in self._streams.items():
            if streams and group not in self._conns:
                self._start_group(group)

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        await within(asyncio.gather(*(c.connected.wait() for c in self._conns.values())), timeout_s)

    async def stop(self) -> None:
        self._running = False
        for conn in self._conns.values():
            conn.stop()
        for task in self._snapshot_tasks.values():
            task.cancel()
        await stop_tasks([*self._tasks.values(), *self._snapshot_tasks.values()])
        await self._sink.close()
        self._conns.clear()
        self._tasks.clear()
        self._snapshot_tasks.clear()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def connection(self, group: StreamGroup) -> WsConnection | None:
        return self._conns.get(group)

    def request_yield(self) -> None:
        """From an event callback: let the loop run other ready tasks before the next frame is read."""
        for conn in self._conns.values():
            conn.yield_requested = True

    @property
    def malformed_count(self) -> int:
        return self._malformed.count

    # ----------------------------------------------------------------- frames
    def book(self, symbol: str) -> LocalOrderBook:
        return self.books[symbol]

    def _on_frame(self, group: StreamGroup, frame: str | bytes) -> None:
        try:
            ev = decode_stream_message(frame, self._rules)
        except MalformedMessage as exc:
            self._malformed.report(group.value, exc, frame)
            return
        if ev is None:
            return
        if not isinstance(ev, BookTicker | DepthUpdate | Trade | MarkPrice):
            self._malformed.report(
                group.value, MalformedMessage(f"user event on a market stream: {ev!r}"), frame
            )
            return
        self.handle_event(ev)

    def handle_event(self, ev: MarketEvent) -> None:
        """Count, log, update the book, deliver. Public so replay tools can feed decoded events."""
        symbol = ev.symbol
        children = self._tick_children.get(symbol)
        if children is None:
            children = (metrics.TICKS_RECEIVED_TOTAL.labels(symbol), metrics.LAST_TICK_TS.labels(symbol))
            self._tick_children[symbol] = children
        children[0].inc()
        children[1].set(self._clock.now_ns() / 1e9)
        if isinstance(ev, DepthUpdate):
            book = self.books.get(symbol)
            if book is not None and book.on_diff(ev):
                self._ensure_snapshot(symbol)
        elif isinstance(ev, BookTicker):
            tick = self._rules[symbol].tick_size
            self._ticks.maybe_log(symbol, tick * (ev.bid_ticks + ev.ask_ticks) / 2)
        elif isinstance(ev, Trade):
            self._ticks.maybe_log(symbol, self._rules[symbol].tick_size * ev.price_ticks)
        self._sink.deliver(ev)

    @property
    def dropped_events(self) -> int:
        """Events a full queue made us drop (the books are kept before delivery, so they stay in sync)."""
        return self._sink.dropped

    # ----------------------------------------------------------------- book snapshots
    def _ensure_snapshot(self, symbol: str) -> None:
        task = self._snapshot_tasks.get(symbol)
        if (task is None or task.done()) and self._running:
            self._snapshot_tasks[symbol] = asyncio.get_running_loop().create_task(
                self._fetch_snapshot(symbol), name=f"depth-snapshot-{symbol}"
            )

    async def _fetch_snapshot(self, symbol: str) -> None:
        attempt = 0
        while self._running:
            book = self.books.get(symbol)
            if book is None or not book.needs_snapshot or self._rest is None:
                return
            try:
                snap = await self._rest.depth(
                    symbol, self._config.depth_snapshot_limit, rules=self._rules[symbol]
                )
            except (BinanceAPIError, RateLimitRefused, MalformedMessage) as exc:
                log.warning("book_snapshot_failed symbol=%s error=%s", symbol, exc)
            else:
                if book.apply_snapshot(snap):
                    return
                log.info(
                    "book_snapshot_older_than_diffs symbol=%s last_update_id=%d", symbol, snap.last_update_id
                )
            attempt += 1
            await asyncio.sleep(min(5.0, 0.05 * (2**attempt)))
