"""Conditional (algo) orders of the venue: STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET and
TRAILING_STOP_MARKET, held off the book until the working price (last trade or mark) reaches them.

Binance serves these through its Algo Service (`/fapi/v1/algoOrder`): an algo order has its own id
and status (NEW → TRIGGERING → TRIGGERED → FINISHED, or CANCELED / REJECTED / EXPIRED) and, when it
triggers, places a regular MARKET or LIMIT order in the matching engine. The venue calls
`on_price` from its market-data handlers; every status change is queued for `drain_updates`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from grinder.core.enums import OrderType, PositionSide, Side, TimeInForce
from grinder.core.errors import MSG_UNKNOWN_ORDER, ErrorCode
from grinder.venue.errors import (
    MSG_DUPLICATE_CID,
    MSG_POSITION_SIDE,
    VenueReject,
    mandatory,
    not_required,
    order_rules_checked,
)

if TYPE_CHECKING:
    from grinder.venue.engine import Venue

TRIGGER_PROTECT = Decimal("0.05")  # exchangeInfo `triggerProtect`: max |mark − last| / mark for priceProtect
MIN_CALLBACK_RATE = Decimal("0.1")
MAX_CALLBACK_RATE = Decimal("10")
MSG_WOULD_TRIGGER = "Order would immediately trigger."


class AlgoKind(StrEnum):
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"


class WorkingType(StrEnum):
    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"


class AlgoStatus(StrEnum):
    NEW = "NEW"
    TRIGGERING = "TRIGGERING"
    TRIGGERED = "TRIGGERED"
    FINISHED = "FINISHED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (AlgoStatus.NEW, AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED)


_LIMIT_KINDS = (AlgoKind.STOP, AlgoKind.TAKE_PROFIT)
_STOP_KINDS = (AlgoKind.STOP, AlgoKind.STOP_MARKET)


@dataclass(frozen=True, slots=True)
class AlgoRequest:
    """A new conditional order as the wire sends it (Decimals; None = not sent)."""

    symbol: str
    side: Side
    kind: AlgoKind
    position_side: PositionSide = PositionSide.BOTH
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    close_position: bool = False
    price_protect: bool = False
    reduce_only: bool = False
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    client_algo_id: str = ""


@dataclass(frozen=True, slots=True)
class AlgoOrder:
    """One conditional order and where it stands (a frozen snapshot; updates replace it)."""

    algo_id: int
    request: AlgoRequest
    status: AlgoStatus
    create_ms: int
    update_ms: int
    trigger_ms: int = 0
    activated: bool = False  # trailing only: the activation price has been reached
    extreme: Decimal = Decimal(0)  # trailing only: best working price since activation
    actual_order_id: int = 0
    executed_qty: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    actual_type: str = ""
    fail_reason: str = ""

    @property
    def symbol(self) -> str:
        return self.request.symbol


@dataclass
class _Prices:
    last: Decimal | None = None
    mark: Decimal | None = None


@dataclass
class ConditionalOrders:
    """The venue's conditional-order book: validation, triggers, and the placed orders' outcomes."""

    venue: Venue
    orders: dict[int, AlgoOrder] = field(default_factory=dict)  # open ones
    finished: list[AlgoOrder] = field(default_factory=list)  # ended ones, oldest first
    updates: list[AlgoOrder] = field(default_factory=list)
    _prices: dict[str, _Prices] = field(default_factory=dict)
    _next_id: int = 1
    _placing: bool = False

    @property
    def active(self) -> bool:
        return bool(self.orders)

    # ------------------------------------------------------------------ requests
    def place(self, req: AlgoRequest, now_ms: int) -> AlgoOrder:
        """Accept a conditional order, or raise Binance's rejection."""
        self._validate(req)
        price = self._working_price(req.symbol, req.working_type)
        if price is not None and self._would_trigger_now(req, price):
            raise VenueReject(ErrorCode.ORDER_WOULD_IMMEDIATELY_TRIGGER, MSG_WOULD_TRIGGER)
        for o in self.orders.values():
            if o.status.is_open and req.client_algo_id and o.request.client_algo_id == req.client_algo_id:
                raise VenueReject(ErrorCode.DUPLICATED_CLIENT_ORDER_ID, MSG_DUPLICATE_CID)
        # Tracked from here on by the hooks (they only run while an order is open): start fresh.
        self._prices[req.symbol] = _Prices(
            self._working_price(req.symbol, WorkingType.CONTRACT_PRICE), self.venue.mark_price(req.symbol)
        )
        algo_id, self._next_id = self._next_id, self._next_id + 1
        activated = req.kind is AlgoKind.TRAILING_STOP_MARKET and req.activate_price is None
        order = AlgoOrder(algo_id, req, AlgoStatus.NEW, now_ms, now_ms, activated=activated,
                          extreme=price or Decimal(0))  # fmt: skip
        self._store(order)
        return order

    def cancel(self, algo_id: int | None, client_algo_id: str | None, now_ms: int) -> AlgoOrder:
        order = self.find(algo_id, client_algo_id, ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
        if order.status is not AlgoStatus.NEW:
            raise VenueReject(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
        return self._store(replace(order, status=AlgoStatus.CANCELED, update_ms=now_ms))

    def cancel_all(self, symbol: str, now_ms: int) -> list[AlgoOrder]:
        open_ids = [o.algo_id for o in self.open_orders(symbol) if o.status is AlgoStatus.NEW]
        return [self.cancel(algo_id, None, now_ms) for algo_id in open_ids]

    def find(self, algo_id: int | None, client_algo_id: str | None, code: int, msg: str) -> AlgoOrder:
        every = [*self.finished, *self.orders.values()]
        if algo_id is not None:
            matches = [o for o in every if o.algo_id == algo_id]
        else:  # the newest order with that client id
            matches = [o for o in every if o.request.client_algo_id == client_algo_id]
        order = matches[-1] if matches else None
        if order is None:
            raise VenueReject(code, msg)
        return order

    def open_orders(self, symbol: str | None) -> list[AlgoOrder]:
        return [o for o in self.orders.values() if symbol is None or o.symbol == symbol]

    def drain_updates(self) -> list[AlgoOrder]:
        """Status changes since the last drain, in order."""
        out, self.updates = self.updates, []
        return out

    def settle(self) -> list[AlgoOrder]:
        """Triggered orders whose placed order has ended become FINISHED (returned, not queued)."""
        before = len(self.updates)
        for order in [o for o in self.orders.values() if o.status is AlgoStatus.TRIGGERED]:
            self._check_finished(order)
        done, self.updates = self.updates[before:], self.updates[:before]
        return done

    # ------------------------------------------------------------------ market hooks
    def on_price(
        self, symbol: str, now_ms: int, *, last: Decimal | None = None, mark: Decimal | None = None
    ) -> None:
        """A new last trade or mark price: trigger every open order of `symbol` it reaches."""
        prices = self._prices.setdefault(symbol, _Prices())
        if last is not None:
            prices.last = last
        if mark is not None:
            prices.mark = mark
        if self._placing:
            return  # a triggered order's own fills do not re-enter triggering
        for order in [o for o in self.orders.values() if o.symbol == symbol and o.status is AlgoStatus.NEW]:
            working = prices.mark if order.request.working_type is WorkingType.MARK_PRICE else prices.last
            if working is None:
                continue
            order = self._track_trailing(order, working)
            if self._reached(order, working) and self._protected(order, prices):
                self._trigger(order, now_ms)

    # ------------------------------------------------------------------ internals
    def _store(self, order: AlgoOrder) -> AlgoOrder:
        self.orders[order.algo_id] = order
        self.updates.append(order)
        if not order.status.is_open:
            del self.orders[order.algo_id]
            self.finished.append(order)
        return order

    def _validate(self, req: AlgoRequest) -> None:
        """Which parameters each kind needs or refuses (-1102 / -1106), then prices and quantity."""
        dual = self.venue.dual_side_position
        if req.reduce_only and dual:
            raise not_required("reduceOnly")
        if dual == (req.position_side is PositionSide.BOTH):
            raise VenueReject(
                ErrorCode.POSITION_SIDE_NOT_MATCH, MSG_POSITION_SIDE
            )
        if req.close_position:
            if req.kind not in (AlgoKind.STOP_MARKET, AlgoKind.TAKE_PROFIT_MARKET):
                msg = f"Target strategy invalid for orderType {req.kind.value},closePosition true"
                raise VenueReject(ErrorCode.TARGET_STRATEGY_INVALID, msg)
            if req.quantity is not None:
                raise VenueReject(
                    ErrorCode.CLOSE_POSITION_WITH_QTY, "Quantity must be zero with closePosition equals true"
                )
            if req.reduce_only:
                raise not_required("reduceOnly")
        elif req.quantity is None:
            raise mandatory("quantity")
        if req.kind is AlgoKind.TRAILING_STOP_MARKET:
            if req.callback_rate is None:
                raise mandatory("callbackRate")
            if not MIN_CALLBACK_RATE <= req.callback_rate <= MAX_CALLBACK_RATE:
                raise VenueReject(
                    ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'callbackRate' is not valid."
                )
        elif req.trigger_price is None:
            raise mandatory("triggerPrice")
        if req.kind in _LIMIT_KINDS and req.price is None:
            raise mandatory("price")
        if req.kind not in _LIMIT_KINDS and req.price is not None:
            raise not_required("price")
        self._validate_values(req)

    def _validate_values(self, req: AlgoRequest) -> None:
        rules = self.venue.rules(req.symbol)
        with order_rules_checked():
            for px in (req.trigger_price, req.activate_price):
                if px is not None:
                    rules.price_to_ticks(px)
            if req.quantity is not None:
                rules.validate_order(
                    req.side,
                    OrderType.LIMIT if req.kind in _LIMIT_KINDS else OrderType.MARKET,
                    req.quantity,
                    req.price if req.kind in _LIMIT_KINDS else None,
                    mark_price=None,
                    reduce_only=True,  # min notional is checked when the order is placed
                )

    def _working_price(self, symbol: str, working: WorkingType) -> Decimal | None:
        """The price a new order is checked against: the mark, or the book's mid for CONTRACT_PRICE
        (the venue keeps no last trade; the two differ by at most half the spread)."""
        if working is WorkingType.MARK_PRICE:
            return self.venue.mark_price(symbol)
        top = self.venue.best_bid_ask(symbol)
        if top is None or not (top[0] and top[2]):
            return self.venue.mark_price(symbol)
        return self.venue.rules(symbol).tick_size * (top[0] + top[2]) / 2

    def _would_trigger_now(self, req: AlgoRequest, price: Decimal) -> bool:
        if req.kind is AlgoKind.TRAILING_STOP_MARKET:
            if req.activate_price is None:
                return False
            # BUY activates below the market, SELL above it: an activation already passed is refused.
            return req.activate_price >= price if req.side is Side.BUY else req.activate_price <= price
        assert req.trigger_price is not None
        return _crossed(req.kind, req.side, req.trigger_price, price)

    def _track_trailing(self, order: AlgoOrder, price: Decimal) -> AlgoOrder:
        req = order.request
        if req.kind is not AlgoKind.TRAILING_STOP_MARKET:
            return order
        buy = req.side is Side.BUY
        if not order.activated:
            assert req.activate_price is not None
            if (price <= req.activate_price) if buy else (price >= req.activate_price):
                order = replace(order, activated=True, extreme=price)
                self.orders[order.algo_id] = order
            return order
        if (price < order.extreme) if buy else (price > order.extreme):
            order = replace(order, extreme=price)
            self.orders[order.algo_id] = order
        return order

    def _reached(self, order: AlgoOrder, price: Decimal) -> bool:
        req = order.request
        if req.kind is AlgoKind.TRAILING_STOP_MARKET:
            if not order.activated or req.callback_rate is None:
                return False
            rate = req.callback_rate / 100
            if req.side is Side.BUY:
                return price >= order.extreme * (1 + rate)
            return price <= order.extreme * (1 - rate)
        assert req.trigger_price is not None
        return _crossed(req.kind, req.side, req.trigger_price, price)

    def _protected(self, order: AlgoOrder, prices: _Prices) -> bool:
        """priceProtect: no trigger while mark and last price differ by more than `triggerProtect`."""
        if not order.request.price_protect or prices.mark is None or prices.last is None or not prices.mark:
            return True
        return abs(prices.mark - prices.last) / prices.mark <= TRIGGER_PROTECT

    def _trigger(self, order: AlgoOrder, now_ms: int) -> None:
        req = order.request
        order = self._store(replace(order, status=AlgoStatus.TRIGGERING, trigger_ms=now_ms, update_ms=now_ms))
        quantity = req.quantity
        reduce_only = req.reduce_only
        if req.close_position:
            quantity = self._closable(req)
            reduce_only = not self.venue.dual_side_position
            if quantity is None:
                self._store(replace(order, status=AlgoStatus.EXPIRED, update_ms=now_ms,
                                    fail_reason="No position to close"))  # fmt: skip
                return
        order_type = OrderType.LIMIT if req.kind in _LIMIT_KINDS else OrderType.MARKET
        self._placing = True
        try:
            placed = self.venue.new_order(
                symbol=req.symbol,
                side=req.side,
                order_type=order_type,
                quantity=quantity,
                price=req.price if order_type is OrderType.LIMIT else None,
                time_in_force=req.time_in_force if order_type is OrderType.LIMIT else None,
                reduce_only=reduce_only,
                position_side=req.position_side,
                client_order_id=req.client_algo_id or None,
                now_ms=now_ms,
            )
        except VenueReject as rej:
            self._store(replace(order, status=AlgoStatus.REJECTED, update_ms=now_ms, fail_reason=rej.msg))
            return
        finally:
            self._placing = False
        self._store(
            replace(order, status=AlgoStatus.TRIGGERED, update_ms=now_ms, actual_order_id=placed.order_id,
                    actual_type=order_type.value)
        )  # fmt: skip

    def _closable(self, req: AlgoRequest) -> Decimal | None:
        """closePosition: the whole position the order's side closes (SELL closes long, BUY short)."""
        rules = self.venue.rules(req.symbol)
        for p in self.venue.positions(req.symbol):
            if self.venue.dual_side_position and p.position_side is not req.position_side:
                continue
            if (req.side is Side.SELL and p.amount_lots > 0) or (req.side is Side.BUY and p.amount_lots < 0):
                return rules.lots_to_qty(abs(p.amount_lots))
        return None

    def _check_finished(self, order: AlgoOrder) -> None:
        placed = self.venue.get_order(
            symbol=order.symbol, order_id=order.actual_order_id, client_order_id=None
        )
        if placed.is_open:
            return
        rules = self.venue.rules(order.symbol)
        self._store(replace(order, status=AlgoStatus.FINISHED, update_ms=placed.update_time_ms,
                            executed_qty=rules.lots_to_qty(placed.executed_lots),
                            avg_price=placed.avg_price))  # fmt: skip


def _crossed(kind: AlgoKind, side: Side, trigger: Decimal, price: Decimal) -> bool:
    """STOP kinds: BUY once the price rises to the trigger, SELL once it falls to it; TAKE_PROFIT
    the reverse."""
    rising = (side is Side.BUY) == (kind in _STOP_KINDS)
    return price >= trigger if rising else price <= trigger
