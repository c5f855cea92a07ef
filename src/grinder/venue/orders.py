"""Our orders inside the venue: the mutable `Order`, how it is shown (`OrderView` to queries, the
ORDER_TRADE_UPDATE event to the user stream), and order-level helpers (average price, open-order
margin bookkeeping, expiry reasons)."""

from __future__ import annotations

import string
from decimal import Decimal
from typing import TYPE_CHECKING

from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import OrderUpdate
from grinder.core.rules import SymbolRules
from grinder.venue.account import ZERO, money
from grinder.venue.views import OrderView

if TYPE_CHECKING:
    from grinder.venue.book import MarketState

CID_ALPHABET = string.ascii_letters + string.digits
MAX_MODIFY = 10_000

# Expiry reasons (`er`, protocol sheet §4.1).
ER_IOC = 2
ER_REDUCE_ONLY = 4
ER_MARKET = 9
ER_FOK = 10
ER_GTX = 11


class Order:
    """A live or finished order of ours (mutable inside the venue; handed out as `OrderView`)."""

    __slots__ = (
        "ahead",
        "cid",
        "closing",
        "executed",
        "expiry_reason",
        "level_lots",
        "modify_count",
        "order_id",
        "orig",
        "otype",
        "price",
        "priority",
        "pside",
        "quote_units",
        "reduce_only",
        "side",
        "sign",
        "status",
        "sweep",
        "symbol",
        "tif",
        "time_ms",
        "traded_at_level",
        "update_ms",
    )

    def __init__(
        self,
        order_id: int,
        symbol: str,
        cid: str,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        price: int,
        qty: int,
        reduce_only: bool,
        pside: PositionSide,
        now_ms: int,
    ) -> None:
        self.order_id = order_id
        self.symbol = symbol
        self.cid = cid
        self.side = side
        self.sign = side.sign
        self.otype = otype
        self.tif = tif
        self.price = price
        self.orig = qty
        self.executed = 0
        self.quote_units = 0  # Σ fill price_ticks × lots
        self.reduce_only = reduce_only
        self.pside = pside
        # Hedge-mode closes (SELL LONG / BUY SHORT) behave like reduce-only orders.
        self.closing = reduce_only or hedge_close(side, pside)
        self.status = OrderStatus.NEW
        self.time_ms = now_ms
        self.update_ms = now_ms
        self.ahead = 0
        self.level_lots = 0
        self.traded_at_level = 0
        self.modify_count = 0
        self.expiry_reason = 0
        self.priority = 0
        self.sweep: tuple[int, int] | None = None  # the taker sweep in progress when it rested

    @property
    def remaining(self) -> int:
        return self.orig - self.executed


def hedge_close(side: Side, pside: PositionSide) -> bool:
    """SELL LONG / BUY SHORT: a hedge-mode close, which behaves like reduce-only (MIN_NOTIONAL exempt)."""
    return (pside is PositionSide.LONG and side is Side.SELL) or (
        pside is PositionSide.SHORT and side is Side.BUY
    )


def track_im(m: MarketState, o: Order, k: int) -> None:
    """Add (k=1) or remove (k=-1) an open order's share of the market's open-order margin sums."""
    if o.otype is not OrderType.LIMIT:
        m.im_other += k
        return
    rem = o.orig - o.executed
    units = o.price * rem
    if o.sign > 0:
        m.im_buy_lots += k * rem
        m.im_buy_units += k * units
    else:
        m.im_sell_lots += k * rem
        m.im_sell_units += k * units
    if not o.closing:
        m.im_open_units += k * units


def order_px(o: Order, m: MarketState) -> int:
    """Price used for an order's margin: its limit, or the touch it would take for MARKET."""
    if o.otype is OrderType.LIMIT:
        return o.price
    return (m.ask if o.side is Side.BUY else m.bid) if m.has_quote else 0


def avg_price(o: Order, rules: SymbolRules) -> Decimal:
    if o.executed == 0:
        return ZERO
    return clean(Decimal(o.quote_units) / o.executed * rules.tick_size)


def clean(value: Decimal) -> Decimal:
    """Money/price for display: at most 8 decimals, no exponent noise."""
    return money(value) if value != 0 else ZERO


def order_view(o: Order, m: MarketState) -> OrderView:
    return OrderView(
        order_id=o.order_id,
        symbol=o.symbol,
        status=o.status,
        client_order_id=o.cid,
        price_ticks=o.price,
        avg_price=avg_price(o, m.rules),
        orig_qty_lots=o.orig,
        executed_lots=o.executed,
        cum_quote=Decimal(o.quote_units) * m.unit,
        time_in_force=o.tif,
        order_type=o.otype,
        reduce_only=o.reduce_only,
        side=o.side,
        position_side=o.pside,
        time_ms=o.time_ms,
        update_time_ms=o.update_ms,
        orig_type=o.otype,
        expiry_reason=o.expiry_reason,
        modify_count=o.modify_count,
    )


def order_update(
    o: Order,
    x: ExecutionType,
    t: int,
    rules: SymbolRules,
    asset: str,
    *,
    expiry_reason: int,
    last_fill_lots: int = 0,
    last_fill_price_ticks: int = 0,
    commission: Decimal = ZERO,
    realized_pnl: Decimal = ZERO,
    is_maker: bool = False,
    trade_id: int = 0,
) -> OrderUpdate:
    """The ORDER_TRADE_UPDATE for `o` as it stands now; fill fields default to "no fill"."""
    return OrderUpdate(
        symbol=o.symbol,
        order_id=o.order_id,
        client_order_id=o.cid,
        side=o.side,
        order_type=o.otype,
        time_in_force=o.tif,
        position_side=o.pside,
        reduce_only=o.reduce_only,
        price_ticks=o.price,
        orig_qty_lots=o.orig,
        execution_type=x,
        status=o.status,
        last_fill_lots=last_fill_lots,
        last_fill_price_ticks=last_fill_price_ticks,
        cum_filled_lots=o.executed,
        avg_price=avg_price(o, rules),
        commission=commission,
        commission_asset=asset,
        realized_pnl=realized_pnl,
        is_maker=is_maker,
        trade_id=trade_id,
        event_time_ms=t,
        transaction_time_ms=t,
        expiry_reason=expiry_reason,
    )
