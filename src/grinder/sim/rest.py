"""The simulator's REST surface: route table, authentication, rate limits, faults, Binance error bodies.

Every `/fapi` request runs the same pipeline: ban / injected 429-418 → weight → API key →
signature → timestamp window → order-rate limit → (fault: 503 before executing) → handler →
(fault: 503 unknown AFTER executing). Errors are `{"code", "msg"}` with Binance's HTTP status;
`X-MBX-USED-WEIGHT-1M` is on every answer and the order counters on order answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from grinder.core.errors import MSG_503_UNAVAILABLE, MSG_503_UNKNOWN, ErrorCode
from grinder.sim.auth import check_api_key, check_signature, check_timestamp, merge_params
from grinder.sim.config import SimConfig
from grinder.sim.errors import (
    MSG_THROTTLED,
    ApiError,
    banned,
    too_many_requests,
)
from grinder.sim.exchange import Handler, SimExchange
from grinder.sim.faults import FaultPlan
from grinder.sim.metrics import FAULTS_INJECTED_TOTAL, REST_REQUESTS_TOTAL
from grinder.sim.ratelimit import RateLimiter
from grinder.venue.errors import MSG_MARGIN, VenueReject

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
_REQUEST_COUNTERS: dict[tuple[str, int], Any] = {}


def _count_request(path: str, status: int) -> None:
    """`grinder_sim_rest_requests_total{endpoint,status}` += 1, the labelled child looked up once."""
    child = _REQUEST_COUNTERS.get((path, status))
    if child is None:
        child = _REQUEST_COUNTERS[(path, status)] = REST_REQUESTS_TOTAL.labels(path, str(status))
    child.inc()


NONE = "NONE"
USER_STREAM = "USER_STREAM"
MARKET_DATA = "MARKET_DATA"  # API key, no signature
SIGNED = "SIGNED"  # TRADE and USER_DATA
_REJECT_MESSAGES: dict[int, str] = {
    ErrorCode.NEW_ORDER_REJECTED: "NEW_ORDER_REJECTED",
    ErrorCode.MARGIN_NOT_SUFFICIENT: MSG_MARGIN,
    ErrorCode.SERVER_BUSY: MSG_THROTTLED,
    ErrorCode.UNKNOWN: "An unknown error occured while processing the request.",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    security: str
    weight: Callable[[dict[str, str]], int]
    handler: Handler
    orders_10s: int = 0
    orders_1m: int = 0
    write: str = ""  # "new" | "modify" | "cancel": subject to execution faults


def fixed_weight(n: int) -> Callable[[dict[str, str]], int]:
    return lambda params: n


def symbol_weight(with_symbol: int, without: int) -> Callable[[dict[str, str]], int]:
    return lambda params: with_symbol if params.get("symbol") else without


def depth_weight(params: dict[str, str]) -> int:
    limit = params.get("limit", "500")
    return {"5": 2, "10": 2, "20": 2, "50": 2, "100": 5, "500": 10, "1000": 20}.get(limit, 10)


def klines_weight(params: dict[str, str]) -> int:
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else 500
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def endpoints(x: SimExchange) -> list[Endpoint]:
    """Every REST endpoint the simulator serves (protocol sheet §3 weights)."""
    v1, v2, v3 = "/fapi/v1", "/fapi/v2", "/fapi/v3"
    h = x.history
    a = x.algo
    return [
        Endpoint("GET", f"{v1}/ping", NONE, fixed_weight(1), x.ping),
        Endpoint("GET", f"{v1}/time", NONE, fixed_weight(1), x.time),
        Endpoint("GET", f"{v1}/exchangeInfo", NONE, fixed_weight(1), x.exchange_info),
        Endpoint("GET", f"{v1}/depth", NONE, depth_weight, x.depth),
        Endpoint("GET", f"{v1}/ticker/bookTicker", NONE, symbol_weight(2, 5), x.book_ticker),
        Endpoint("GET", f"{v1}/ticker/price", NONE, symbol_weight(1, 2), x.ticker_price),
        Endpoint("GET", f"{v2}/ticker/price", NONE, symbol_weight(1, 2), x.ticker_price),
        Endpoint("GET", f"{v1}/klines", NONE, klines_weight, x.klines),
        Endpoint("GET", f"{v1}/continuousKlines", NONE, klines_weight, h.continuous_klines),
        Endpoint("GET", f"{v1}/markPriceKlines", NONE, klines_weight, h.mark_price_klines),
        Endpoint("GET", f"{v1}/indexPriceKlines", NONE, klines_weight, h.index_price_klines),
        Endpoint("GET", f"{v1}/premiumIndexKlines", NONE, klines_weight, h.premium_index_klines),
        Endpoint("GET", f"{v1}/aggTrades", NONE, fixed_weight(20), h.agg_trades),
        Endpoint("GET", f"{v1}/trades", NONE, fixed_weight(5), h.recent_trades),
        Endpoint("GET", f"{v1}/historicalTrades", MARKET_DATA, fixed_weight(20), h.historical_trades),
        Endpoint("GET", f"{v1}/openInterest", NONE, fixed_weight(1), h.open_interest),
        Endpoint("GET", f"{v1}/ticker/24hr", NONE, symbol_weight(1, 40), x.ticker_24h),
        Endpoint("GET", f"{v1}/premiumIndex", NONE, symbol_weight(1, 10), x.premium_index),
        Endpoint("GET", f"{v1}/fundingRate", NONE, fixed_weight(1), x.funding_rate),
        Endpoint("POST", f"{v1}/order", SIGNED, fixed_weight(0), x.new_order, 1, 1, "new"),
        Endpoint("PUT", f"{v1}/order", SIGNED, fixed_weight(1), x.modify_order, 1, 1, "modify"),
        Endpoint("DELETE", f"{v1}/order", SIGNED, fixed_weight(1), x.cancel_order, write="cancel"),
        Endpoint("GET", f"{v1}/order", SIGNED, fixed_weight(1), x.query_order),
        Endpoint("GET", f"{v1}/openOrder", SIGNED, fixed_weight(1), x.query_open_order),
        Endpoint("GET", f"{v1}/openOrders", SIGNED, symbol_weight(1, 40), x.open_orders),
        Endpoint("DELETE", f"{v1}/allOpenOrders", SIGNED, fixed_weight(1), x.cancel_all, write="cancel"),
        Endpoint("GET", f"{v1}/allOrders", SIGNED, fixed_weight(5), x.all_orders),
        Endpoint("POST", f"{v1}/batchOrders", SIGNED, fixed_weight(5), x.batch_new, 5, 1, "new"),
        Endpoint("PUT", f"{v1}/batchOrders", SIGNED, fixed_weight(5), x.batch_modify, 5, 1, "modify"),
        Endpoint("DELETE", f"{v1}/batchOrders", SIGNED, fixed_weight(1), x.batch_cancel, write="cancel"),
        Endpoint("POST", f"{v1}/algoOrder", SIGNED, fixed_weight(0), a.new_algo_order, 1, 1, "new"),
        Endpoint("DELETE", f"{v1}/algoOrder", SIGNED, fixed_weight(1), a.cancel_algo_order, write="cancel"),
        Endpoint("DELETE", f"{v1}/algoOpenOrders", SIGNED, fixed_weight(1), a.cancel_all, write="cancel"),
        Endpoint("GET", f"{v1}/algoOrder", SIGNED, fixed_weight(1), a.query_algo_order),
        Endpoint("GET", f"{v1}/openAlgoOrders", SIGNED, symbol_weight(1, 40), a.open_algo_orders),
        Endpoint("GET", f"{v1}/allAlgoOrders", SIGNED, fixed_weight(5), a.all_algo_orders),
        Endpoint("POST", f"{v1}/countdownCancelAll", SIGNED, fixed_weight(10), x.countdown_cancel_all),
        Endpoint("GET", f"{v2}/positionRisk", SIGNED, fixed_weight(5), x.position_risk_v2),
        Endpoint("GET", f"{v3}/positionRisk", SIGNED, fixed_weight(5), x.position_risk_v3),
        Endpoint("GET", f"{v2}/account", SIGNED, fixed_weight(5), x.account_v2),
        Endpoint("GET", f"{v3}/account", SIGNED, fixed_weight(5), x.account_v3),
        Endpoint("GET", f"{v2}/balance", SIGNED, fixed_weight(5), x.balance),
        Endpoint("GET", f"{v3}/balance", SIGNED, fixed_weight(5), x.balance),
        Endpoint("POST", f"{v1}/leverage", SIGNED, fixed_weight(1), x.leverage),
        Endpoint("POST", f"{v1}/marginType", SIGNED, fixed_weight(1), x.margin_type),
        Endpoint("GET", f"{v1}/positionSide/dual", SIGNED, fixed_weight(30), x.position_side_get),
        Endpoint("POST", f"{v1}/positionSide/dual", SIGNED, fixed_weight(1), x.position_side_set),
        Endpoint("GET", f"{v1}/multiAssetsMargin", SIGNED, fixed_weight(30), x.multi_assets_margin),
        Endpoint("POST", f"{v1}/multiAssetsMargin", SIGNED, fixed_weight(1), x.multi_assets_margin_set),
        Endpoint("GET", f"{v1}/userTrades", SIGNED, fixed_weight(5), x.user_trades),
        Endpoint("GET", f"{v1}/commissionRate", SIGNED, fixed_weight(20), x.commission_rate),
        Endpoint("GET", f"{v1}/income", SIGNED, fixed_weight(30), x.income),
        Endpoint("GET", f"{v1}/leverageBracket", SIGNED, fixed_weight(1), x.leverage_bracket),
        Endpoint("GET", f"{v2}/leverageBracket", SIGNED, fixed_weight(1), x.leverage_bracket),
        Endpoint("GET", f"{v1}/accountConfig", SIGNED, fixed_weight(5), x.account_config),
        Endpoint("GET", f"{v1}/symbolConfig", SIGNED, fixed_weight(5), x.symbol_config),
        Endpoint("GET", f"{v1}/rateLimit/order", SIGNED, fixed_weight(1), x.order_rate_limit),
        Endpoint("POST", f"{v1}/listenKey", USER_STREAM, fixed_weight(1), x.listen_key_new),
        Endpoint("PUT", f"{v1}/listenKey", USER_STREAM, fixed_weight(1), x.listen_key_keepalive),
        Endpoint("DELETE", f"{v1}/listenKey", USER_STREAM, fixed_weight(1), x.listen_key_delete),
    ]


@dataclass(eq=False, repr=False)
class RestApi:
    """Binds the endpoint table to aiohttp routes and runs the request pipeline; the API key and
    secret it checks are `config.api_key` / `config.api_secret`."""

    exchange: SimExchange
    config: SimConfig
    limiter: RateLimiter
    faults: FaultPlan
    now_ms: Callable[[], int]
    requests: int = field(default=0, init=False)

    def add_routes(self, app: web.Application) -> None:
        for ep in endpoints(self.exchange):
            app.router.add_route(ep.method, ep.path, self._bind(ep))

    def _bind(self, ep: Endpoint) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.dispatch(ep, request)

        return handle

    async def dispatch(self, ep: Endpoint, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        faults = self.faults
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        ip = request.remote or "127.0.0.1"
        now = self.now_ms()
        headers: dict[str, str] = {}
        try:
            query = request.raw_path.partition("?")[2]
            # a request without a body (GET, most DELETEs) skips the body reader
            body = await request.text() if ep.method != "GET" and request.body_exists else ""
            params = merge_params(query, body)
            secret = self.config.api_secret
            result = self.execute(
                ep, params, ip, now, request.headers.get("X-MBX-APIKEY"),
                lambda: check_signature(secret, query, body), headers,
            )  # fmt: skip
            status = 200
        except VenueReject as exc:  # ApiError included
            status, result = exc.http_status, {"code": exc.code, "msg": exc.msg}
            if isinstance(exc, ApiError) and exc.retry_after_s is not None:
                headers["Retry-After"] = str(exc.retry_after_s)
        except Exception:
            log.exception("sim_rest_handler_failed path=%s", ep.path)
            status, result = 500, {"code": ErrorCode.UNKNOWN, "msg": _REJECT_MESSAGES[ErrorCode.UNKNOWN]}
        headers["X-MBX-USED-WEIGHT-1M"] = str(self.limiter.used_weight(ip, now))
        headers["Content-Type"] = "application/json"
        _count_request(ep.path, status)
        return web.Response(body=_encode(result), status=status, headers=headers)

    def execute(
        self,
        ep: Endpoint,
        params: dict[str, str],
        ip: str,
        now: int,
        api_key: str | None,
        verify_signature: Callable[[], None],
        headers: dict[str, str],
    ) -> Any:
        """The transport-independent pipeline (REST and the WebSocket API share it)."""
        faults = self.faults
        limiter = self.limiter
        limiter.check_ban(ip, now)
        if faults.take_ban():
            FAULTS_INJECTED_TOTAL.labels("ban").inc()
            raise banned(ip, now + self.config.ban_initial_ms, now)
        if faults.take_too_many_requests():
            FAULTS_INJECTED_TOTAL.labels("too_many_requests").inc()
            raise too_many_requests(ip, limiter.weight_limit)
        limiter.charge(ip, ep.weight(params), now)
        if ep.security != NONE:
            check_api_key(api_key, self.config.api_key, ip)
        if ep.security == SIGNED:
            verify_signature()
            check_timestamp(
                params,
                now,
                default_window_ms=self.config.recv_window_default_ms,
                max_window_ms=self.config.recv_window_max_ms,
                ahead_ms=self.config.future_tolerance_ms,
            )
        if ep.orders_10s or ep.orders_1m:
            c10, c1m = limiter.charge_orders(ip, ep.orders_10s, ep.orders_1m, now)
            headers["X-MBX-ORDER-COUNT-10S"] = str(c10)
            headers["X-MBX-ORDER-COUNT-1M"] = str(c1m)
        if ep.write:
            self._pre_execution_faults(ep)
        result = ep.handler(params, now)
        if ep.write:
            self.exchange.pump(now)
            if faults.take_unknown_after():
                log.info("sim_fault_unknown_after_execute path=%s", ep.path)
                FAULTS_INJECTED_TOTAL.labels("unknown_after_execute").inc()
                raise ApiError(ErrorCode.UNKNOWN, MSG_503_UNKNOWN, 503)
        return result

    def _pre_execution_faults(self, ep: Endpoint) -> None:
        faults = self.faults
        if faults.take_unavailable_before():
            FAULTS_INJECTED_TOTAL.labels("unavailable_before_execute").inc()
            raise ApiError(ErrorCode.DISCONNECTED, MSG_503_UNAVAILABLE, 503)
        if ep.write == "new":
            if faults.take_throttle():
                FAULTS_INJECTED_TOTAL.labels("throttle").inc()
                raise ApiError(ErrorCode.SERVER_BUSY, MSG_THROTTLED, 503)
            if faults.take_reject():
                FAULTS_INJECTED_TOTAL.labels("reject").inc()
                code = faults.reject_code
                raise ApiError(code, _REJECT_MESSAGES.get(code, "NEW_ORDER_REJECTED"))
