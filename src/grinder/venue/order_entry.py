"""Order entry: new, modify and cancel requests (wire-level Decimal inputs with Binance's checks, or
the integer fast path), batches, order-latency delays, and the stateful checks at the matching
engine before an order is accepted, taken, rested or expired."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from grinder.core.commands import AmendOrder, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.errors import MSG_NO_SUCH_ORDER, MSG_UNKNOWN_ORDER, ErrorCode
from grinder.core.ids import is_valid_client_order_id
from grinder.core.rules import OrderRuleError
from grinder.venue import errors as E
from grinder.venue.book import MarketState, market_of
from grinder.venue.config import VenueConfig
from grinder.venue.errors import VenueReject
from grinder.venue.matching import Matcher
from grinder.venue.orders import (
    CID_ALPHABET,
    ER_FOK,
    ER_GTX,
    ER_IOC,
    ER_MARKET,
    MAX_MODIFY,
    Order,
    hedge_close,
    order_view,
    track_im,
)
from grinder.venue.scheduling import Scheduler
from grinder.venue.views import OrderView

# A delayed order refused at the matching engine for FOK / GTX expires (with this `er`) rather than rejects.
_LATE_EXPIRY_REASONS: dict[int, int] = {
    ErrorCode.FOK_ORDER_REJECT: ER_FOK,
    ErrorCode.GTX_ORDER_REJECT: ER_GTX,
}
LateReject = tuple[int, str, int, VenueReject]  # (time, symbol, order id, reject)


class OrderEntry:
    """The order API of the venue; `late_rejects` collects refusals of latency-delayed commands."""

    def __init__(self, config: VenueConfig, matcher: Matcher, sched: Scheduler) -> None:
        # The matcher books fills into the ledger and the user stream; the scheduler knows the markets.
        self.config, self.matcher, self.sched = config, matcher, sched
        self.ledger, self.events, self.markets = matcher.ledger, matcher.events, sched.markets
        self._rng = random.Random(config.seed)  # auto-generated client order ids
        self.late_rejects: list[LateReject] = []

    def _market(self, symbol: str) -> MarketState:
        return market_of(self.markets, symbol)

    def new_order(
        self,
        *,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal | None,
        price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        reduce_only: bool = False,
        position_side: PositionSide = PositionSide.BOTH,
        client_order_id: str | None = None,
        now_ms: int,
    ) -> OrderView:
        """`POST /fapi/v1/order` with Binance's parameter, precision and filter checks (in that order)."""
        m = self._market(symbol)
        if reduce_only and self.ledger.dual:
            raise E.not_required("reduceOnly")
        if quantity is None:
            raise E.mandatory("quantity")
        if order_type is OrderType.LIMIT:
            if time_in_force is None:
                raise E.mandatory("timeInForce")
            if price is None:
                raise E.mandatory("price")
        elif price is not None:
            raise E.not_required("price")
        rules = m.rules
        with E.order_rules_checked():
            rules.validate_order(
                side,
                order_type,
                quantity,
                price,
                mark_price=self.ledger.mark(m),
                reduce_only=reduce_only or hedge_close(side, position_side),
            )
            lots = rules.qty_to_lots(quantity)
            ticks = rules.price_to_ticks(price) if price is not None else 0
        tif = (
            time_in_force if order_type is OrderType.LIMIT and time_in_force is not None else TimeInForce.GTC
        )
        return self._submit(
            m,
            side,
            order_type,
            tif,
            ticks,
            lots,
            reduce_only,
            position_side,
            client_order_id,
            now_ms,
            validated=True,
        )

    def place(self, cmd: PlaceOrder, now_ms: int) -> OrderView:
        """Integer fast path of `new_order` (same checks and codes; prices/quantities already on the grid)."""
        m = self._market(cmd.symbol)
        if cmd.order_type is OrderType.LIMIT:
            if cmd.price_ticks is None:
                raise E.mandatory("price")
            if cmd.time_in_force is None:
                raise E.mandatory("timeInForce")
            tif = cmd.time_in_force
            ticks = cmd.price_ticks
        else:
            if cmd.price_ticks is not None:
                raise E.not_required("price")
            tif = TimeInForce.GTC
            ticks = 0
        return self._submit(
            m,
            cmd.side,
            cmd.order_type,
            tif,
            ticks,
            cmd.qty_lots,
            cmd.reduce_only,
            cmd.position_side,
            cmd.client_order_id or None,
            now_ms,
            validated=False,
        )

    def place_batch(self, cmds: Sequence[PlaceOrder], now_ms: int) -> list[OrderView | VenueReject]:
        """`POST /fapi/v1/batchOrders`: at most 5; each item is an order or its own rejection."""
        check_batch(len(cmds), 5, "batchOrders")
        out: list[OrderView | VenueReject] = []
        for cmd in cmds:
            try:
                out.append(self.place(cmd, now_ms))
            except VenueReject as rej:
                out.append(rej)
        return out

    def new_order_batch(
        self, orders: Sequence[Mapping[str, Any]], now_ms: int
    ) -> list[OrderView | VenueReject]:
        """Wire-level batch: each mapping holds `new_order` keyword arguments (without now_ms)."""
        check_batch(len(orders), 5, "batchOrders")
        out: list[OrderView | VenueReject] = []
        for kwargs in orders:
            try:
                out.append(self.new_order(**kwargs, now_ms=now_ms))
            except VenueReject as rej:
                out.append(rej)
        return out

    def _validate_ints(
        self, m: MarketState, side: Side, otype: OrderType, ticks: int, lots: int, reduce_only: bool
    ) -> None:
        """Filter checks on integers; anything not obviously fine is re-checked by SymbolRules.validate_order
        so the error code and message are Binance's."""
        mark = self.ledger.mark(m)
        if (
            otype is OrderType.LIMIT
            and m.fast_ok
            and lots >= m.min_lots
            and (m.max_lots == 0 or lots <= m.max_lots)
        ):
            ok = ticks >= max(1, m.min_price_t) and (m.max_price_t == 0 or ticks <= m.max_price_t)
            ok = ok and (reduce_only or ticks * lots >= m.rules.min_notional_units)
            if ok and mark is not None:
                r = m.rules
                if side is Side.BUY and r.multiplier_up > 0:
                    ok = ticks <= int((mark * r.multiplier_up / r.tick_size).to_integral_value(ROUND_FLOOR))
                elif side is Side.SELL and r.multiplier_down > 0:
                    ok = ticks >= int(
                        (mark * r.multiplier_down / r.tick_size).to_integral_value(ROUND_CEILING)
                    )
            if ok:
                return
        try:
            m.rules.validate_ticks(
                side,
                otype,
                lots,
                ticks if otype is OrderType.LIMIT else None,
                mark_price=mark,
                reduce_only=reduce_only,
            )
        except OrderRuleError as exc:
            raise VenueReject(exc.code, exc.msg) from None

    # ---------------------------------------------------------------- placement
    def _submit(
        self,
        m: MarketState,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        ticks: int,
        lots: int,
        reduce_only: bool,
        pside: PositionSide,
        cid: str | None,
        now_ms: int,
        *,
        validated: bool,
    ) -> OrderView:
        if now_ms >= self.sched.next_due_ms:
            self.sched.run_due(now_ms)
        if reduce_only and self.ledger.dual:
            raise E.not_required("reduceOnly")
        if cid is None:
            cid = "".join(self._rng.choice(CID_ALPHABET) for _ in range(22))
        elif not is_valid_client_order_id(cid):
            raise VenueReject(ErrorCode.INVALID_CLIENT_ORDER_ID, E.MSG_BAD_CID)
        if not validated:
            self._validate_ints(m, side, otype, ticks, lots, reduce_only or hedge_close(side, pside))
        self._check_position_mode(pside, reduce_only)
        o = Order(
            m.next_order_id, m.rules.symbol, cid, side, otype, tif, ticks, lots, reduce_only, pside, now_ms
        )
        latency = self.config.order_latency_ms
        if latency > 0:
            m.next_order_id += 1
            self.sched.schedule(now_ms + latency, lambda at: self._arrive(m, o, at))
            return order_view(o, m)
        self._accept(m, o, now_ms)
        return order_view(o, m)

    def _arrive(self, m: MarketState, o: Order, at: int) -> None:
        o.time_ms = o.update_ms = at
        try:
            self._accept(m, o, at, order_id_assigned=True)
        except VenueReject as rej:
            o.status = OrderStatus.EXPIRED if rej.code in _LATE_EXPIRY_REASONS else OrderStatus.REJECTED
            o.expiry_reason = _LATE_EXPIRY_REASONS.get(rej.code, 0)
            m.orders[o.order_id] = o
            m.orders_by_cid[o.cid] = o
            self.late_rejects.append((at, o.symbol, o.order_id, rej))
            self.events.emit_order(o, ExecutionType.EXPIRED, at)

    def _check_position_mode(self, pside: PositionSide, reduce_only: bool) -> None:
        if self.ledger.dual:
            if pside is PositionSide.BOTH:
                raise VenueReject(ErrorCode.POSITION_SIDE_NOT_MATCH, E.MSG_POSITION_SIDE)
            if reduce_only:
                raise E.not_required("reduceOnly")
        elif pside is not PositionSide.BOTH:
            raise VenueReject(ErrorCode.POSITION_SIDE_NOT_MATCH, E.MSG_POSITION_SIDE)

    def _accept(self, m: MarketState, o: Order, now_ms: int, *, order_id_assigned: bool = False) -> None:
        """Stateful checks at the matching engine, then NEW, taker fills, and rest / expire by TIF."""
        if o.cid in m.open_by_cid:
            raise VenueReject(ErrorCode.DUPLICATED_CLIENT_ORDER_ID, E.MSG_DUPLICATE_CID)
        if len(m.open_by_cid) >= m.rules.max_num_orders:
            raise VenueReject(ErrorCode.MAX_OPEN_ORDER_EXCEEDED, E.MSG_MAX_ORDERS)
        if o.closing and self.ledger.position(o.symbol, o.pside).closable_lots(o.sign) == 0:
            raise VenueReject(ErrorCode.REDUCE_ONLY_REJECT, E.MSG_REDUCE_ONLY)
        crosses = self.matcher.crosses(m, o)
        if o.tif is TimeInForce.GTX and crosses:
            raise VenueReject(ErrorCode.GTX_ORDER_REJECT, E.MSG_GTX)
        if o.tif is TimeInForce.FOK and (not crosses or self.matcher.fillable(m, o) < o.orig):
            raise VenueReject(ErrorCode.FOK_ORDER_REJECT, E.MSG_FOK)
        if o.otype is OrderType.MARKET and m.has_quote:
            mark = self.ledger.mark(m)
            if mark is not None:
                best = m.ask if o.side is Side.BUY else m.bid
                try:
                    m.rules.check_market_percent_price(o.side, m.rules.ticks_to_price(best), mark)
                except OrderRuleError as exc:
                    raise VenueReject(exc.code, exc.msg) from None
        self.ledger.check_margin(m, o)
        if not order_id_assigned:
            o.order_id = m.next_order_id
            m.next_order_id += 1
        m.orders[o.order_id] = o
        m.orders_by_cid[o.cid] = o
        m.open_by_cid[o.cid] = o
        track_im(m, o, 1)
        self.events.emit_order(o, ExecutionType.NEW, now_ms)
        if crosses:
            self.matcher.take(m, o, now_ms)
        if not o.status.is_open:
            return
        if o.otype is OrderType.MARKET:
            self.matcher.expire(m, o, ER_MARKET, now_ms)
        elif o.tif is TimeInForce.IOC or o.tif is TimeInForce.FOK:
            self.matcher.expire(m, o, ER_IOC, now_ms)
        else:
            self.matcher.rest(m, o)

    def modify_order(
        self,
        *,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        order_id: int | None = None,
        client_order_id: str | None = None,
        now_ms: int,
    ) -> OrderView:
        """`PUT /fapi/v1/order`: new price/quantity for a resting LIMIT order (loses queue priority)."""
        m = self._market(symbol)
        o = self._find(m, order_id, client_order_id, ErrorCode.NO_SUCH_ORDER, MSG_NO_SUCH_ORDER)
        with E.order_rules_checked():
            m.rules.validate_order(
                side, OrderType.LIMIT, quantity, price, mark_price=self.ledger.mark(m), reduce_only=True
            )
            ticks, lots = m.rules.price_to_ticks(price), m.rules.qty_to_lots(quantity)
        return self._amend(m, o, side, ticks, lots, now_ms, validated=True)

    def amend(self, cmd: AmendOrder, now_ms: int) -> OrderView:
        """Integer fast path of `modify_order`, by client order id."""
        m = self._market(cmd.symbol)
        o = self._find(m, None, cmd.client_order_id, ErrorCode.NO_SUCH_ORDER, MSG_NO_SUCH_ORDER)
        return self._amend(m, o, cmd.side, cmd.price_ticks, cmd.qty_lots, now_ms, validated=False)

    def _amend(
        self, m: MarketState, o: Order, side: Side, ticks: int, lots: int, now_ms: int, *, validated: bool
    ) -> OrderView:
        if now_ms >= self.sched.next_due_ms:
            self.sched.run_due(now_ms)
        if o.otype is not OrderType.LIMIT:
            raise VenueReject(ErrorCode.MODIFY_LIMIT_ONLY, E.MSG_MODIFY_LIMIT_ONLY)
        if side is not o.side:
            raise VenueReject(
                ErrorCode.NEW_ORDER_REJECTED,
                f"NEW_ORDER_REJECTED: side {side.value} does not match the order's side",
            )
        if not validated:
            self._validate_ints(m, side, OrderType.LIMIT, ticks, lots, True)
        latency = self.config.order_latency_ms
        if latency > 0:
            self.sched.schedule(
                now_ms + latency,
                lambda at: self._late(m, o, at, lambda: self._do_amend(m, o, ticks, lots, at)),
            )
            return order_view(o, m)
        self._do_amend(m, o, ticks, lots, now_ms)
        return order_view(o, m)

    def _do_amend(self, m: MarketState, o: Order, ticks: int, lots: int, now_ms: int) -> None:
        if not o.status.is_open:
            raise VenueReject(ErrorCode.NO_SUCH_ORDER, MSG_NO_SUCH_ORDER)
        if o.modify_count >= MAX_MODIFY:
            raise VenueReject(ErrorCode.MODIFY_TOO_MANY, E.MSG_MODIFY_TOO_MANY)
        if ticks == o.price and lots == o.orig:
            raise VenueReject(ErrorCode.MODIFY_NO_CHANGE, E.MSG_MODIFY_NO_CHANGE)
        crosses = m.has_quote and (ticks >= m.ask if o.side is Side.BUY else ticks <= m.bid)
        if (o.executed > 0 and lots <= o.executed) or (o.tif is TimeInForce.GTX and crosses):
            self.matcher.cancel(m, o, now_ms)
            return
        old_price, old_orig = o.price, o.orig
        before = self.ledger.open_order_im(m)
        tracked = m.open_by_cid.get(o.cid) is o
        if tracked:
            track_im(m, o, -1)
        o.price, o.orig = ticks, lots
        if tracked:
            track_im(m, o, 1)
        try:
            self.ledger.check_margin(m, o, before=before)
        except VenueReject:
            if tracked:
                track_im(m, o, -1)
            o.price, o.orig = old_price, old_orig
            if tracked:
                track_im(m, o, 1)
            raise
        self.matcher.unrest(m, o)
        m.open_by_cid[o.cid] = o
        track_im(m, o, 1)
        o.modify_count += 1
        o.update_ms = now_ms
        self.events.emit_order(o, ExecutionType.AMENDMENT, now_ms)
        if crosses:
            self.matcher.take(m, o, now_ms)
        if o.status.is_open:
            self.matcher.rest(m, o)

    def cancel_order(
        self, *, symbol: str, order_id: int | None = None, client_order_id: str | None = None, now_ms: int
    ) -> OrderView:
        """`DELETE /fapi/v1/order`: -2011 when the order is unknown or no longer open."""
        m = self._market(symbol)
        if now_ms >= self.sched.next_due_ms:
            self.sched.run_due(now_ms)
        o = self._find(m, order_id, client_order_id, ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
        if not o.status.is_open:
            raise VenueReject(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
        latency = self.config.order_latency_ms
        if latency > 0:
            self.sched.schedule(
                now_ms + latency, lambda at: self._late(m, o, at, lambda: self._cancel_open(m, o, at))
            )
            return order_view(o, m)
        self.matcher.cancel(m, o, now_ms)
        return order_view(o, m)

    def cancel_batch(
        self,
        symbol: str,
        *,
        order_ids: Sequence[int] = (),
        client_order_ids: Sequence[str] = (),
        now_ms: int,
    ) -> list[OrderView | VenueReject]:
        """`DELETE /fapi/v1/batchOrders`: at most 10 ids; each item an order or its own rejection."""
        keys: list[tuple[int | None, str | None]] = [(i, None) for i in order_ids]
        keys += [(None, c) for c in client_order_ids]
        check_batch(len(keys), 10, "orderIdList")
        out: list[OrderView | VenueReject] = []
        for oid, cid in keys:
            try:
                out.append(self.cancel_order(symbol=symbol, order_id=oid, client_order_id=cid, now_ms=now_ms))
            except VenueReject as rej:
                out.append(rej)
        return out

    def cancel_all(self, symbol: str, now_ms: int) -> list[OrderView]:
        """`DELETE /fapi/v1/allOpenOrders`: cancels every open order of the symbol (oldest first)."""
        m = self._market(symbol)
        if now_ms >= self.sched.next_due_ms:
            self.sched.run_due(now_ms)
        victims = sorted(m.open_by_cid.values(), key=lambda o: o.order_id)
        latency = self.config.order_latency_ms
        out = []
        for o in victims:
            if latency > 0:
                self.sched.schedule(now_ms + latency, functools.partial(self._late_cancel, m, o))
            else:
                self.matcher.cancel(m, o, now_ms)
            out.append(order_view(o, m))
        return out

    def _late_cancel(self, m: MarketState, o: Order, at: int) -> None:
        self._late(m, o, at, lambda: self._cancel_open(m, o, at))

    def _cancel_open(self, m: MarketState, o: Order, at: int) -> None:
        if not o.status.is_open:
            raise VenueReject(ErrorCode.CANCEL_REJECTED, MSG_UNKNOWN_ORDER)
        self.matcher.cancel(m, o, at)

    def _late(self, m: MarketState, o: Order, at: int, action: Callable[[], None]) -> None:
        try:
            action()
        except VenueReject as rej:
            self.late_rejects.append((at, o.symbol, o.order_id, rej))

    def get_order(
        self, *, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> OrderView:
        """`GET /fapi/v1/order` (finished orders included); -2013 when unknown."""
        m = self._market(symbol)
        return order_view(
            self._find(m, order_id, client_order_id, ErrorCode.NO_SUCH_ORDER, MSG_NO_SUCH_ORDER), m
        )

    def _find(self, m: MarketState, order_id: int | None, cid: str | None, code: int, msg: str) -> Order:
        if order_id is not None:
            o = m.orders.get(order_id)
        elif cid is not None:
            o = m.orders_by_cid.get(cid)
        else:
            raise VenueReject(
                ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Either orderId or origClientOrderId must be sent.",
            )
        if o is None:
            raise VenueReject(code, msg)
        return o


def check_batch(n: int, limit: int, name: str) -> None:
    if n == 0 or n > limit:
        raise VenueReject(
            ErrorCode.INVALID_PARAMETER,
            f"Data sent for parameter '{name}' is not valid: send 1 to {limit} items (got {n}).",
        )
