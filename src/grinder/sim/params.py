"""Wire parameter parsing for REST requests: each helper raises the Binance error a bad value earns."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import TypeVar

from grinder.core.enums import PositionSide, Side, TimeInForce
from grinder.core.errors import ErrorCode
from grinder.core.ids import CLIENT_ORDER_ID_RE, MAX_CLIENT_ORDER_ID_LEN
from grinder.sim.errors import ApiError, illegal_chars
from grinder.venue.errors import MSG_BAD_CID, MSG_BAD_SYMBOL, mandatory

E = TypeVar("E", bound=Enum)

CONDITIONAL_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
MSG_ALGO_ONLY = "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise mandatory(name)
    return value


def _sent(params: dict[str, str], name: str, optional: bool) -> str | None:
    """The raw value, or None when absent and `optional` (-1102 when absent and required)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if optional:
            return None
        raise mandatory(name)
    return raw


def decimal_param(params: dict[str, str], name: str, *, optional: bool = False) -> Decimal | None:
    raw = _sent(params, name, optional)
    return None if raw is None else _decimal(raw, name)


def int_param(params: dict[str, str], name: str, *, optional: bool = False) -> int | None:
    raw = _sent(params, name, optional)
    return None if raw is None else _int(raw, name)


def _decimal(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise mandatory(name) from None
    if not value.is_finite():
        raise mandatory(name)
    return value


def _int(raw: str, name: str) -> int:
    if not raw.lstrip("-").isdigit() or len(raw) > 20:
        raise illegal_chars(name)
    return int(raw)


def required_int(params: dict[str, str], name: str) -> int:
    value = int_param(params, name)
    if value is None:  # int_param raises for a missing value; this narrows the type
        raise mandatory(name)
    return value


def bool_param(params: dict[str, str], name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")
    return lowered == "true"


def enum_param(params: dict[str, str], name: str, enum: type[E], code: int, msg: str) -> E:
    raw = required(params, name)
    try:
        return enum(raw)
    except ValueError:
        raise ApiError(code, msg) from None


def side_param(params: dict[str, str]) -> Side:
    return enum_param(params, "side", Side, ErrorCode.INVALID_SIDE, "Invalid side.")


def time_in_force_param(params: dict[str, str]) -> TimeInForce:
    return enum_param(params, "timeInForce", TimeInForce, ErrorCode.INVALID_TIF, "Invalid timeInForce.")


def position_side_param(params: dict[str, str]) -> PositionSide:
    """`positionSide`, BOTH when not sent."""
    if not params.get("positionSide"):
        return PositionSide.BOTH
    return enum_param(
        params, "positionSide", PositionSide, ErrorCode.STOP_PRICE_LESS_THAN_ZERO, "Invalid position side."
    )


def client_order_id(params: dict[str, str], name: str) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CLIENT_ORDER_ID_LEN:
        raise ApiError(
            ErrorCode.INVALID_CLIENT_ORDER_ID, "Client order id length should not be more than 36 chars"
        )
    if not CLIENT_ORDER_ID_RE.match(raw):
        raise ApiError(ErrorCode.INVALID_CLIENT_ORDER_ID, MSG_BAD_CID)
    return raw


def order_ref(
    params: dict[str, str], id_name: str = "orderId", client_name: str = "origClientOrderId"
) -> tuple[int | None, str | None]:
    """(orderId, origClientOrderId) — or another id pair, e.g. algoId / clientAlgoId: at least one
    must be sent; the numeric id wins when both are."""
    order_id = int_param(params, id_name, optional=True)
    client_id = params.get(client_name) or None
    if order_id is None and client_id is None:
        raise ApiError(
            ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, f"Either {id_name} or {client_name} must be sent."
        )
    return order_id, (None if order_id is not None else client_id)


def symbol_param(params: dict[str, str], known: Collection[str], name: str = "symbol") -> str:
    """A symbol (or pair) the simulator trades, upper-cased; -1121 for any other."""
    sym = required(params, name).upper()
    if sym not in known:
        raise ApiError(ErrorCode.BAD_SYMBOL, MSG_BAD_SYMBOL)
    return sym


def time_range(params: dict[str, str]) -> tuple[int | None, int | None]:
    """(startTime, endTime) as sent; -1023 when the start is after the end."""
    start = int_param(params, "startTime", optional=True)
    end = int_param(params, "endTime", optional=True)
    if start is not None and end is not None and start > end:
        raise ApiError(ErrorCode.START_TIME_GREATER_THAN_END_TIME, "Start time is greater than end time.")
    return start, end


def limit_param(params: dict[str, str], default: int, maximum: int) -> int:
    """`limit` in 1..maximum (default when absent); -1130 outside it."""
    limit = int_param(params, "limit", optional=True)
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise ApiError(ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'limit' is not valid.")
    return limit
