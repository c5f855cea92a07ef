"""The WebSocket API (`/ws-fapi/v1`, protocol sheet §11): request/response trading over one socket.

Requests `{"id", "method", "params"}` run the same pipeline as REST (limits, key, signature, clock,
faults, venue) and answer `{"id", "status", "result" | "error", "rateLimits"}`. Signed methods carry
`apiKey`, `timestamp` and `signature` in `params`; the signed payload is every other parameter,
sorted by name, as `k=v` joined with `&`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from grinder.core.errors import ErrorCode
from grinder.sim.auth import sign
from grinder.sim.errors import MSG_BAD_SIGNATURE, ApiError
from grinder.sim.exchange import SimExchange
from grinder.sim.rest import (
    NONE,
    SIGNED,
    USER_STREAM,
    Endpoint,
    RestApi,
    depth_weight,
    fixed_weight,
    symbol_weight,
)
from grinder.venue.errors import VenueReject, mandatory

log = logging.getLogger(__name__)
PATH = "/ws-fapi/v1"


def methods(x: SimExchange) -> dict[str, Endpoint]:
    """WebSocket API method -> endpoint (weights as the REST twins)."""
    table = [
        Endpoint("WS", "order.place", SIGNED, fixed_weight(0), x.new_order, 1, 1, "new"),
        Endpoint("WS", "order.modify", SIGNED, fixed_weight(1), x.modify_order, 1, 1, "modify"),
        Endpoint("WS", "order.cancel", SIGNED, fixed_weight(1), x.cancel_order, write="cancel"),
        Endpoint("WS", "order.status", SIGNED, fixed_weight(1), x.query_order),
        Endpoint("WS", "algoOrder.place", SIGNED, fixed_weight(0), x.algo.new_algo_order, 1, 1, "new"),
        Endpoint("WS", "algoOrder.cancel", SIGNED, fixed_weight(1), x.algo.cancel_algo_order, write="cancel"),
        Endpoint("WS", "account.position", SIGNED, fixed_weight(5), x.position_risk_v2),
        Endpoint("WS", "v2/account.position", SIGNED, fixed_weight(5), x.position_risk_v3),
        Endpoint("WS", "account.balance", SIGNED, fixed_weight(5), x.balance),
        Endpoint("WS", "v2/account.balance", SIGNED, fixed_weight(5), x.balance),
        Endpoint("WS", "account.status", SIGNED, fixed_weight(5), x.account_v2),
        Endpoint("WS", "v2/account.status", SIGNED, fixed_weight(5), x.account_v3),
        Endpoint("WS", "ticker.book", NONE, symbol_weight(2, 5), x.book_ticker),
        Endpoint("WS", "ticker.price", NONE, symbol_weight(1, 2), x.ticker_price),
        Endpoint("WS", "depth", NONE, depth_weight, x.depth),
        Endpoint("WS", "userDataStream.start", USER_STREAM, fixed_weight(1), x.listen_key_new),
        Endpoint("WS", "userDataStream.ping", USER_STREAM, fixed_weight(1), x.listen_key_keepalive),
        Endpoint("WS", "userDataStream.stop", USER_STREAM, fixed_weight(1), x.listen_key_delete),
    ]
    return {ep.path: ep for ep in table}


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def ws_signed_payload(params: dict[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


class WsApi:
    """Serves `/ws-fapi/v1` on top of the REST pipeline."""

    def __init__(self, rest: RestApi, api_secret: str, now_ms: Callable[[], int]) -> None:
        self._rest = rest
        self._secret = api_secret
        self._now_ms = now_ms
        self._methods = methods(rest.exchange)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.serve)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        ip = request.remote or "127.0.0.1"
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
                continue
            reply = self.answer(msg.data, ip)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(reply, separators=(",", ":")))
        return ws

    def answer(self, text: str, ip: str) -> dict[str, Any]:
        """One request frame -> its response document (errors included, never an exception)."""
        now = self._now_ms()
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as exc:
            return {
                "id": None,
                "status": 400,
                "error": {
                    "code": ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                    "msg": f"Invalid JSON: {exc}",
                },
            }
        req_id = doc.get("id")
        raw_params = doc.get("params", {})
        ep = self._methods.get(str(doc.get("method")))
        headers: dict[str, str] = {}
        try:
            if ep is None:
                raise ApiError(
                    ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, f"Unknown method {doc.get('method')!r}."
                )
            if not isinstance(raw_params, dict):
                raise mandatory("params")
            params = {str(k): _wire(v) for k, v in raw_params.items() if v is not None}
            want_limits = params.get("returnRateLimits", "true") != "false"  # it is signed too
            result = self._rest.execute(
                ep, params, ip, now, params.get("apiKey"), lambda: self._verify(params), headers
            )
            out: dict[str, Any] = {"id": req_id, "status": 200, "result": result}
        except VenueReject as exc:  # ApiError included
            want_limits = True
            out = {"id": req_id, "status": exc.http_status, "error": {"code": exc.code, "msg": exc.msg}}
        except Exception:
            log.exception("sim_ws_api_failed method=%s", doc.get("method"))
            out = {
                "id": req_id,
                "status": 500,
                "error": {"code": ErrorCode.UNKNOWN, "msg": "An unknown error occured."},
            }
            want_limits = False
        if want_limits:
            out["rateLimits"] = self._rate_limits(ip, now)
        return out

    def _verify(self, params: dict[str, str]) -> None:
        signature = params.get("signature")
        if not signature:
            raise mandatory("signature")
        if not hmac.compare_digest(sign(self._secret, ws_signed_payload(params)), signature.lower()):
            raise ApiError(ErrorCode.INVALID_SIGNATURE, MSG_BAD_SIGNATURE)

    def _rate_limits(self, ip: str, now: int) -> list[dict[str, Any]]:
        lim = self._rest.limiter
        c10, c1m = lim.order_counts(now)
        return [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": lim.weight_limit, "count": lim.used_weight(ip, now)},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": lim.orders_10s,
             "count": c10},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": lim.orders_1m,
             "count": c1m},
        ]  # fmt: skip
