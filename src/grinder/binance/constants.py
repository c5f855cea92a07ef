"""Binance USDⓈ-M wire constants as data: base URLs, stream routing, endpoints and their weights.

Weights follow the protocol sheet §3 (official SDK docstrings, 2026). A changed weight is a one-line
edit of `ENDPOINTS`; the governor and the REST client read nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

MAINNET_REST_URL = "https://fapi.binance.com"
MAINNET_WS_URL = "wss://fstream.binance.com"
TESTNET_REST_URL = "https://demo-fapi.binance.com"
TESTNET_WS_URL = "wss://fstream.binancefuture.com"

API_KEY_HEADER = "X-MBX-APIKEY"


class Security(StrEnum):
    """What a request carries: nothing, the API key header, or key + timestamp + signature."""

    NONE = "NONE"
    MARKET_DATA = "MARKET_DATA"  # key header only
    USER_STREAM = "USER_STREAM"  # key header only
    SIGNED = "SIGNED"  # TRADE / USER_DATA: key + timestamp + recvWindow + signature

    @property
    def needs_key(self) -> bool:
        return self is not Security.NONE


class StreamGroup(StrEnum):
    """Routed WebSocket paths (protocol sheet §5.1); each group is its own connection."""

    PUBLIC = "public"  # bookTicker, depth
    MARKET = "market"  # aggTrade, markPrice, trade
    PRIVATE = "private"  # user data


# Stream-name suffix → routed group.
STREAM_GROUPS: Mapping[str, StreamGroup] = {
    "bookTicker": StreamGroup.PUBLIC,
    "depth": StreamGroup.PUBLIC,
    "aggTrade": StreamGroup.MARKET,
    "trade": StreamGroup.MARKET,
    "markPrice": StreamGroup.MARKET,
}


def stream_group(stream: str) -> StreamGroup:
    """Group of a stream name such as `btcusdt@depth@100ms` or `btcusdt@markPrice@1s`."""
    parts = stream.split("@")
    if len(parts) < 2:
        raise ValueError(f"stream name {stream!r} lacks '@<type>'; expected e.g. 'btcusdt@bookTicker'")
    kind = parts[1]
    if kind.startswith("depth"):
        kind = "depth"
    group = STREAM_GROUPS.get(kind)
    if group is None:
        raise ValueError(
            f"stream type {kind!r} of {stream!r} is not one GRINDER routes; known: {sorted(STREAM_GROUPS)}"
        )
    return group


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST endpoint: request weight (IP), order-count cost (account), security, write or read."""

    method: str
    path: str
    security: Security
    weight: int
    orders: int = 0  # counts toward the ORDERS pools (10 s and 1 min)
    is_write: bool = False  # changes exchange state: an unknown outcome must be resolved by query
    weight_without_symbol: int | None = None
    weight_by_limit: tuple[tuple[int, int], ...] = ()  # (max limit, weight), ascending

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def weight_for(self, params: Mapping[str, object] | None) -> int:
        if self.weight_without_symbol is not None and not (params and params.get("symbol")):
            return self.weight_without_symbol
        if self.weight_by_limit:
            raw = params.get("limit") if params else None
            limit = int(str(raw)) if raw is not None else 500
            for max_limit, weight in self.weight_by_limit:
                if limit <= max_limit:
                    return weight
            return self.weight_by_limit[-1][1]
        return self.weight


_ENDPOINT_LIST: tuple[Endpoint, ...] = (
    Endpoint("GET", "/fapi/v1/ping", Security.NONE, 1),
    Endpoint("GET", "/fapi/v1/time", Security.NONE, 1),
    Endpoint("GET", "/fapi/v1/exchangeInfo", Security.NONE, 1),
    Endpoint(
        "GET",
        "/fapi/v1/depth",
        Security.NONE,
        20,
        weight_by_limit=((50, 2), (100, 5), (500, 10), (1000, 20)),
    ),
    Endpoint("GET", "/fapi/v1/ticker/bookTicker", Security.NONE, 2, weight_without_symbol=5),
    Endpoint("GET", "/fapi/v1/premiumIndex", Security.NONE, 1, weight_without_symbol=10),
    Endpoint("POST", "/fapi/v1/order", Security.SIGNED, 0, orders=1, is_write=True),
    # Modify: IP weight 0 per the 2026 SDK, 1 per 2025 docs; we count the larger.
    Endpoint("PUT", "/fapi/v1/order", Security.SIGNED, 1, orders=1, is_write=True),
    Endpoint("DELETE", "/fapi/v1/order", Security.SIGNED, 1, is_write=True),
    Endpoint("DELETE", "/fapi/v1/allOpenOrders", Security.SIGNED, 1, is_write=True),
    Endpoint("GET", "/fapi/v1/order", Security.SIGNED, 1),
    Endpoint("GET", "/fapi/v1/openOrders", Security.SIGNED, 1, weight_without_symbol=40),
    Endpoint("GET", "/fapi/v2/positionRisk", Security.SIGNED, 5),
    Endpoint("GET", "/fapi/v2/balance", Security.SIGNED, 5),
    Endpoint("GET", "/fapi/v2/account", Security.SIGNED, 5),
    Endpoint("GET", "/fapi/v3/account", Security.SIGNED, 5),
    Endpoint("GET", "/fapi/v1/userTrades", Security.SIGNED, 5),
    Endpoint("POST", "/fapi/v1/listenKey", Security.USER_STREAM, 1),
    Endpoint("PUT", "/fapi/v1/listenKey", Security.USER_STREAM, 1),
    Endpoint("DELETE", "/fapi/v1/listenKey", Security.USER_STREAM, 1),
)

ENDPOINTS: Mapping[tuple[str, str], Endpoint] = {(e.method, e.path): e for e in _ENDPOINT_LIST}


def endpoint_for(method: str, path: str, security: Security) -> Endpoint:
    """The table entry, or a conservative default (weight 1; writes assumed for non-GET signed)."""
    known = ENDPOINTS.get((method.upper(), path))
    if known is not None:
        return known
    return Endpoint(method.upper(), path, security, 1, is_write=method.upper() != "GET")


# Default limits (protocol sheet §7); replaced by exchangeInfo.rateLimits when fetched.
DEFAULT_REQUEST_WEIGHT_1M = 2400
DEFAULT_ORDERS_10S = 300
DEFAULT_ORDERS_1M = 1200

USED_WEIGHT_HEADER_PREFIX = "x-mbx-used-weight-"
ORDER_COUNT_HEADER_PREFIX = "x-mbx-order-count-"

# Stream connection rules (§5.5).
MAX_CONNECTION_AGE_S = 23 * 3600  # proactive reconnect before the 24 h server cut
LISTEN_KEY_KEEPALIVE_S = 30 * 60
