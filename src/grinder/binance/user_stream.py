"""User-data stream: listenKey lifecycle, ORDER_TRADE_UPDATE / ACCOUNT_UPDATE as core events, no lost fill.

The listenKey is created (POST), kept alive every 30 min (PUT) and re-created on -1125 or a
`listenKeyExpired` event. Every (re)connect runs a recovery pass before live frames are read:
`userTrades` since the last event seen (per symbol) become `OrderUpdate(x=TRADE)` events exactly as
the stream would have sent them, and the open orders are delivered in a `UserStreamResynced`.
Repeated events are dropped by (order id, execution type, trade id / transaction time).
Each reconnect asks POST listenKey again (the active key, or a new one if it expired meanwhile).
While REST is in a rate-limit back-off the socket still opens with the known key and live events
flow; the recovery of the gap is deferred until the governor lets REST through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from decimal import Decimal

import aiohttp
import msgspec

from grinder.binance import metrics
from grinder.binance.config import BinanceConfig
from grinder.binance.errors import BinanceAPIError, ErrorKind, MalformedMessage, RateLimitRefused
from grinder.binance.parse import decode_stream_message
from grinder.binance.rest import BinanceRestClient
from grinder.binance.schemas import ListenKeyExpired, OrderResponse, UserTrade
from grinder.binance.sink import EventSink
from grinder.binance.streams import STREAM_SESSION_TIMEOUT, WsConnection, _MalformedLog, stop_tasks
from grinder.binance.units import grids_for
from grinder.core.aio import within
from grinder.core.clock import Clock, WallClock
from grinder.core.enums import ExecutionType, OrderStatus, PositionSide, Side
from grinder.core.errors import ErrorCode
from grinder.core.events import AccountUpdate, OrderUpdate
from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

RECOVERY_MARGIN_MS = 2_000  # look back a little before the last seen event: clocks and ordering jitter
TRADES_PAGE = 1000  # Binance's maximum userTrades limit
TRADES_MAX = 20_000  # a gap with more of our fills than this is reported, not silently cut
LIVENESS_FACTOR = 1.5  # heartbeat ping after heartbeat_s of silence; its pong is due within half that
DEFERRED_RETRY_MAX_S = 2.0  # a recovery refused by the rate-limit governor is re-asked this often


class UserStreamResynced(msgspec.Struct, frozen=True, gc=False):
    """After a (re)connect: what was fetched over REST. Missed fills were delivered just before it."""

    reason: str
    open_orders: tuple[OrderResponse, ...]
    recovered_fills: int
    since_ms: int


UserStreamEvent = OrderUpdate | AccountUpdate | UserStreamResynced


class _SeenSet:
    """A bounded set (oldest forgotten first)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._order: deque[Hashable] = deque()
        self._set: set[Hashable] = set()
        self._capacity = capacity

    def add(self, key: Hashable) -> bool:
        """True if new."""
        if key in self._set:
            return False
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._set.discard(self._order.popleft())
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._set


def order_update_key(ev: OrderUpdate) -> tuple[object, ...]:
    """Identity of one order event: a fill by its trade id, anything else by its transaction time."""
    if ev.execution_type is ExecutionType.TRADE:
        return (ev.symbol, ev.order_id, ev.execution_type.value, ev.trade_id)
    return (ev.symbol, ev.order_id, ev.execution_type.value, ev.status.value, ev.transaction_time_ms)


def fills_from_trades(order: OrderResponse, trades: list[UserTrade], rules: SymbolRules) -> list[OrderUpdate]:
    """Rebuild the TRADE events of one order from its userTrades (all trades after the gap, id order).

    The order's cumulative fill before each trade is its current executedQty minus the trades that
    came after it, so cum/status match what the stream would have said at that moment.
    """
    grids = grids_for(rules)
    ordered = sorted(trades, key=lambda t: t.id)
    orig = grids.qty.units(order.origQty)
    cum = grids.qty.units(order.executedQty)
    lots = [grids.qty.units(t.qty) for t in ordered]
    cums: list[int] = []
    for q in reversed(lots):
        cums.append(cum)
        cum -= q
    cums.reverse()
    price_ticks = grids.price.units(order.price) if Decimal(order.price) else 0
    out = []
    for trade, qty, cum_after in zip(ordered, lots, cums, strict=True):
        out.append(
            OrderUpdate(
                symbol=order.symbol,
                order_id=order.orderId,
                client_order_id=order.clientOrderId,
                side=Side(trade.side),
                order_type=order.to_order_type(),
                time_in_force=order.to_time_in_force(),
                position_side=PositionSide(trade.positionSide),
                reduce_only=order.reduceOnly,
                price_ticks=price_ticks,
                orig_qty_lots=orig,
                execution_type=ExecutionType.TRADE,
                status=OrderStatus.FILLED if cum_after >= orig else OrderStatus.PARTIALLY_FILLED,
                last_fill_lots=qty,
                last_fill_price_ticks=grids.price.units(trade.price),
                cum_filled_lots=cum_after,
                avg_price=Decimal(order.avgPrice),  # the order's average now (exact at the last fill)
                commission=trade.commission,
                commission_asset=trade.commissionAsset,
                realized_pnl=trade.realizedPnl,
                is_maker=trade.maker,
                trade_id=trade.id,
                event_time_ms=trade.time,
                transaction_time_ms=trade.time,
            )
        )
    return out


