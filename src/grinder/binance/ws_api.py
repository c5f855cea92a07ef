"""Binance USDⓈ-M WebSocket API client (`/ws-fapi/v1`, protocol sheet §11): orders over one socket.

One persistent connection carries `order.place`, `order.modify`, `order.cancel` and `order.status`;
answers are matched to requests by id. Each request is signed on its own (HMAC, ADR-230): Binance's
`session.logon` accepts Ed25519 keys only, and GRINDER's keys are HMAC. The REST client is the
companion: one clock offset, one rate-limit governor and one HA write fence serve both transports.

Outcomes use the REST taxonomy (`BinanceAPIError.kind`): a write whose answer is lost (timeout,
socket closed after the frame was written) is UNKNOWN_OUTCOME, for the caller to resolve by query.
`WsApiUnavailable` means nothing was sent (the session is down): the caller uses REST instead.
The connection is re-opened with jittered exponential backoff after every drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from grinder.binance import metrics
from grinder.binance.auth import Credentials
from grinder.binance.config import BinanceConfig
from grinder.binance.constants import ENDPOINTS, Endpoint
from grinder.binance.errors import (
    BinanceAPIError,
    BinanceUnknownOutcome,
    ErrorKind,
    WriteFenced,
    make_api_error,
)
from grinder.binance.rest import BinanceRestClient, order_params
from grinder.binance.schemas import OrderResponse, RateLimitInfo
from grinder.binance.streams import WsConnection
from grinder.core.aio import within
from grinder.core.clock import Clock, WallClock
from grinder.core.commands import AmendOrder, PlaceOrder
from grinder.core.errors import ErrorCode
from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

WS_API_PATH = "/ws-fapi/v1"
MAINNET_WS_API_URL = "wss://ws-fapi.binance.com/ws-fapi/v1"
TESTNET_WS_API_URL = "wss://testnet.binancefuture.com/ws-fapi/v1"
_STREAM_HOST_TO_WS_API = {
    "fstream.binance.com": MAINNET_WS_API_URL,
    "fstream.binancefuture.com": TESTNET_WS_API_URL,
}

# WebSocket API method -> the REST endpoint it mirrors (same weight and order-count cost).
_METHOD_ENDPOINT: dict[str, Endpoint] = {
    "order.place": ENDPOINTS[("POST", "/fapi/v1/order")],
    "order.modify": ENDPOINTS[("PUT", "/fapi/v1/order")],
    "order.cancel": ENDPOINTS[("DELETE", "/fapi/v1/order")],
    "order.status": ENDPOINTS[("GET", "/fapi/v1/order")],
}
# `rateLimits[]` entry -> the REST header the governor already reads for the same count.
_LIMIT_HEADER = {"REQUEST_WEIGHT": "x-mbx-used-weight-", "ORDERS": "x-mbx-order-count-"}


def ws_api_url_for(ws_url: str) -> str:
    """The WebSocket API URL beside a market-stream URL: Binance's own hosts for mainnet and the
    testnet, `<ws_url>/ws-fapi/v1` for anything else (the simulator serves both on one port)."""
    host = (urlsplit(ws_url).hostname or "").lower()
    return _STREAM_HOST_TO_WS_API.get(host, ws_url.rstrip("/") + WS_API_PATH)


class WsApiUnavailable(Exception):
    """The WebSocket API session is down: the request was not sent (send it over REST)."""


class _RateLimit(RateLimitInfo, frozen=True):
    count: int = 0  # used in the current window, as the exchange counts it


class _ErrorData(msgspec.Struct, frozen=True):
    retryAfter: int | None = None  # a 429/418 answer: when the block ends (ms since the epoch)


class _Error(msgspec.Struct, frozen=True):
    code: int | None = None
    msg: str = ""
    data: _ErrorData | None = None


class _Answer(msgspec.Struct, frozen=True):
    id: str | int | None = None
    status: int = 0
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: _Error | None = None
    rateLimits: list[_RateLimit] | None = None


_ANSWER = msgspec.json.Decoder(_Answer)
_ORDER = msgspec.json.Decoder(OrderResponse)


class BinanceWsApiClient:
    """Orders over one pre-connected WebSocket API session. `start()` connects (and keeps
    reconnecting in the background); `close()` stops it. Calls raise `WsApiUnavailable` while down.

    The connection is a `WsConnection` (as the streams): jittered exponential backoff from
    `[binance] reconnect_initial_s` to `reconnect_max_s`, ping/pong every `heartbeat_s`, a fresh
    connection before Binance's 24 h limit, frames above `max_frame_bytes` refused."""

    def __init__(
        self,
        url: str,
        rest: BinanceRestClient,
        credentials: Credentials,
        *,
        config: BinanceConfig | None = None,
        session: aiohttp.ClientSession | None = None,
        connect_timeout_s: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"WebSocket API url {url!r} must start with ws:// or wss://")
        cfg = config or BinanceConfig()
        self.url = url
        self._rest = rest
        self._credentials = credentials
        self._session = session
        self._own_session = session is None
        self.timeout_s = cfg.timeout_s  # no answer within this: a write's outcome is unknown
        self.connect_timeout_s = connect_timeout_s
        self._conn = WsConnection(
            "ws_api", self._url, self._on_answer, config=cfg, clock=clock or WallClock(),
            rng=random.Random(cfg.seed + 2), session_factory=self._get_session, data_timeout=False,
            on_close=self._on_close,
        )
        self._pending: dict[str, asyncio.Future[_Answer]] = {}
        self._ids = itertools.count(1)
        self._runner: asyncio.Task[None] | None = None
        # Called right after a request frame is handed to the socket (tick-to-order latency).
        self.on_written: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"BinanceWsApiClient(url={self.url!r}, key={self._credentials.key_hint})"

    @property
    def is_connected(self) -> bool:
        return self._conn.is_connected

    @property
    def connects(self) -> int:
        """Sessions opened so far (1 after start, +1 per reconnect)."""
        return self._conn.connects

    # ================================================================ session
    async def _url(self) -> str:
        return self.url

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def start(self) -> bool:
        """Open the session (waiting up to `connect_timeout_s`); True when it is up. Reconnects
        continue in the background either way, so REST carries orders until it is."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._conn.run(), name="ws-api")
        with contextlib.suppress(TimeoutError):
            await within(self._conn.connected.wait(), self.connect_timeout_s)
        return self.is_connected

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        self._conn.stop()
        if runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._on_close()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def drop(self) -> None:
        """Close the socket now (an operator action and a test hook); the session reconnects."""
        self._conn.reconnect("dropped")

    def _on_answer(self, text: str | bytes) -> None:
        try:
            answer = _ANSWER.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("ws_api_undecodable_frame error=%s", exc)
            return
        if answer.rateLimits:
            self._rest.governor.update_from_headers({
                f"{_LIMIT_HEADER[r.rateLimitType]}{r.intervalNum}{r.interval[:1].lower()}": str(r.count)
                for r in answer.rateLimits if r.rateLimitType in _LIMIT_HEADER
            })
        fut = self._pending.pop(str(answer.id), None)
        if fut is None:
            log.warning("ws_api_unmatched_answer id=%s status=%s", answer.id, answer.status)
        elif not fut.done():
            fut.set_result(answer)

    def _on_close(self) -> None:
        """The connection ended: every request still awaiting its answer has an unknown outcome."""
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionResetError("WebSocket API connection closed before the answer"))
        if pending:
            log.warning("ws_api_disconnected url=%s requests_in_flight=%d (resolved by query)", self.url,
                        len(pending))

    # ================================================================ requests
    async def _call(self, method: str, params: dict[str, Any]) -> OrderResponse:
        """Sign, send and await one request; the answer's order object or a `BinanceAPIError`."""
        endpoint = _METHOD_ENDPOINT[method]
        name = f"WS {method}"
        rest = self._rest
        if not self._conn.is_connected:
            raise WsApiUnavailable(name)
        await rest.governor.acquire(endpoint, params)
        if endpoint.is_write and rest.write_fence is not None:
            refusal = rest.write_fence()
            if refusal is not None:
                metrics.WRITES_FENCED_TOTAL.labels(name).inc()
                log.warning("write_fenced endpoint=%s reason=%s", name, refusal)
                raise WriteFenced(name, refusal)
        req_id = str(next(self._ids))
        params["apiKey"] = self._credentials.api_key
        params["recvWindow"] = rest.recv_window_ms
        params["timestamp"] = rest.server_now_ms()
        params["signature"] = self._credentials.sign(
            "&".join(f"{k}={params[k]}" for k in sorted(params))
        )
        fut: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            sent = await self._conn.send_json({"id": req_id, "method": method, "params": params})
        except (ConnectionError, RuntimeError):
            # The frame may or may not have left: a write is unknown, a read just failed.
            self._pending.pop(req_id, None)
            raise make_api_error(0, None, "WebSocket API send failed", is_write=endpoint.is_write,
                                 endpoint=name) from None
        if not sent:  # the session went down while the governor held the request: nothing was sent
            self._pending.pop(req_id, None)
            raise WsApiUnavailable(name)
        if self.on_written is not None:
            self.on_written()
        try:
            answer = await within(fut, self.timeout_s)
        except TimeoutError:
            self._pending.pop(req_id, None)
            raise make_api_error(0, None, f"no WebSocket API answer within {self.timeout_s}s",
                                 is_write=endpoint.is_write, endpoint=name) from None
        except ConnectionResetError as exc:
            raise make_api_error(0, None, str(exc), is_write=endpoint.is_write, endpoint=name) from None
        return await self._order_or_raise(answer, endpoint, name)

    async def _order_or_raise(self, answer: _Answer, endpoint: Endpoint, name: str) -> OrderResponse:
        if answer.status == 200:
            try:
                return _ORDER.decode(answer.result)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                if endpoint.is_write:
                    raise BinanceUnknownOutcome(200, None, f"undecodable order in the answer ({exc}); "
                                                "resolve the order by query", endpoint=name) from None
                raise BinanceAPIError(200, None, f"undecodable order in the answer ({exc})",
                                      kind=ErrorKind.RETRYABLE, endpoint=name) from None
        code = answer.error.code if answer.error is not None else None
        msg = answer.error.msg if answer.error is not None else ""
        err = make_api_error(answer.status, code, msg, is_write=endpoint.is_write, endpoint=name)
        metrics.REST_ERRORS_TOTAL.labels(name, err.kind.value).inc()
        if answer.status in (429, 418):
            governor = self._rest.governor
            until_ms = answer.error.data.retryAfter if answer.error and answer.error.data else None
            wait_s = None if until_ms is None else max(0.0, (until_ms - governor.server_now_ms()) / 1000)
            governor.on_rate_limited(answer.status, code, wait_s)
        elif code == ErrorCode.INVALID_TIMESTAMP:
            log.warning("clock_resync reason=-1021 endpoint=%s", name)
            await self._rest.sync_time()
        raise err

    # ================================================================ orders (the port's transport)
    async def new_order(
        self, cmd: PlaceOrder, rules: SymbolRules, *, resp_type: str = "ACK"
    ) -> OrderResponse:
        """`order.place`. Raises ValueError (nothing sent) on a command that cannot be encoded."""
        params = order_params(cmd, rules)
        params["newOrderRespType"] = resp_type
        return await self._call("order.place", params)

    async def modify_order(self, cmd: AmendOrder, rules: SymbolRules) -> OrderResponse:
        """`order.modify`: new price/quantity for a resting LIMIT order, by client order id."""
        if cmd.symbol != rules.symbol:
            raise ValueError(f"command for {cmd.symbol} was given the rules of {rules.symbol}")
        return await self._call("order.modify", {
            "symbol": cmd.symbol, "origClientOrderId": cmd.client_order_id, "side": cmd.side.value,
            "quantity": rules.qty_str(cmd.qty_lots), "price": rules.price_str(cmd.price_ticks),
        })

    async def cancel_order(self, symbol: str, *, client_order_id: str) -> OrderResponse:
        return await self._call("order.cancel", {"symbol": symbol, "origClientOrderId": client_order_id})

    async def query_order(self, symbol: str, *, client_order_id: str) -> OrderResponse:
        return await self._call("order.status", {"symbol": symbol, "origClientOrderId": client_order_id})
