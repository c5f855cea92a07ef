"""The Algo Order API of the simulator (`/fapi/v1/algoOrder`, `algoOpenOrders`, `openAlgoOrders`,
`allAlgoOrders`) and the `ALGO_UPDATE` user-data event, over the venue's conditional orders.

Binance moved STOP / TAKE_PROFIT / TRAILING_STOP_MARKET orders to this service (`POST /fapi/v1/order`
answers -4120 for them); the trigger logic lives in `grinder.venue.conditional`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from grinder.core.enums import TimeInForce
from grinder.core.errors import MSG_NO_SUCH_ORDER, ErrorCode
from grinder.core.rules import SymbolRules
from grinder.sim.errors import ApiError
from grinder.sim.params import (
    bool_param,
    client_order_id,
    decimal_param,
    enum_param,
    int_param,
    limit_param,
    order_ref,
    position_side_param,
    required,
    side_param,
    symbol_param,
    time_in_force_param,
    time_range,
)
from grinder.sim.render import price_dec
from grinder.venue import Venue
from grinder.venue.conditional import (
    AlgoKind,
    AlgoOrder,
    AlgoRequest,
    AlgoStatus,
    ConditionalOrders,
    WorkingType,
)

_ZERO = Decimal(0)
MSG_CANCEL_ALL = "The operation of cancel all open order is done."


class AlgoOrderApi:
    """Handlers (params, now_ms) -> Binance JSON for the conditional-order endpoints."""

    def __init__(self, venue: Venue, rules: Mapping[str, SymbolRules], seed: int) -> None:
        self._venue = venue
        self._rules = rules
        self._rng = random.Random(seed ^ 0xA160)

    @property
    def _book(self) -> ConditionalOrders:
        return self._venue.conditional

    def new_algo_order(self, params: dict[str, str], now_ms: int) -> Any:
        if required(params, "algoType") != "CONDITIONAL":
            raise ApiError(ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'algoType' is not valid.")
        symbol = symbol_param(params, self._rules)
        side = side_param(params)
        kind = enum_param(params, "type", AlgoKind, ErrorCode.INVALID_ORDER_TYPE, "Invalid orderType.")
        position_side = position_side_param(params)
        tif = TimeInForce.GTC
        if params.get("timeInForce"):
            tif = time_in_force_param(params)
        working = WorkingType.CONTRACT_PRICE
        if params.get("workingType"):
            working = enum_param(
                params,
                "workingType",
                WorkingType,
                ErrorCode.INVALID_PARAMETER,
                "Data sent for parameter 'workingType' is not valid.",
            )
        request = AlgoRequest(
            symbol=symbol,
            side=side,
            kind=kind,
            position_side=position_side,
            quantity=decimal_param(params, "quantity", optional=True),
            price=decimal_param(params, "price", optional=True),
            trigger_price=decimal_param(params, "triggerPrice", optional=True),
            time_in_force=tif,
            working_type=working,
            close_position=bool_param(params, "closePosition"),
            price_protect=bool_param(params, "priceProtect"),
            reduce_only=bool_param(params, "reduceOnly"),
            activate_price=decimal_param(params, "activatePrice", optional=True),
            callback_rate=decimal_param(params, "callbackRate", optional=True),
            client_algo_id=client_order_id(params, "clientAlgoId") or f"{self._rng.getrandbits(88):022x}",
        )
        return algo_object(self._rules[symbol], self._book.place(request, now_ms))

    def cancel_algo_order(self, params: dict[str, str], now_ms: int) -> Any:
        algo_id, client_id = order_ref(params, "algoId", "clientAlgoId")
        order = self._book.cancel(algo_id, client_id, now_ms)
        return {"algoId": order.algo_id, "clientAlgoId": order.request.client_algo_id, "code": "200",
                "msg": "success"}  # fmt: skip

    def cancel_all(self, params: dict[str, str], now_ms: int) -> Any:
        self._book.cancel_all(symbol_param(params, self._rules), now_ms)
        return {"code": 200, "msg": MSG_CANCEL_ALL}

    def query_algo_order(self, params: dict[str, str], now_ms: int) -> Any:
        algo_id, client_id = order_ref(params, "algoId", "clientAlgoId")
        order = self._book.find(algo_id, client_id, ErrorCode.NO_SUCH_ORDER, MSG_NO_SUCH_ORDER)
        return algo_object(self._rules[order.symbol], order, query=True)

    def open_algo_orders(self, params: dict[str, str], now_ms: int) -> Any:
        symbol = symbol_param(params, self._rules) if params.get("symbol") else None
        algo_id = int_param(params, "algoId", optional=True)
        rows = [o for o in self._book.open_orders(symbol) if algo_id is None or o.algo_id == algo_id]
        return [algo_object(self._rules[o.symbol], o, query=True) for o in rows]

    def all_algo_orders(self, params: dict[str, str], now_ms: int) -> Any:
        symbol = symbol_param(params, self._rules)
        from_id = int_param(params, "algoId", optional=True)
        start, end = time_range(params)
        limit = limit_param(params, 500, 1000)
        every = sorted([*self._book.finished, *self._book.orders.values()], key=lambda o: o.algo_id)
        rows = [
            o
            for o in every
            if o.symbol == symbol
            and (from_id is None or o.algo_id >= from_id)
            and (start is None or o.create_ms >= start)
            and (end is None or o.create_ms <= end)
        ]
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [algo_object(self._rules[o.symbol], o, query=True) for o in rows]


def _qty(rules: SymbolRules, value: Decimal | None) -> str:
    return rules.qty_str(rules.qty_to_lots(value)) if value else "0"


def _price(rules: SymbolRules, value: Decimal | None) -> str:
    return rules.price_str(rules.price_to_ticks(value)) if value else "0"


def algo_object(rules: SymbolRules, o: AlgoOrder, *, query: bool = False) -> dict[str, Any]:
    """The REST algo order (New / Query / open / all algo orders)."""
    r = o.request
    doc: dict[str, Any] = {
        "algoId": o.algo_id,
        "clientAlgoId": r.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": r.kind.value,
        "symbol": r.symbol,
        "side": r.side.value,
        "positionSide": r.position_side.value,
        "timeInForce": r.time_in_force.value,
        "quantity": _qty(rules, r.quantity),
        "algoStatus": o.status.value,
    }
    if query:
        doc.update(
            {
                "actualOrderId": str(o.actual_order_id) if o.actual_order_id else "",
                "actualPrice": price_dec(rules, o.avg_price) if o.avg_price else "0",
                "actualType": o.actual_type,
                "actualQty": _qty(rules, o.executed_qty),
            }
        )
    doc.update(
        {
            "triggerPrice": _price(rules, r.trigger_price),
            "price": _price(rules, r.price),
            "icebergQuantity": None,
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": r.working_type.value,
            "priceMatch": "NONE",
            "closePosition": r.close_position,
            "priceProtect": r.price_protect,
            "reduceOnly": r.reduce_only,
        }
    )
    if r.kind is AlgoKind.TRAILING_STOP_MARKET:
        doc["activatePrice"] = _price(rules, r.activate_price)
        doc["callbackRate"] = format(r.callback_rate or _ZERO, "f")
    doc.update({"createTime": o.create_ms, "updateTime": o.update_ms, "triggerTime": o.trigger_ms,
                "goodTillDate": 0})  # fmt: skip
    return doc


def algo_update(rules: SymbolRules, o: AlgoOrder, now_ms: int) -> dict[str, Any]:
    """The `ALGO_UPDATE` user-data event for one status change."""
    r = o.request
    triggered = o.status in (AlgoStatus.TRIGGERED, AlgoStatus.FINISHED) and o.actual_order_id
    body: dict[str, Any] = {
        "caid": r.client_algo_id,
        "aid": o.algo_id,
        "at": "CONDITIONAL",
        "o": r.kind.value,
        "s": r.symbol,
        "S": r.side.value,
        "ps": r.position_side.value,
        "f": r.time_in_force.value,
        "q": _qty(rules, r.quantity),
        "X": o.status.value,
        "ai": str(o.actual_order_id) if triggered else "",
        "ap": price_dec(rules, o.avg_price) if triggered and o.avg_price else "0",
        "aq": _qty(rules, o.executed_qty),
        "act": o.actual_type or "0",
        "tp": _price(rules, r.trigger_price),
        "p": _price(rules, r.price),
        "V": "EXPIRE_MAKER",
        "wt": r.working_type.value,
        "pm": "NONE",
        "cp": r.close_position,
        "pP": r.price_protect,
        "R": r.reduce_only,
        "tt": o.trigger_ms,
        "gtd": 0,
    }
    if o.fail_reason:
        body["rm"] = o.fail_reason
    return {"e": "ALGO_UPDATE", "T": now_ms, "E": o.update_ms, "o": body}
