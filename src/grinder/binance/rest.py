"""Binance USDⓈ-M REST client: one pooled aiohttp session, signing, clock offset, governor, taxonomy.

Every request passes the rate-limit governor first, is signed with a server-synchronised timestamp
when SIGNED, and ends either in a typed response or in one `BinanceAPIError` whose `kind` says what
to do. RETRYABLE failures (definitely not executed) are retried here with the same parameters — so
the same client order id — up to `max_retries`; UNKNOWN_OUTCOME is raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import msgspec
from yarl import URL

from grinder.binance import metrics
from grinder.binance.auth import Credentials, encode_params, signed_query
from grinder.binance.config import BinanceConfig
from grinder.binance.constants import API_KEY_HEADER, Endpoint, Security, endpoint_for
from grinder.binance.errors import (
    BinanceAPIError,
    BinanceUnknownOutcome,
    BodyTooLarge,
    ErrorKind,
    MalformedMessage,
    WriteFenced,
    make_api_error,
)
from grinder.binance.governor import RateLimitGovernor
from grinder.binance.parse import parse_depth_snapshot
from grinder.binance.schemas import (
    Account,
    BalanceRow,
    BookTickerRest,
    ExchangeInfo,
    ExchangeInfoResponse,
    ListenKey,
    OrderResponse,
    PositionRisk,
    PremiumIndex,
    ServerTime,
    UserTrade,
)
from grinder.core.clock import Clock, WallClock
from grinder.core.commands import AmendOrder, PlaceOrder
from grinder.core.enums import OrderType, PositionSide
from grinder.core.errors import ErrorCode
from grinder.core.events import DepthSnapshot
from grinder.core.ids import CLIENT_ORDER_ID_RE
from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

T = TypeVar("T")

# Order writes the HA fence guards; listen-key upkeep is not trading and stays allowed.
_FENCED_PATHS = frozenset({
    "/fapi/v1/order", "/fapi/v1/batchOrders", "/fapi/v1/allOpenOrders", "/fapi/v1/countdownCancelAll",
})
_ERROR_BODY = msgspec.json.Decoder(dict[str, Any])
_ANY = msgspec.json.Decoder()


class FenceCheck:
    """The HA write fence of one request: asked before it waits for a connection, and again by
    `write_fence_trace` once the connection is ours, right before the request is written."""

    __slots__ = ("endpoint", "fence")

    def __init__(self, endpoint: str, fence: Callable[[], str | None]) -> None:
        self.endpoint = endpoint
        self.fence = fence

    def check(self) -> None:
        refusal = self.fence()
        if refusal is not None:
            metrics.WRITES_FENCED_TOTAL.labels(self.endpoint).inc()
            log.warning("write_fenced endpoint=%s reason=%s", self.endpoint, refusal)
            raise WriteFenced(self.endpoint, refusal)


def write_fence_trace() -> aiohttp.TraceConfig:
    """An aiohttp trace that re-asks a write's fence when its connection has been obtained (reused or
    newly opened): a pause while waiting for a connection cannot carry a stale permit (ADR-110)."""
    trace = aiohttp.TraceConfig()

    async def on_connection(session: Any, ctx: Any, params: Any) -> None:
        fence = getattr(ctx, "trace_request_ctx", None)
        if isinstance(fence, FenceCheck):
            fence.check()

    trace.on_connection_reuseconn.append(on_connection)
    trace.on_connection_create_end.append(on_connection)
    return trace


class BinanceRestClient:
    """Async client for the `/fapi` endpoints GRINDER uses. Close it with `await client.close()`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        session: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        governor: RateLimitGovernor | None = None,
        max_retries: int = 2,
        retry_backoff_s: float = 0.2,
        time_resync_interval_s: float = 1800.0,
        time_sync_samples: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_body_bytes: int = 16 << 20,
    ) -> None:
        if not 0 < recv_window_ms <= 60_000:
            raise ValueError(
                f"recv_window_ms must be in 1..60000 (got {recv_window_ms}); Binance advises ≤ 5000"
            )
        self.base_url = base_url.rstrip("/")
        self._credentials = Credentials(api_key, api_secret) if api_key and api_secret else None
        self._session = session
        self._own_session = session is None
        self._clock: Clock = clock or WallClock()
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self.governor = governor or RateLimitGovernor(self._clock)
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.time_resync_interval_s = time_resync_interval_s
        self.time_sync_samples = max(1, time_sync_samples)
        self._sleep = sleep
        self.offset_ms = 0
        self._last_sync_mono_ns: int | None = None
        self._sync_lock = asyncio.Lock()
        self.rules: dict[str, SymbolRules] = {}
        self.max_body_bytes = max_body_bytes  # a larger response body is refused (`BodyTooLarge`)
        # Asked immediately before every order write is handed to the socket; a reason refuses it
        # (`WriteFenced`, nothing sent). The HA leader lease's `write_permit` (ADR-110).
        self.write_fence: Callable[[], str | None] | None = None

    @classmethod
    def from_config(
        cls,
        config: BinanceConfig,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> BinanceRestClient:
        """A client for the `[binance]` section; credentials from BINANCE_API_KEY / BINANCE_API_SECRET."""
        creds = Credentials.from_env(environ)
        clk = clock or WallClock()
        governor = RateLimitGovernor(
            clk, headroom=config.rate_limit_headroom, default_deadline_s=config.rate_limit_deadline_s
        )
        client = cls(
            config.rest_url,
            session=session,
            clock=clk,
            recv_window_ms=config.recv_window_ms,
            timeout_s=config.timeout_s,
            governor=governor,
            max_retries=config.max_retries,
            retry_backoff_s=config.retry_backoff_s,
            time_resync_interval_s=config.time_resync_interval_s,
            max_body_bytes=config.max_body_bytes,
        )
        client._credentials = creds
        return client

    def __repr__(self) -> str:
        key = self._credentials.key_hint if self._credentials else "none"
        return f"BinanceRestClient(base_url={self.base_url!r}, key={key})"

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    def server_now_ms(self) -> int:
        """Local clock corrected by the estimated server-time offset."""
        return self._clock.now_ms() + self.offset_ms

    # ================================================================ transport
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=32, ttl_dns_cache=300, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, trace_configs=[write_fence_trace()])
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        security: Security = Security.NONE,
        deadline_s: float | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body (dicts/lists)."""
        return _ANY.decode(await self._send(method, path, params, security=security, deadline_s=deadline_s))

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None,
        *,
        security: Security,
        deadline_s: float | None = None,
    ) -> bytes:
        method = method.upper()
        endpoint = endpoint_for(method, path, security)
        if security.needs_key and self._credentials is None:
            raise BinanceAPIError(
                0,
                None,
                f"{endpoint.name} needs an API key: set BINANCE_API_KEY and BINANCE_API_SECRET",
                kind=ErrorKind.NON_RETRYABLE,
                endpoint=endpoint.name,
            )
        attempt = 0
        while True:
            if security is Security.SIGNED and self._needs_time_sync():
                await self.sync_time()
            await self.governor.acquire(endpoint, params, deadline_s=deadline_s)
            try:
                return await self._send_once(endpoint, params, security)
            except BinanceAPIError as err:
                metrics.REST_ERRORS_TOTAL.labels(endpoint.name, err.kind.value).inc()
                if err.code == ErrorCode.INVALID_TIMESTAMP:
                    log.warning("clock_resync reason=-1021 endpoint=%s", endpoint.name)
                    await self.sync_time()
                if err.kind is not ErrorKind.RETRYABLE or attempt >= self.max_retries:
                    raise
                attempt += 1
                if err.http_status not in (429, 418) and err.code != ErrorCode.INVALID_TIMESTAMP:
                    # 429/418 waits are enforced by the governor on the next acquire.
                    await self._sleep(self.retry_backoff_s * (2 ** (attempt - 1)))
                log.info(
                    "rest_retry endpoint=%s attempt=%d status=%s code=%s",
                    endpoint.name,
                    attempt,
                    err.http_status,
                    err.code,
                )

    async def _send_once(
        self, endpoint: Endpoint, params: Mapping[str, object] | None, security: Security
    ) -> bytes:
        headers: dict[str, str] = {}
        if security.needs_key and self._credentials is not None:
            headers[API_KEY_HEADER] = self._credentials.api_key
        if security is Security.SIGNED and self._credentials is not None:
            query = signed_query(
                self._credentials,
                params,
                timestamp_ms=self.server_now_ms(),
                recv_window_ms=self.recv_window_ms,
            )
        else:
            query = encode_params((params or {}).items())
        url = URL(
            f"{self.base_url}{endpoint.path}?{query}" if query else f"{self.base_url}{endpoint.path}",
            encoded=True,
        )
        session = self._get_session()
        fence = None
        if endpoint.is_write and self.write_fence is not None and endpoint.path in _FENCED_PATHS:
            fence = FenceCheck(endpoint.name, self.write_fence)
            fence.check()  # before waiting for a connection; again once it is ours (write_fence_trace)
        start = self._clock.monotonic_ns()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with session.request(endpoint.method, url, headers=headers, timeout=timeout,
                                       trace_request_ctx=fence) as resp:
                body = await _read_capped(resp, self.max_body_bytes, endpoint)
                status = resp.status
                resp_headers = resp.headers
        except TimeoutError:
            raise make_api_error(
                0,
                None,
                f"no response within {self.timeout_s}s",
                is_write=endpoint.is_write,
                endpoint=endpoint.name,
            ) from None
        except aiohttp.ClientConnectorError:
            # The connection never opened, so nothing was sent: safe to retry.
            raise BinanceAPIError(
                0,
                None,
                f"cannot connect to {self.base_url}",
                kind=ErrorKind.RETRYABLE,
                endpoint=endpoint.name,
            ) from None
        except aiohttp.ClientError as exc:
            raise make_api_error(
                0,
                None,
                f"transport error {type(exc).__name__}",
                is_write=endpoint.is_write,
                endpoint=endpoint.name,
            ) from None
        finally:
            metrics.REST_LATENCY.labels(endpoint.name).observe((self._clock.monotonic_ns() - start) / 1e9)
        self.governor.update_from_headers(resp_headers)
        log.debug("rest_response endpoint=%s status=%d bytes=%d", endpoint.name, status, len(body))
        if 200 <= status < 300:
            return body
        raise self._error_from_response(endpoint, status, body, resp_headers)

    def _error_from_response(
        self, endpoint: Endpoint, status: int, body: bytes, headers: Mapping[str, str]
    ) -> BinanceAPIError:
        code: int | None = None
        msg = ""
        try:
            decoded = _ERROR_BODY.decode(body) if body else {}
            raw_code = decoded.get("code")
            code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
            msg = str(decoded.get("msg", ""))
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = body[:200].decode("utf-8", "replace")
        retry_after = _parse_retry_after(headers.get("Retry-After"))
        if status in (429, 418):
            self.governor.on_rate_limited(status, code, retry_after)
        return make_api_error(
            status, code, msg, is_write=endpoint.is_write, endpoint=endpoint.name, retry_after_s=retry_after
        )

    def _decode(self, body: bytes, type_: type[T], endpoint: str, *, is_write: bool) -> T:
        try:
            return msgspec.json.decode(body, type=type_)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if is_write:
                raise BinanceUnknownOutcome(
                    200,
                    None,
                    f"undecodable success body ({exc}); resolve the order by query",
                    endpoint=endpoint,
                ) from None
            raise MalformedMessage(f"{endpoint}: response does not match {type_.__name__}: {exc}") from None

    async def _get(
        self,
        path: str,
        type_: type[T],
        params: Mapping[str, object] | None = None,
        security: Security = Security.NONE,
    ) -> T:
        body = await self._send("GET", path, params, security=security)
        return self._decode(body, type_, f"GET {path}", is_write=False)

    # ================================================================ clock
    def _needs_time_sync(self) -> bool:
        if self._last_sync_mono_ns is None:
            return True
        age_s = (self._clock.monotonic_ns() - self._last_sync_mono_ns) / 1e9
        return age_s >= self.time_resync_interval_s

    async def server_time(self) -> int:
        return (await self._get("/fapi/v1/time", ServerTime)).serverTime

    async def sync_time(self) -> int:
        """Estimate server − local time (median of samples, midpoint of each round trip); ms."""
        async with self._sync_lock:
            offsets: list[int] = []
            for _ in range(self.time_sync_samples):
                before = self._clock.now_ms()
                server = await self.server_time()
                after = self._clock.now_ms()
                offsets.append(server - (before + after) // 2)
            self.offset_ms = int(statistics.median_low(offsets))
            self.governor.offset_ms = self.offset_ms
            self._last_sync_mono_ns = self._clock.monotonic_ns()
            metrics.CLOCK_OFFSET_SECONDS.set(self.offset_ms / 1000)
            log.info("clock_synced offset_ms=%d samples=%d", self.offset_ms, len(offsets))
            return self.offset_ms

    # ================================================================ market data
    async def ping(self) -> None:
        await self._send("GET", "/fapi/v1/ping", None, security=Security.NONE)

    async def exchange_info(self) -> ExchangeInfo:
        """exchangeInfo → rules per symbol (also cached on `self.rules`) and adopted rate limits."""
        raw = await self._get("/fapi/v1/exchangeInfo", ExchangeInfoResponse)
        rules: dict[str, SymbolRules] = {}
        skipped: dict[str, str] = {}
        for info in raw.symbols:
            symbol = str(info.get("symbol", "?"))
            try:
                rules[symbol] = SymbolRules.from_exchange_info(info)
            except (ValueError, KeyError, TypeError) as exc:
                skipped[symbol] = str(exc)
        if skipped:
            log.warning(
                "exchange_info_symbols_skipped count=%d first=%s", len(skipped), next(iter(skipped.items()))
            )
        self.governor.set_limits(
            {
                "rateLimitType": r.rateLimitType,
                "interval": r.interval,
                "intervalNum": r.intervalNum,
                "limit": r.limit,
            }
            for r in raw.rateLimits
        )
        self.rules.update(rules)
        return ExchangeInfo(
            rules=rules, rate_limits=tuple(raw.rateLimits), server_time_ms=raw.serverTime, skipped=skipped
        )

    def _rules_for(self, symbol: str, rules: SymbolRules | None) -> SymbolRules:
        found = rules or self.rules.get(symbol)
        if found is None:
            raise ValueError(f"no SymbolRules for {symbol}: call exchange_info() first or pass rules=")
        return found

    async def depth(
        self, symbol: str, limit: int = 1000, *, rules: SymbolRules | None = None
    ) -> DepthSnapshot:
        """REST order-book snapshot in ticks/lots (rules from `rules=` or the exchange_info cache)."""
        symbol_rules = self._rules_for(symbol, rules)
        body = await self._send(
            "GET", "/fapi/v1/depth", {"symbol": symbol, "limit": limit}, security=Security.NONE
        )
        return parse_depth_snapshot(body, symbol, symbol_rules)

    async def book_ticker(self, symbol: str) -> BookTickerRest:
        return await self._get("/fapi/v1/ticker/bookTicker", BookTickerRest, {"symbol": symbol})

    async def premium_index(self, symbol: str) -> PremiumIndex:
        return await self._get("/fapi/v1/premiumIndex", PremiumIndex, {"symbol": symbol})

    # ================================================================ orders
    async def _write(self, method: str, path: str, params: Mapping[str, object]) -> bytes:
        return await self._send(method, path, params, security=Security.SIGNED)

    async def new_order(
        self, cmd: PlaceOrder, rules: SymbolRules, *, resp_type: str = "ACK"
    ) -> OrderResponse:
        """POST /fapi/v1/order. Raises ValueError (nothing sent) on a command that cannot be encoded."""
        params = order_params(cmd, rules)
        params["newOrderRespType"] = resp_type
        body = await self._write("POST", "/fapi/v1/order", params)
        return self._decode(body, OrderResponse, "POST /fapi/v1/order", is_write=True)

    async def modify_order(self, cmd: AmendOrder, rules: SymbolRules) -> OrderResponse:
        """PUT /fapi/v1/order: new price/quantity for a resting LIMIT order, by client order id."""
        _check_symbol(cmd.symbol, rules)
        params: dict[str, object] = {
            "symbol": cmd.symbol,
            "origClientOrderId": cmd.client_order_id,
            "side": cmd.side.value,
            "quantity": rules.qty_str(cmd.qty_lots),
            "price": rules.price_str(cmd.price_ticks),
        }
        body = await self._write("PUT", "/fapi/v1/order", params)
        return self._decode(body, OrderResponse, "PUT /fapi/v1/order", is_write=True)

    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderResponse:
        params = _order_ref(symbol, client_order_id, order_id)
        body = await self._write("DELETE", "/fapi/v1/order", params)
        return self._decode(body, OrderResponse, "DELETE /fapi/v1/order", is_write=True)

    async def query_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderResponse:
        return await self._get(
            "/fapi/v1/order", OrderResponse, _order_ref(symbol, client_order_id, order_id), Security.SIGNED
        )

    async def open_orders(self, symbol: str | None = None) -> list[OrderResponse]:
        params = {"symbol": symbol} if symbol else None
        return await self._get("/fapi/v1/openOrders", list[OrderResponse], params, Security.SIGNED)

    # ================================================================ account
    async def position_risk(self, symbol: str | None = None) -> list[PositionRisk]:
        params = {"symbol": symbol} if symbol else None
        return await self._get("/fapi/v2/positionRisk", list[PositionRisk], params, Security.SIGNED)

    async def balance(self) -> list[BalanceRow]:
        return await self._get("/fapi/v2/balance", list[BalanceRow], None, Security.SIGNED)

    async def account(self) -> Account:
        return await self._get("/fapi/v2/account", Account, None, Security.SIGNED)

    async def user_trades(
        self,
        symbol: str,
        *,
        start_time_ms: int | None = None,
        from_id: int | None = None,
        order_id: int | None = None,
        limit: int = 500,
    ) -> list[UserTrade]:
        if start_time_ms is not None and from_id is not None:
            raise ValueError("user_trades: pass start_time_ms or from_id, not both (Binance refuses the mix)")
        params: dict[str, object] = {"symbol": symbol, "limit": limit}
        if start_time_ms is not None:
            params["startTime"] = start_time_ms
        if from_id is not None:
            params["fromId"] = from_id
        if order_id is not None:
            params["orderId"] = order_id
        return await self._get("/fapi/v1/userTrades", list[UserTrade], params, Security.SIGNED)

    # ================================================================ user stream
    async def start_listen_key(self) -> str:
        body = await self._send("POST", "/fapi/v1/listenKey", None, security=Security.USER_STREAM)
        key = self._decode(body, ListenKey, "POST /fapi/v1/listenKey", is_write=False).listenKey
        if not key:
            raise MalformedMessage("POST /fapi/v1/listenKey returned no listenKey")
        return key

    async def keepalive_listen_key(self) -> None:
        await self._send("PUT", "/fapi/v1/listenKey", None, security=Security.USER_STREAM)

    async def close_listen_key(self) -> None:
        await self._send("DELETE", "/fapi/v1/listenKey", None, security=Security.USER_STREAM)


# ==================================================================== helpers
def _check_symbol(symbol: str, rules: SymbolRules) -> None:
    if symbol != rules.symbol:
        raise ValueError(f"command for {symbol} was given the rules of {rules.symbol}")


def _order_ref(symbol: str, client_order_id: str | None, order_id: int | None) -> dict[str, object]:
    if client_order_id is None and order_id is None:
        raise ValueError(f"{symbol}: name the order by client_order_id or order_id")
    params: dict[str, object] = {"symbol": symbol}
    if order_id is not None:
        params["orderId"] = order_id
    if client_order_id is not None:
        params["origClientOrderId"] = client_order_id
    return params


def order_params(cmd: PlaceOrder, rules: SymbolRules) -> dict[str, object]:
    """Wire parameters of a new order; ValueError (nothing sent) if the command is not encodable."""
    _check_symbol(cmd.symbol, rules)
    if not CLIENT_ORDER_ID_RE.match(cmd.client_order_id):
        raise ValueError(
            f"client order id {cmd.client_order_id!r} must match ^[.A-Z:/a-z0-9_-]{{1,36}}$ (Binance -4015)"
        )
    if cmd.qty_lots <= 0:
        raise ValueError(f"{cmd.symbol}: quantity must be a positive number of lots (got {cmd.qty_lots})")
    params: dict[str, object] = {
        "symbol": cmd.symbol,
        "side": cmd.side.value,
        "type": cmd.order_type.value,
        "quantity": rules.qty_str(cmd.qty_lots),
        "newClientOrderId": cmd.client_order_id,
    }
    if cmd.order_type is OrderType.LIMIT:
        if cmd.price_ticks is None or cmd.price_ticks <= 0:
            raise ValueError(
                f"{cmd.symbol}: a LIMIT order needs a positive price (got {cmd.price_ticks} ticks)"
            )
        params["price"] = rules.price_str(cmd.price_ticks)
        params["timeInForce"] = cmd.time_in_force.value if cmd.time_in_force else "GTC"
    if cmd.position_side is not PositionSide.BOTH:
        params["positionSide"] = cmd.position_side.value  # hedge mode: reduceOnly must not be sent
    elif cmd.reduce_only:
        params["reduceOnly"] = "true"
    return params


async def _read_capped(resp: aiohttp.ClientResponse, cap: int, endpoint: Endpoint) -> bytes:
    """The body, refused once it passes `cap` bytes (checked on Content-Length first, then while
    reading): a write's answer then has an unknown outcome, a read fails as a malformed message."""
    declared = resp.content_length
    size = declared or 0
    if declared is None or declared <= cap:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > cap:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    metrics.BODIES_TOO_LARGE_TOTAL.labels("rest_body").inc()
    refused = BodyTooLarge(f"{endpoint.name} response", size, cap)
    log.error("%s", refused)
    if endpoint.is_write:
        raise BinanceUnknownOutcome(resp.status, None, f"{refused}; resolve the order by query",
                                    endpoint=endpoint.name)
    raise refused


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
