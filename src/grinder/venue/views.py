"""Read-only snapshots the venue hands out: enough to render Binance's REST order object, userTrades
row, positionRisk row, balance/account and income rows (the simulator formats them for the wire)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from grinder.core.enums import MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce


class OrderView(msgspec.Struct, frozen=True, gc=False):
    """One order as `GET /fapi/v1/order` reports it (prices in ticks, quantities in lots)."""

    order_id: int
    symbol: str
    status: OrderStatus
    client_order_id: str
    price_ticks: int  # 0 for MARKET
    avg_price: Decimal  # 0 until the first fill
    orig_qty_lots: int
    executed_lots: int
    cum_quote: Decimal
    time_in_force: TimeInForce
    order_type: OrderType
    reduce_only: bool
    side: Side
    position_side: PositionSide
    time_ms: int
    update_time_ms: int
    orig_type: OrderType
    close_position: bool = False
    price_match: str = "NONE"
    self_trade_prevention_mode: str = "NONE"
    good_till_date: int = 0
    expiry_reason: int = 0
    modify_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def remaining_lots(self) -> int:
        return self.orig_qty_lots - self.executed_lots


class TradeView(msgspec.Struct, frozen=True, gc=False):
    """One of our executions as `GET /fapi/v1/userTrades` reports it."""

    symbol: str
    trade_id: int
    order_id: int
    side: Side
    position_side: PositionSide
    price_ticks: int
    qty_lots: int
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    is_maker: bool
    is_buyer: bool
    time_ms: int


class PositionView(msgspec.Struct, frozen=True, gc=False):
    """One position as `GET /fapi/v2/positionRisk` / v3 reports it."""

    symbol: str
    position_side: PositionSide
    amount_lots: int  # signed: > 0 long, < 0 short
    entry_price: Decimal
    break_even_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal  # 0 when there is no position or no liquidation risk
    leverage: int
    margin_type: MarginType
    isolated_margin: Decimal  # isolated wallet + unrealized PnL (0 in cross)
    isolated_wallet: Decimal
    notional: Decimal  # signed, at mark
    initial_margin: Decimal
    maint_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    max_notional_value: Decimal
    accumulated_realized: Decimal
    update_time_ms: int


class BalanceView(msgspec.Struct, frozen=True, gc=False):
    """The account's margin asset as `GET /fapi/v2/balance` and `/fapi/v2/account` report it."""

    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    unrealized_pnl: Decimal
    cross_unrealized_pnl: Decimal
    margin_balance: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    update_time_ms: int


class IncomeView(msgspec.Struct, frozen=True, gc=False):
    """One `GET /fapi/v1/income` row: REALIZED_PNL, COMMISSION or FUNDING_FEE."""

    symbol: str
    income_type: str
    income: Decimal
    asset: str
    info: str
    time_ms: int
    tran_id: int
    trade_id: int  # 0 for funding
