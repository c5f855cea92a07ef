"""Immutable market and account events, in GRINDER's integer units (ticks, lots).

Wire parsers (grinder.binance) and the venue model both produce these; strategy, execution and
the journal consume them. Money (balances, fees, PnL, mark price) is Decimal; never float.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce

Level = tuple[int, int]  # (price_ticks, qty_lots); qty 0 removes the level in a diff


class BookTicker(msgspec.Struct, frozen=True, gc=False):
    """Best bid/ask (stream `<s>@bookTicker`); `update_id` shares the depth update-id sequence."""

    symbol: str
    bid_ticks: int
    bid_lots: int
    ask_ticks: int
    ask_lots: int
    update_id: int
    event_time_ms: int
    transaction_time_ms: int


class DepthUpdate(msgspec.Struct, frozen=True, gc=False):
    """A depth diff (`<s>@depth`): absolute quantities per level; U/u/pu chain the sequence."""

    symbol: str
    first_update_id: int  # U
    final_update_id: int  # u
    prev_final_update_id: int  # pu
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time_ms: int
    transaction_time_ms: int


class DepthSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A REST depth snapshot (`GET /fapi/v1/depth`): bids best-first, asks best-first."""

    symbol: str
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time_ms: int
    transaction_time_ms: int


class Trade(msgspec.Struct, frozen=True, gc=False):
    """A public trade (raw `@trade` or `@aggTrade`; for aggTrade `trade_id` is the agg id)."""

    symbol: str
    trade_id: int
    price_ticks: int
    qty_lots: int
    buyer_is_maker: bool  # True: the aggressor sold
    trade_time_ms: int
    event_time_ms: int

    @property
    def aggressor(self) -> Side:
        return Side.SELL if self.buyer_is_maker else Side.BUY


class MarkPrice(msgspec.Struct, frozen=True, gc=False):
    """`markPriceUpdate`: mark and index are off the tick grid, so they stay Decimal."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_time_ms: int
    event_time_ms: int


class OrderUpdate(msgspec.Struct, frozen=True, gc=False):
    """ORDER_TRADE_UPDATE: one change to one of our orders (new, fill, cancel, expiry, amend)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    position_side: PositionSide
    reduce_only: bool
    price_ticks: int  # 0 for MARKET
    orig_qty_lots: int
    execution_type: ExecutionType
    status: OrderStatus
    last_fill_lots: int
    last_fill_price_ticks: int
    cum_filled_lots: int
    avg_price: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    is_maker: bool
    trade_id: int  # 0 when not a trade
    event_time_ms: int
    transaction_time_ms: int
    expiry_reason: int = 0

    @property
    def is_fill(self) -> bool:
        return self.execution_type is ExecutionType.TRADE and self.last_fill_lots > 0


class BalanceChange(msgspec.Struct, frozen=True, gc=False):
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    balance_change: Decimal


class PositionChange(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    position_side: PositionSide
    amount_lots: int  # signed
    entry_price: Decimal
    break_even_price: Decimal
    accumulated_realized: Decimal
    unrealized_pnl: Decimal
    margin_type: str  # "cross" | "isolated", as on the wire
    isolated_wallet: Decimal


class AccountUpdate(msgspec.Struct, frozen=True, gc=False):
    """ACCOUNT_UPDATE: balance/position changes with Binance's reason (`m`)."""

    reason: str
    balances: tuple[BalanceChange, ...]
    positions: tuple[PositionChange, ...]
    event_time_ms: int
    transaction_time_ms: int


class Fill(msgspec.Struct, frozen=True, gc=False):
    """One execution of one of our orders (derived from an OrderUpdate with x=TRADE)."""

    symbol: str
    order_id: int
    client_order_id: str
    trade_id: int
    side: Side
    position_side: PositionSide
    price_ticks: int
    qty_lots: int
    is_maker: bool
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    time_ms: int

    @classmethod
    def from_order_update(cls, ev: OrderUpdate) -> Fill:
        return cls(
            symbol=ev.symbol,
            order_id=ev.order_id,
            client_order_id=ev.client_order_id,
            trade_id=ev.trade_id,
            side=ev.side,
            position_side=ev.position_side,
            price_ticks=ev.last_fill_price_ticks,
            qty_lots=ev.last_fill_lots,
            is_maker=ev.is_maker,
            commission=ev.commission,
            commission_asset=ev.commission_asset,
            realized_pnl=ev.realized_pnl,
            time_ms=ev.transaction_time_ms,
        )


MarketEvent = BookTicker | DepthUpdate | Trade | MarkPrice
UserEvent = OrderUpdate | AccountUpdate
