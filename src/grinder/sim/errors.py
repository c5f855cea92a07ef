"""Binance error answers of the server layer: `ApiError(code, msg, http_status)` and the exact texts the
simulator sends. Parameter errors (`mandatory`, `not_required`) and order/symbol messages are the
venue's (`grinder.venue.errors`): one definition."""

from __future__ import annotations

from grinder.core.errors import ErrorCode
from grinder.venue.errors import VenueReject


class ApiError(VenueReject):
    """A refusal by the server layer itself (auth, limits, parameters): rendered like a `VenueReject`
    as `{"code": code, "msg": msg}` with `http_status`, plus `Retry-After` when set."""

    def __init__(self, code: int, msg: str, http_status: int = 400, retry_after_s: int | None = None) -> None:
        super().__init__(code, msg, http_status)
        self.retry_after_s = retry_after_s  # sent as `Retry-After` (429 / 418)


MSG_THROTTLED = (
    "Request throttled by system-level protection. Reduce-only/close-position orders are exempt. "
    "Please try again."
)
MSG_TS_OUTSIDE = "Timestamp for this request is outside of the recvWindow."
MSG_TS_AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."
MSG_BAD_SIGNATURE = "Signature for this request is not valid."
MSG_BAD_KEY_FORMAT = "API-key format invalid."
MSG_REJECTED_KEY = "Invalid API-key, IP, or permissions for action, request ip: {ip}"
MSG_INVALID_LISTEN_KEY = "This listenKey does not exist."
MSG_BAD_RECV_WINDOW = "recvWindow must be less than {limit}."


def illegal_chars(name: str) -> ApiError:
    return ApiError(
        ErrorCode.ILLEGAL_CHARS,
        f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
    )


def too_many_requests(ip: str, limit: int, retry_after_s: int | None = None) -> ApiError:
    return ApiError(
        ErrorCode.TOO_MANY_REQUESTS,
        f"Too many requests; current limit of IP({ip}) is {limit} requests per minute. "
        "Please use the websocket for live updates to avoid polling the API.",
        429,
        retry_after_s,
    )


def banned(ip: str, until_ms: int, now_ms: int | None = None) -> ApiError:
    return ApiError(
        ErrorCode.TOO_MANY_REQUESTS,
        f"Way too many requests; IP({ip}) banned until {until_ms}. "
        "Please use the websocket for live updates to avoid bans.",
        418,
        None if now_ms is None else max(1, -(-(until_ms - now_ms) // 1000)),
    )


def too_many_orders(limit: int, interval: str, retry_after_s: int | None = None) -> ApiError:
    return ApiError(
        ErrorCode.TOO_MANY_ORDERS,
        f"Too many new orders; current limit is {limit} orders per {interval}.",
        429,
        retry_after_s,
    )
