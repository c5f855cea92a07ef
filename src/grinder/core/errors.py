"""Binance USDⓈ-M error codes by name: the one catalogue every layer uses.

The venue and the simulator raise these codes, the wire client and the connector classify them,
the live engine and reconciliation act on them. A bare numeric literal elsewhere is a bug waiting
to happen (wave 1 had -2011/-2013 defined in six files): import `ErrorCode` instead.

Names follow Binance's own (protocol sheet §6.3), without its spelling mistakes.
`ErrorCode` is an `IntEnum`, so `exc.code == ErrorCode.NO_SUCH_ORDER` works on plain ints decoded
from a response body, and a member serialises as its number.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    # 10xx: server and network
    UNKNOWN = -1000
    DISCONNECTED = -1001
    TOO_MANY_REQUESTS = -1003  # also the 418 IP ban
    UNEXPECTED_RESPONSE = -1006  # execution status unknown
    TIMEOUT = -1007  # execution status unknown
    SERVER_BUSY = -1008  # request throttled (503)
    TOO_MANY_ORDERS = -1015
    INVALID_TIMESTAMP = -1021
    INVALID_SIGNATURE = -1022
    START_TIME_GREATER_THAN_END_TIME = -1023
    # 11xx: request issues
    ILLEGAL_CHARS = -1100
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    PARAM_NOT_REQUIRED = -1106
    BAD_PRECISION = -1111
    INVALID_TIF = -1115
    INVALID_ORDER_TYPE = -1116
    INVALID_SIDE = -1117
    BAD_INTERVAL = -1120
    BAD_SYMBOL = -1121
    INVALID_LISTEN_KEY = -1125
    MORE_THAN_XX_HOURS = -1127
    INVALID_PARAMETER = -1130
    BAD_RECV_WINDOW = -1131
    # 20xx: order and key issues
    NEW_ORDER_REJECTED = -2010
    CANCEL_REJECTED = -2011  # cancel of an order that is not open ("Unknown order sent.")
    NO_SUCH_ORDER = -2013  # query of an order the exchange does not know
    BAD_API_KEY_FORMAT = -2014
    REJECTED_API_KEY = -2015  # key, IP or permission (HTTP 401)
    BALANCE_NOT_SUFFICIENT = -2018
    MARGIN_NOT_SUFFICIENT = -2019
    ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
    REDUCE_ONLY_REJECT = -2022
    MAX_OPEN_ORDER_EXCEEDED = -2025
    MAX_LEVERAGE_RATIO = -2027
    # 40xx: filters and parameters
    PRICE_LESS_THAN_ZERO = -4001
    PRICE_GREATER_THAN_MAX_PRICE = -4002
    QTY_LESS_THAN_ZERO = -4003
    QTY_LESS_THAN_MIN_QTY = -4004
    QTY_GREATER_THAN_MAX_QTY = -4005
    STOP_PRICE_LESS_THAN_ZERO = -4006
    PRICE_LESS_THAN_MIN_PRICE = -4013
    PRICE_NOT_INCREASED_BY_TICK_SIZE = -4014
    INVALID_CLIENT_ORDER_ID = -4015
    PRICE_HIGHER_THAN_MULTIPLIER_UP = -4016
    QTY_NOT_INCREASED_BY_STEP_SIZE = -4023
    PRICE_LOWER_THAN_MULTIPLIER_DOWN = -4024
    INVALID_LEVERAGE = -4028
    NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
    MARGIN_TYPE_OPEN_ORDERS = -4047
    MARGIN_TYPE_POSITION = -4048
    NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
    POSITION_SIDE_NOT_MATCH = -4061
    POSITION_SIDE_CHANGE_OPEN_ORDERS = -4067
    POSITION_SIDE_CHANGE_POSITION = -4068
    DUPLICATED_CLIENT_ORDER_ID = -4116
    REDUCE_ONLY_MARGIN_CHECK_FAILED = -4118
    STOP_ORDER_SWITCH_ALGO = -4120
    MARKET_ORDER_REJECT = -4131
    TARGET_STRATEGY_INVALID = -4136  # closePosition with an order type that cannot carry it
    CLOSE_POSITION_WITH_QTY = -4137
    MIN_NOTIONAL = -4164
    MULTI_ASSETS_WITH_ISOLATED = -4167
    ISOLATED_UNDER_MULTI_ASSETS = -4168
    ASSET_MODE_UNCHANGED = -4171
    # 50xx: matching-engine rejections
    FOK_ORDER_REJECT = -5021
    GTX_ORDER_REJECT = -5022  # post-only would have taken liquidity
    MODIFY_LIMIT_ONLY = -5025
    MODIFY_TOO_MANY = -5026
    MODIFY_NO_CHANGE = -5027
    ME_RECV_WINDOW_REJECT = -5028


# Codes after which the exchange may or may not have executed a write: resolve by query, never resend.
OUTCOME_UNKNOWN_CODES: frozenset[int] = frozenset(
    {ErrorCode.UNKNOWN, ErrorCode.UNEXPECTED_RESPONSE, ErrorCode.TIMEOUT}
)
# Codes that mean "this order is not (or no longer) open on the exchange".
ORDER_NOT_OPEN_CODES: frozenset[int] = frozenset({ErrorCode.CANCEL_REJECTED, ErrorCode.NO_SUCH_ORDER})

# Binance's texts of an HTTP 503 (or 5xx) answer. The first means the request may have executed
# (unknown outcome: resolve by query); the other two that it did not (retry). The simulator sends
# them and the wire client recognises them: one definition keeps the two in step.
MSG_503_UNKNOWN = "Unknown error, please check your request or try again later."
MSG_503_UNAVAILABLE = "Service Unavailable."
MSG_INTERNAL_RETRY = "Internal error; unable to process your request. Please try again."
# Texts of the order-not-open codes (ORDER_NOT_OPEN_CODES), for the venue and the ports alike.
MSG_UNKNOWN_ORDER = "Unknown order sent."  # CANCEL_REJECTED
MSG_NO_SUCH_ORDER = "Order does not exist."  # NO_SUCH_ORDER