def order_from_trades(symbol: str, order_id: int, trades: list[UserTrade]) -> OrderResponse:
    """A stand-in order for fills whose order cannot be queried: filled by exactly these trades.

    Client order id, order type and time in force are unknown and reported as "", LIMIT, GTC.
    """
    total = sum(Decimal(t.qty) for t in trades)
    last = max(trades, key=lambda t: t.id)
    return OrderResponse(
        orderId=order_id,
        symbol=symbol,
        status="FILLED",
        clientOrderId="",
        price=last.price,
        origQty=format(total, "f"),
        executedQty=format(total, "f"),
        side=last.side,
        type="LIMIT",
        avgPrice="0",
        positionSide=last.positionSide,
    )


class UserDataStream:
    """The account's user-data stream; events go to a callback and/or an asyncio queue."""

    def __init__(
        self,
        rest: BinanceRestClient,
        rules: Mapping[str, SymbolRules],
        *,
        symbols: Iterable[str] | None = None,
        config: BinanceConfig | None = None,
        on_event: Callable[[UserStreamEvent], None] | None = None,
        queue: asyncio.Queue[UserStreamEvent] | None = None,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._rest = rest
        self._rules = rules
        self.symbols = tuple(symbols) if symbols is not None else tuple(rules)
        self._config = config or BinanceConfig()
        # Lossless: a fill is never dropped; a full queue makes the events wait, in order (ADR-300).
        self._sink: EventSink[UserStreamEvent] = EventSink("user", on_event, queue, lossless=True)
        self._clock: Clock = clock or WallClock()
        self._session = session
        self._own_session = session is None
        self.listen_key: str | None = None
        self._key_used = False  # a connection was tried with `listen_key`: ask again on the next
        self._seen_events = _SeenSet()
        self._seen_account = _SeenSet(5_000)
        self._last_seen_ms: dict[str, int] = {}
        self._since_ms = 0
        self._malformed = _MalformedLog()
        self._conn: WsConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.recoveries = 0
        # Recovery that REST's rate-limit back-off refused: per-symbol "seen up to" marks of the gap,
        # and the task that retries it while live events already flow.
        self._deferred_marks: dict[str, int] | None = None
        self._deferred_task: asyncio.Task[None] | None = None
        self.deferred_recoveries = 0
        self.key_renewals = 0

    # ----------------------------------------------------------------- lifecycle
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=STREAM_SESSION_TIMEOUT)
            self._own_session = True
        return self._session

    async def _url(self) -> str:
        if self.listen_key is None or self._key_used:
            # A reconnect asks again: POST returns the account's active key (extending it) or, when
            # it expired while we were away (no `listenKeyExpired` reached us), a new one. Reusing
            # the old key would be refused (-1125) on every retry until the next keepalive.
            old = self.listen_key
            try:
                self.listen_key = await self._rest.start_listen_key()
            except RateLimitRefused:
                if old is None:
                    raise
                # REST is in a back-off (429/418): try the key we have; if it expired, the
                # handshake fails and the next attempt asks again.
                log.warning("listen_key_check_deferred: REST in a rate-limit back-off, reusing the key")
                self._key_used = True
                return self._stream_url(old)
            if self.listen_key != old:
                self.key_renewals += 1
                metrics.LISTEN_KEY_RENEWALS_TOTAL.labels("create").inc()
                log.info("listen_key_created" if old is None else "listen_key_replaced on reconnect")
            else:
                metrics.LISTEN_KEY_RENEWALS_TOTAL.labels("keepalive").inc()
        self._key_used = True
        return self._stream_url(self.listen_key)

    def _stream_url(self, listen_key: str) -> str:
        path = self._config.user_stream_path.format(listen_key=listen_key)
        return f"{self._config.ws_url.rstrip('/')}{path}"

    async def start(self) -> None:
        self._since_ms = self._rest.server_now_ms()
        self._conn = WsConnection(
            "private",
            self._url,
            self._on_frame,
            config=self._config,
            clock=self._clock,
            rng=random.Random(self._config.seed + 1),
            session_factory=self._get_session,
            on_open=self._on_open,
            data_timeout=False,  # quiet by nature: silence is detected by ping/pong (heartbeat_s)
        )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._conn.run(), name="ws-private"),
            loop.create_task(self._keepalive_loop(), name="listen-key-keepalive"),
        ]

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        assert self._conn is not None, "start() first"
        await within(self._conn.connected.wait(), timeout_s)

    @property
    def connection(self) -> WsConnection | None:
        return self._conn

    def stale_reason(self) -> str | None:
        """Why the open socket cannot be trusted to be alive: no event and no pong for longer than the
        liveness window (a heartbeat ping after `heartbeat_s` of silence + its pong wait); else None."""
        silent = None if self._conn is None else self._conn.silent_s()
        window_s = LIVENESS_FACTOR * self._config.heartbeat_s
        if silent is None or silent <= window_s:
            return None
        return f"user-data stream silent for {silent:.1f}s (no event or pong; window {window_s:.1f}s)"

    async def stop(self, *, close_listen_key: bool = True) -> None:
        if self._conn is not None:
            self._conn.stop()
        if len(self._tasks) > 1:
            self._tasks[1].cancel()  # keepalive loop
        if self._deferred_task is not None:
            self._deferred_task.cancel()
            await stop_tasks([self._deferred_task])
            self._deferred_task = None
        await stop_tasks(self._tasks)
        self._tasks = []
        await self._sink.close()
        if close_listen_key and self.listen_key is not None:
            with contextlib.suppress(BinanceAPIError, RateLimitRefused):
                await self._rest.close_listen_key()
            self.listen_key = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def keepalive(self) -> None:
        """PUT the listenKey; on -1125 (gone) forget it and reconnect with a new one."""
        if self.listen_key is None:
            return
        try:
            await self._rest.keepalive_listen_key()
            metrics.LISTEN_KEY_RENEWALS_TOTAL.labels("keepalive").inc()
        except BinanceAPIError as exc:
            if exc.code == ErrorCode.INVALID_LISTEN_KEY:
                log.warning("listen_key_invalid action=recreate")
                self._renew("listen_key_invalid")
            else:
                log.warning("listen_key_keepalive_failed code=%s kind=%s", exc.code, exc.kind.value)

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.listen_key_keepalive_s)
            try:
                await self.keepalive()
            except Exception:  # the next round retries; the stream itself reconnects on expiry
                log.exception("listen_key_keepalive_error")

    def _renew(self, reason: str) -> None:
        self.listen_key = None
        if self._conn is not None:
            self._conn.reconnect(reason)

    # ----------------------------------------------------------------- recovery
    async def _on_open(self) -> None:
        if self.listen_key is None:
            # The key was declared gone while this socket was connecting: connect again with a new one.
            raise BinanceAPIError(0, None, "listenKey replaced during connect", kind=ErrorKind.RETRYABLE)
        reason = "connect" if self.recoveries == 0 else "reconnect"
        marks = dict(self._last_seen_ms)  # before any live frame of this connection moves them
        try:
            await self.recover(reason, marks)
        except RateLimitRefused as exc:
            # REST is in a rate-limit back-off (a 429 without Retry-After blocks its pool to the end
            # of the window, up to 60 s). Dropping the socket would leave us blind to our own fills
            # for all that time: keep it, deliver live events now, recover the gap when REST frees.
            self._defer_recovery(reason, marks, exc)

    def _defer_recovery(self, reason: str, marks: dict[str, int], exc: RateLimitRefused) -> None:
        if self._deferred_marks is None:
            self._deferred_marks = {sym: marks.get(sym, self._since_ms) for sym in self.symbols}
        else:  # a second gap before the first was recovered: cover both (a new dict: see below)
            old = self._deferred_marks
            self._deferred_marks = {s: min(old[s], marks.get(s, self._since_ms)) for s in self.symbols}
        log.warning("user_stream_recovery_deferred reason=%s wait_s=%.1f: live events flow now, the gap is "
                    "recovered when the REST back-off ends (%s)", reason, exc.wait_s, exc.reason)
        if self._deferred_task is None or self._deferred_task.done():
            self._deferred_task = asyncio.get_running_loop().create_task(
                self._deferred_recovery(reason, exc.wait_s), name="user-stream-deferred-recovery")

    async def _deferred_recovery(self, reason: str, wait_s: float) -> None:
        while True:
            # The governor refuses locally (nothing is sent), so asking every few seconds is free.
            await asyncio.sleep(min(max(wait_s, 0.1), DEFERRED_RETRY_MAX_S))
            marks = self._deferred_marks
            if marks is None:
                return
            try:
                await self.recover(f"{reason}_deferred", marks)
            except RateLimitRefused as exc:
                wait_s = exc.wait_s
                continue
            except Exception as exc:  # network or exchange error: the same pass again shortly
                log.warning("user_stream_deferred_recovery_failed error=%s: %s", type(exc).__name__, exc)
                wait_s = DEFERRED_RETRY_MAX_S
                continue
            self.deferred_recoveries += 1
            if self._deferred_marks is marks:  # no new gap was merged while this pass ran
                self._deferred_marks = None
                return
            wait_s = 0.0

    async def recover(self, reason: str, marks: Mapping[str, int] | None = None) -> int:
        """Fetch fills missed since the last seen event (or `marks`, per symbol) and the open orders;
        returns fills delivered."""
        self.recoveries += 1
        seen = self._last_seen_ms if marks is None else marks
        delivered = 0
        since_all = self._since_ms
        for symbol in self.symbols:
            rules = self._rules.get(symbol)
            if rules is None:
                continue
            since = max(0, seen.get(symbol, self._since_ms) - RECOVERY_MARGIN_MS)
            since_all = min(since_all, since)
            trades = await self._trades_since(symbol, since)
            by_order: dict[int, list[UserTrade]] = {}
            for trade in trades:
                key = (symbol, trade.orderId, ExecutionType.TRADE.value, trade.id)
                if key not in self._seen_events:
                    by_order.setdefault(trade.orderId, []).append(trade)
            for order_id, missed in by_order.items():
                later = [t for t in trades if t.orderId == order_id]  # all trades since `since`
                try:
                    order = await self._rest.query_order(symbol, order_id=order_id)
                except BinanceAPIError as exc:
                    if exc.kind is not ErrorKind.NON_RETRYABLE:
                        raise
                    # The order is no longer queryable: still deliver its fills, from the trades alone.
                    log.warning(
                        "user_stream_recovery_order_unqueryable order_id=%d code=%s", order_id, exc.code
                    )
                    order = order_from_trades(symbol, order_id, later)
                for ev in fills_from_trades(order, later, rules):
                    if order_update_key(ev) in self._seen_events or ev.trade_id not in {t.id for t in missed}:
                        continue
                    self._accept_order_update(ev)
                    delivered += 1
        open_orders: list[OrderResponse] = []
        for symbol in self.symbols:
            open_orders.extend(await self._rest.open_orders(symbol))
        if delivered:
            metrics.USER_STREAM_RECOVERED_FILLS_TOTAL.inc(delivered)
        log.info(
            "user_stream_resynced reason=%s recovered_fills=%d open_orders=%d",
            reason,
            delivered,
            len(open_orders),
        )
        self._sink.deliver(UserStreamResynced(reason, tuple(open_orders), delivered, since_all))
        return delivered

    async def _trades_since(self, symbol: str, since_ms: int) -> list[UserTrade]:
        """All of our trades since `since_ms`, paging by trade id past Binance's 1000-row limit."""
        page = await self._rest.user_trades(symbol, start_time_ms=since_ms, limit=TRADES_PAGE)
        trades = list(page)
        while len(page) == TRADES_PAGE and len(trades) < TRADES_MAX:
            page = await self._rest.user_trades(symbol, from_id=page[-1].id + 1, limit=TRADES_PAGE)
            trades.extend(page)
        if len(trades) >= TRADES_MAX:
            log.error("user_stream_recovery_truncated symbol=%s trades=%d", symbol, len(trades))
        return trades

    # ----------------------------------------------------------------- frames
    def _on_frame(self, frame: str | bytes) -> None:
        try:
            ev = decode_stream_message(frame, self._rules)
        except MalformedMessage as exc:
            self._malformed.report("private", exc, frame)
            return
        if ev is None:
            return
        if isinstance(ev, ListenKeyExpired):
            log.warning("listen_key_expired action=recreate")
            self._renew("listen_key_expired")
        elif isinstance(ev, OrderUpdate):
            self._accept_order_update(ev)
        elif isinstance(ev, AccountUpdate):
            key = (ev.reason, ev.event_time_ms, ev.transaction_time_ms, len(ev.balances), len(ev.positions))
            if self._seen_account.add(key):
                self._sink.deliver(ev)
            else:
                metrics.USER_STREAM_DUPLICATES_TOTAL.inc()
        else:
            self._malformed.report(
                "private", MalformedMessage(f"market event on the user stream: {ev!r}"), frame
            )

    def _accept_order_update(self, ev: OrderUpdate) -> None:
        if not self._seen_events.add(order_update_key(ev)):
            metrics.USER_STREAM_DUPLICATES_TOTAL.inc()
            return
        seen = ev.transaction_time_ms or ev.event_time_ms
        if seen > self._last_seen_ms.get(ev.symbol, 0):
            self._last_seen_ms[ev.symbol] = seen
        self._sink.deliver(ev)

    @property
    def malformed_count(self) -> int:
        return self._malformed.count
