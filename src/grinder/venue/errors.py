"""`VenueReject`: a request Binance would refuse, with its error code, message and HTTP status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from grinder.core.errors import ErrorCode
from grinder.core.rules import (
    MSG_BAD_PRECISION,
    OrderRuleError,
    mandatory_param_message,
    param_not_required_message,
)


class VenueReject(Exception):
    """Binance's `{"code": ..., "msg": ...}` error body for a refused request (HTTP 400 unless stated)."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{int(code)} {msg}")
        self.code = int(code)  # an ErrorCode member or a plain int: bodies carry the number
        self.msg = msg
        self.http_status = http_status


# Messages Binance sends with each code (protocol sheet §6.3).
MSG_BAD_SYMBOL = "Invalid symbol."
MSG_MARGIN = "Margin is insufficient."
MSG_REDUCE_ONLY = "ReduceOnly Order is rejected."
MSG_MAX_ORDERS = "Reach max open order limit."
MSG_POSITION_SIDE = "Order's position side does not match user's setting."
MSG_DUPLICATE_CID = "clientOrderId is duplicated"
MSG_BAD_CID = "Client order id is not valid."
MSG_FOK = (
    "Due to the order could not be filled immediately, the FOK order has been rejected. "
    "The order will not be recorded in the order history"
)
MSG_GTX = (
    "Due to the order could not be executed as maker, the Post Only order will be rejected. "
    "The order will not be recorded in the order history"
)
MSG_MODIFY_LIMIT_ONLY = "Only limit order is supported."
MSG_MODIFY_TOO_MANY = "Exceed maximum modify order limit."
MSG_MODIFY_NO_CHANGE = "No need to modify the order."
MSG_NO_MARGIN_TYPE_CHANGE = "No need to change margin type."
MSG_MARGIN_TYPE_OPEN_ORDERS = "Margin type cannot be changed if there exists open orders."
MSG_MARGIN_TYPE_POSITION = "Margin type cannot be changed if there exists position."
MSG_NO_POSITION_SIDE_CHANGE = "No need to change position side."
MSG_POSITION_SIDE_OPEN_ORDERS = "Position side cannot be changed if there exists open orders."
MSG_POSITION_SIDE_POSITION = "Position side cannot be changed if there exists position."


def mandatory(param: str) -> VenueReject:
    return VenueReject(ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, mandatory_param_message(param))


def not_required(param: str) -> VenueReject:
    return VenueReject(ErrorCode.PARAM_NOT_REQUIRED, param_not_required_message(param))


@contextmanager
def order_rules_checked() -> Iterator[None]:
    """Runs `SymbolRules` checks and conversions as Binance answers them: a broken filter is its
    reject (code and message), a price or quantity off the grid is -1111."""
    try:
        yield
    except OrderRuleError as exc:
        raise VenueReject(exc.code, exc.msg) from None
    except ValueError:
        raise VenueReject(ErrorCode.BAD_PRECISION, MSG_BAD_PRECISION) from None
