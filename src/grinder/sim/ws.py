"""WebSocket endpoints: routed `/public`, `/market`, `/private` and legacy `/ws`, `/stream` paths.

URL forms (protocol sheet §5.1, §4.6): `<prefix>/ws/<s1>/<s2>` (raw frames), `<prefix>/stream?streams=
<s1>/<s2>` (combined frames), `/private/ws/<listenKey>`, `/private/ws?listenKey=<k>&events=A/B`,
`/private/stream?listenKey=<k>`, and live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS /
SET_PROPERTY / GET_PROPERTY requests. The server pings every 3 minutes, drops a client silent for
10 minutes, closes connections at their maximum lifetime, and cuts clients sending >10 messages/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from grinder.core.errors import ErrorCode
from grinder.sim.config import SimConfig
from grinder.sim.errors import MSG_INVALID_LISTEN_KEY
from grinder.sim.hub import LEGACY, MARKET, PRIVATE, PUBLIC, StreamConn, StreamHub, stream_class
from grinder.sim.userdata import UserData

log = logging.getLogger(__name__)
_encode_json = json.JSONEncoder(separators=(",", ":")).encode
PING_INTERVAL_MS = 180_000
PONG_TIMEOUT_MS = 600_000
MAX_STREAMS = 1024
_MIN_LISTEN_KEY_LEN = 32


class WsGateway:
    """Accepts stream connections and serves their requests; `housekeeping` enforces the timers."""

    def __init__(
        self,
        hub: StreamHub,
        user: UserData,
        config: SimConfig,
        now_ms: Callable[[], int],
        monotonic_ns: Callable[[], int],
        max_incoming_per_s: int = 10,
    ) -> None:
        self.hub = hub
        self.user = user
        self.config = config
        self.now_ms = now_ms
        self.monotonic_ns = monotonic_ns
        self.max_incoming_per_s = max_incoming_per_s
        self.max_lifetime_ms = config.max_connection_lifetime_ms  # Binance: 24 h; /_sim/lifecycle shortens it
        self._last_ping_ms: dict[StreamConn, int] = {}

    def add_routes(self, app: web.Application) -> None:
        for prefix, cls in (("", LEGACY), ("/public", PUBLIC), ("/market", MARKET), ("/private", PRIVATE)):
            app.router.add_get(f"{prefix}/ws", self._handler(cls, combined=False))
            app.router.add_get(prefix + "/ws/{streams:.+}", self._handler(cls, combined=False))
            app.router.add_get(f"{prefix}/stream", self._handler(cls, combined=True))

    def _handler(self, path_class: str, *, combined: bool) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, path_class, combined)

        return handle

    async def serve(self, request: web.Request, path_class: str, combined: bool) -> web.StreamResponse:
        streams = [s for s in request.match_info.get("streams", "").split("/") if s]
        streams += [s for s in request.query.get("streams", "").split("/") if s]
        keys = request.query.getall("listenKey", [])
        events = request.query.getall("events", [])
        now = self.now_ms()
        # A path segment without '@' is a listenKey; short ones (ccxt appends a connection number,
        # e.g. /public/ws/0) name no stream and are ignored, as Binance delivers nothing for them.
        streams = [s for s in streams if stream_class(s) != PRIVATE or len(s) >= _MIN_LISTEN_KEY_LEN]
        for s in streams + keys:
            if stream_class(s) == PRIVATE and not self.user.is_valid(s, now):
                body = _encode_json({"code": ErrorCode.INVALID_LISTEN_KEY, "msg": MSG_INVALID_LISTEN_KEY})
                return web.Response(status=400, text=body, content_type="application/json")
        ws = web.WebSocketResponse(autoping=False, heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = StreamConn(ws, request.transport, path_class, combined, now, self.config.ws_max_queue)
        self.hub.add(conn)
        for s in streams:
            self.hub.subscribe(conn, _normalise(s))
        for i, key in enumerate(keys):
            self.hub.subscribe(conn, key)
            if i < len(events):
                conn.event_filter[key] = frozenset(e for e in events[i].split("/") if e)
        writer = asyncio.create_task(conn.writer(self.monotonic_ns))
        try:
            await self._read_loop(conn)
        finally:
            conn.closed = True
            self.hub.remove(conn)
            self._last_ping_ms.pop(conn, None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        return ws

    async def _read_loop(self, conn: StreamConn) -> None:
        ws = conn.ws
        async for msg in ws:
            if msg.type == WSMsgType.PING:
                if self.monotonic_ns() >= conn.silent_until_ns:
                    await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                conn.last_pong_ms = self.now_ms()
            elif msg.type == WSMsgType.TEXT:
                if self._too_chatty(conn):
                    log.warning("sim_ws_client_too_many_messages limit_per_s=%d", self.max_incoming_per_s)
                    await conn.close(1008, b"Too many requests")
                    return
                reply = self.request(conn, msg.data)
                if reply is not None:
                    conn.push(_encode_json(reply))
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return

    def _too_chatty(self, conn: StreamConn) -> bool:
        now = self.now_ms()
        window = conn.incoming
        window.append(now)
        while window and window[0] <= now - 1000:
            window.popleft()
        return len(window) > self.max_incoming_per_s

    def request(self, conn: StreamConn, text: str) -> dict[str, Any] | None:
        """Answer one live request frame (§5.4)."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            return {"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None}
        if not isinstance(doc, dict):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}, "id": None}
        req_id = doc.get("id")
        method = doc.get("method")
        params = doc.get("params", [])
        if not isinstance(params, list):
            return {"error": {"code": 2, "msg": "Invalid request: 'params' must be an array"}, "id": req_id}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = [p for p in params if isinstance(p, str) and p]
            if len(names) != len(params):
                return {
                    "error": {"code": 2, "msg": "Invalid request: stream names must be strings"},
                    "id": req_id,
                }
            if method == "SUBSCRIBE":
                if len(conn.streams) + len(names) > MAX_STREAMS:
                    return {
                        "error": {"code": 2, "msg": f"Invalid request: at most {MAX_STREAMS} streams"},
                        "id": req_id,
                    }
                for name in names:
                    self.hub.subscribe(conn, _normalise(name))
            else:
                for name in names:
                    self.hub.unsubscribe(conn, _normalise(name))
            return {"result": None, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.streams), "id": req_id}
        if method == "SET_PROPERTY":
            if len(params) == 2 and params[0] == "combined" and isinstance(params[1], bool):
                conn.combined = params[1]
                return {"result": None, "id": req_id}
            return {"error": {"code": 2, "msg": "Invalid request: unknown property"}, "id": req_id}
        if method == "GET_PROPERTY":
            if params == ["combined"]:
                return {"result": conn.combined, "id": req_id}
            return {"error": {"code": 2, "msg": "Invalid request: unknown property"}, "id": req_id}
        return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": req_id}

    # ------------------------------------------------------------------ timers and faults
    async def housekeeping(self) -> None:
        """Pings, pong timeouts and the maximum connection lifetime."""
        now = self.now_ms()
        for conn in list(self.hub.conns):
            if now - conn.opened_ms >= self.max_lifetime_ms:
                log.info("sim_ws_max_lifetime_reached lifetime_ms=%d", now - conn.opened_ms)
                await conn.close(1000, b"max connection lifetime")
                self.hub.remove(conn)
                continue
            ping_at = self._last_ping_ms.get(conn, 0)
            if ping_at and conn.last_pong_ms < ping_at and now - ping_at >= PONG_TIMEOUT_MS:
                await conn.close(1008, b"pong timeout")
                self.hub.remove(conn)
                continue
            if now - (ping_at or conn.opened_ms) >= PING_INTERVAL_MS:
                self._last_ping_ms[conn] = now
                with contextlib.suppress(Exception):
                    await conn.ws.ping()

    def drop_all(self) -> int:
        """Fault: cut every stream connection without a close frame."""
        conns = list(self.hub.conns)
        for conn in conns:
            conn.abort()
            self.hub.remove(conn)
        return len(conns)

    def stall_all(self, stall_ms: int, *, silent: bool = False) -> int:
        """Fault: hold every connection's outgoing frames for `stall_ms` (they arrive late, in order).
        `silent`: the client's pings go unanswered too (a network stall, not only a slow server)."""
        until = self.monotonic_ns() + stall_ms * 1_000_000
        for conn in self.hub.conns:
            conn.stalled_until_ns = until
            if silent:
                conn.silent_until_ns = until
        return len(self.hub.conns)


def _normalise(stream: str) -> str:
    """Symbols are lowercase in stream names; event names after '@' keep their case (bookTicker)."""
    if "@" not in stream or stream.startswith("!"):
        return stream  # a listenKey is case-sensitive; all-market names (!miniTicker@arr) keep theirs
    symbol, _, rest = stream.partition("@")
    return f"{symbol.lower()}@{rest}"
