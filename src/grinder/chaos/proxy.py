"""`WireProxy`: one engine's loopback path to the exchange, with a record of its writes and frame faults.

REST requests are forwarded unchanged; every order write is recorded with the proxy's monotonic
arrival time and the exchange's HTTP status, so a test can prove which instance wrote what, when.
WebSocket connections are relayed frame by frame; `FrameFaults` drops or corrupts exchange→engine
frames with a seeded RNG, and `cut_websockets()` closes every relayed socket at once.
Loopback only: it binds 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})
_ORDER_WRITES = frozenset({"/fapi/v1/order", "/fapi/v1/batchOrders", "/fapi/v1/allOpenOrders"})
# Order writes over the WebSocket API (`/ws-fapi/v1`): recorded as the answer passes back.
_WS_ORDER_WRITES = frozenset({"order.place", "order.modify", "order.cancel"})
_WS_API_PATH = "/ws-fapi/"


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One order write that reached the proxy: arrival (time.monotonic_ns), method, path, status.

    Over the WebSocket API `method` is "WS", `path` the API method (order.place, ...) and `status`
    the answer's."""

    recv_ns: int
    method: str
    path: str
    status: int
    client_order_id: str


@dataclass
class FrameFaults:
    """Exchange→engine frame faults on relayed WebSockets whose path contains `path_part`."""

    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    path_part: str = ""
    seed: int = 0
    dropped: int = 0
    corrupted: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def apply(self, path: str, text: str) -> str | None:
        """The frame to relay (maybe corrupted), or None to drop it."""
        if self.path_part not in path or (not self.drop_rate and not self.corrupt_rate):
            return text
        roll = self.rng.random()
        if roll < self.drop_rate:
            self.dropped += 1
            return None
        if roll < self.drop_rate + self.corrupt_rate:
            self.corrupted += 1
            cut = self.rng.randrange(1, max(2, len(text)))
            return text[:cut] + "\x00}{garbage"
        return text


class WireProxy:
    """`await proxy.start()` → `proxy.rest_url`, `proxy.ws_url`; `await proxy.stop()`."""

    def __init__(self, upstream_rest: str, upstream_ws: str, *, faults: FrameFaults | None = None) -> None:
        self.upstream_rest = upstream_rest.rstrip("/")
        self.upstream_ws = upstream_ws.rstrip("/")
        self.faults = faults or FrameFaults()
        self.writes: list[WriteRecord] = []
        self.rest_url = ""
        self.ws_url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.rest_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.cut_websockets()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def cut_websockets(self) -> int:
        """Close every relayed WebSocket (the engine sees the exchange drop it); returns how many."""
        sockets = list(self._sockets)
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"proxy cut")
        return len(sockets)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._relay_ws(request)
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        recv_ns = time.monotonic_ns()
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        url = f"{self.upstream_rest}{request.rel_url}"
        async with self._session.request(request.method, url, headers=headers, data=body or None) as resp:
            payload = await resp.read()
            out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_HEADERS}
            status = resp.status
        if request.method != "GET" and request.path in _ORDER_WRITES:
            cid = request.query.get("newClientOrderId") or request.query.get("origClientOrderId") or ""
            self.writes.append(WriteRecord(recv_ns, request.method, request.path, status, cid))
        return web.Response(body=payload, status=status, headers=out_headers)

    async def _relay_ws(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        down = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await down.prepare(request)
        self._sockets.add(down)
        path = request.path
        try:
            async with self._session.ws_connect(
                f"{self.upstream_ws}{request.rel_url}", autoping=True, max_msg_size=0
            ) as up:
                await self._pump(up, down, path)
        except (aiohttp.ClientError, OSError):
            pass
        finally:
            self._sockets.discard(down)
            await down.close()
        return down

    async def _pump(
        self, up: aiohttp.ClientWebSocketResponse, down: web.WebSocketResponse, path: str
    ) -> None:
        ws_api = _WS_API_PATH in path
        sent: dict[object, tuple[int, str, str]] = {}  # WS API request id -> (arrival, method, cid)

        async def exchange_to_engine() -> None:
            async for msg in up:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    if ws_api:
                        self._record_ws_answer(sent, msg.data)
                    frame = self.faults.apply(path, msg.data)
                    if frame is not None:
                        await down.send_str(frame)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await down.send_bytes(msg.data)
                else:
                    break

        async def engine_to_exchange() -> None:
            async for msg in down:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    if ws_api:
                        _note_ws_request(sent, msg.data)
                    await up.send_str(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await up.send_bytes(msg.data)
                else:
                    break

        tasks = [asyncio.ensure_future(exchange_to_engine()), asyncio.ensure_future(engine_to_exchange())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    def _record_ws_answer(self, sent: dict[object, tuple[int, str, str]], text: str) -> None:
        try:
            answer = json.loads(text)
        except ValueError:
            return
        if isinstance(answer, dict) and answer.get("id") in sent:
            recv_ns, method, cid = sent.pop(answer["id"])
            status = answer.get("status")
            code = status if isinstance(status, int) else 0
            self.writes.append(WriteRecord(recv_ns, "WS", method, code, cid))


def _note_ws_request(sent: dict[object, tuple[int, str, str]], text: str) -> None:
    """Remember an order write sent over the WebSocket API until its answer comes back."""
    try:
        req = json.loads(text)
    except ValueError:
        return
    if isinstance(req, dict) and req.get("method") in _WS_ORDER_WRITES and "id" in req:
        params = req.get("params") or {}
        cid = str(params.get("newClientOrderId") or params.get("origClientOrderId") or "")
        sent[req["id"]] = (time.monotonic_ns(), str(req["method"]), cid)
