"""Typed Binance USDⓈ-M wire payloads (msgspec), decoded once at the edge.

Field names are Binance's own (numbers stay strings, as on the wire); helpers convert to GRINDER's
integer ticks/lots given a `SymbolRules`. Stream structs are tagged by the event type `e` so one
decoder handles every message of a connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.rules import SymbolRules

# =====================================================================================  REST


class ServerTime(msgspec.Struct, frozen=True):
    serverTime: int


class RateLimitInfo(msgspec.Struct, frozen=True):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int


class ExchangeInfoResponse(msgspec.Struct, frozen=True):
    symbols: list[dict[str, Any]]
    rateLimits: list[RateLimitInfo] = []
    timezone: str = "UTC"
    serverTime: int = 0


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """exchangeInfo reduced to what GRINDER uses: per-symbol rules and the account's rate limits."""

    rules: dict[str, SymbolRules]
    rate_limits: tuple[RateLimitInfo, ...]
    server_time_ms: int
    skipped: dict[str, str] = field(default_factory=dict)  # symbol → why it has no rules


class DepthSnapshotResponse(msgspec.Struct, frozen=True):
    lastUpdateId: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    E: int = 0
    T: int = 0


class BookTickerRest(msgspec.Struct, frozen=True):
    symbol: str
    bidPrice: str
    bidQty: str
    askPrice: str
    askQty: str
    time: int = 0

    def bid_ticks(self, rules: SymbolRules) -> int:
        return rules.price_to_ticks(self.bidPrice)

    def ask_ticks(self, rules: SymbolRules) -> int:
        return rules.price_to_ticks(self.askPrice)


class PremiumIndex(msgspec.Struct, frozen=True):
    symbol: str
    markPrice: Decimal
    indexPrice: Decimal
    lastFundingRate: Decimal
    nextFundingTime: int
    time: int
    estimatedSettlePrice: Decimal = Decimal(0)
    interestRate: Decimal = Decimal(0)


class OrderResponse(msgspec.Struct, frozen=True):
    """The order object of new/modify/cancel/query/openOrders (protocol sheet §3.3)."""

    orderId: int
    symbol: str
    status: str
    clientOrderId: str
    price: str
    origQty: str
    executedQty: str
    side: str
    type: str
    timeInForce: str = "GTC"
    avgPrice: str = "0"
    cumQty: str = "0"
    cumQuote: str = "0"
    reduceOnly: bool = False
    closePosition: bool = False
    positionSide: str = "BOTH"
    stopPrice: str = "0"
    workingType: str = "CONTRACT_PRICE"
    priceProtect: bool = False
    origType: str = ""
    priceMatch: str = "NONE"
    selfTradePreventionMode: str = "NONE"
    goodTillDate: int = 0
    updateTime: int = 0
    time: int = 0

    def to_status(self) -> OrderStatus:
        return OrderStatus(self.status)

    def to_side(self) -> Side:
        return Side(self.side)

    def to_order_type(self) -> OrderType:
        return OrderType(self.type) if self.type in OrderType.__members__ else OrderType.MARKET

    def to_time_in_force(self) -> TimeInForce:
        return (
            TimeInForce(self.timeInForce) if self.timeInForce in TimeInForce.__members__ else TimeInForce.GTC
        )

    def to_position_side(self) -> PositionSide:
        return PositionSide(self.positionSide)

    def price_ticks(self, rules: SymbolRules) -> int:
        return rules.price_to_ticks(self.price)

    def orig_lots(self, rules: SymbolRules) -> int:
        return rules.qty_to_lots(self.origQty)

    def executed_lots(self, rules: SymbolRules) -> int:
        return rules.qty_to_lots(self.executedQty)

    def remaining_lots(self, rules: SymbolRules) -> int:
        return self.orig_lots(rules) - self.executed_lots(rules)

    def avg_price(self) -> Decimal:
        return Decimal(self.avgPrice)


class CodeMsg(msgspec.Struct, frozen=True):
    """`{"code": 200, "msg": "..."}` success bodies (cancel all, margin type)."""

    code: int = 200
    msg: str = ""


class PositionRisk(msgspec.Struct, frozen=True):
    """`GET /fapi/v2/positionRisk` item (v3 rows decode too; absent fields take defaults)."""

    symbol: str
    positionAmt: str
    entryPrice: str
    markPrice: str
    unRealizedProfit: str
    positionSide: str = "BOTH"
    breakEvenPrice: str = "0"
    liquidationPrice: str = "0"
    leverage: str = "0"
    marginType: str = "cross"
    isolatedMargin: str = "0"
    isolatedWallet: str = "0"
    notional: str = "0"
    maxNotionalValue: str = "0"
    isAutoAddMargin: str = "false"
    updateTime: int = 0

    def amount_lots(self, rules: SymbolRules) -> int:
        """Signed position size in lots."""
        return rules.qty_to_lots(self.positionAmt)

    def to_position_side(self) -> PositionSide:
        return PositionSide(self.positionSide)


class BalanceRow(msgspec.Struct, frozen=True):
    asset: str
    balance: Decimal
    crossWalletBalance: Decimal
    availableBalance: Decimal
    crossUnPnl: Decimal = Decimal(0)
    maxWithdrawAmount: Decimal = Decimal(0)
    marginAvailable: bool = True
    accountAlias: str = ""
    updateTime: int = 0


class AccountAsset(msgspec.Struct, frozen=True):
    asset: str
    walletBalance: Decimal
    unrealizedProfit: Decimal = Decimal(0)
    marginBalance: Decimal = Decimal(0)
    maintMargin: Decimal = Decimal(0)
    initialMargin: Decimal = Decimal(0)
    positionInitialMargin: Decimal = Decimal(0)
    openOrderInitialMargin: Decimal = Decimal(0)
    crossWalletBalance: Decimal = Decimal(0)
    crossUnPnl: Decimal = Decimal(0)
    availableBalance: Decimal = Decimal(0)
    maxWithdrawAmount: Decimal = Decimal(0)
    updateTime: int = 0


class AccountPosition(msgspec.Struct, frozen=True):
    symbol: str
    positionAmt: str
    positionSide: str = "BOTH"
    unrealizedProfit: Decimal = Decimal(0)
    initialMargin: Decimal = Decimal(0)
    maintMargin: Decimal = Decimal(0)
    isolatedMargin: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    isolatedWallet: Decimal = Decimal(0)
    entryPrice: str = "0"
    leverage: str = "0"
    isolated: bool = False
    updateTime: int = 0


class Account(msgspec.Struct, frozen=True):
    """`GET /fapi/v2/account` (v3 decodes too: the flags then take their defaults)."""

    totalWalletBalance: Decimal
    totalUnrealizedProfit: Decimal
    totalMarginBalance: Decimal
    availableBalance: Decimal
    assets: list[AccountAsset]
    positions: list[AccountPosition]
    totalInitialMargin: Decimal = Decimal(0)
    totalMaintMargin: Decimal = Decimal(0)
    totalPositionInitialMargin: Decimal = Decimal(0)
    totalOpenOrderInitialMargin: Decimal = Decimal(0)
    totalCrossWalletBalance: Decimal = Decimal(0)
    totalCrossUnPnl: Decimal = Decimal(0)
    maxWithdrawAmount: Decimal = Decimal(0)
    feeTier: int = 0
    canTrade: bool = True
    multiAssetsMargin: bool = False
    updateTime: int = 0


class UserTrade(msgspec.Struct, frozen=True):
    """`GET /fapi/v1/userTrades` item: one fill of one of our orders."""

    symbol: str
    id: int
    orderId: int
    side: str
    price: str
    qty: str
    realizedPnl: Decimal
    commission: Decimal
    commissionAsset: str
    time: int
    maker: bool
    buyer: bool = False
    positionSide: str = "BOTH"
    quoteQty: str = "0"
    marginAsset: str = ""

    def price_ticks(self, rules: SymbolRules) -> int:
        return rules.price_to_ticks(self.price)

    def qty_lots(self, rules: SymbolRules) -> int:
        return rules.qty_to_lots(self.qty)


class ListenKey(msgspec.Struct, frozen=True):
    listenKey: str = ""


# =====================================================================================  streams
# Tagged by `e`; `forbid_unknown_fields` is off so new Binance fields never break decoding.


class BookTickerMsg(msgspec.Struct, tag_field="e", tag="bookTicker", frozen=True, gc=False):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    T: int = 0
    E: int = 0


class DepthUpdateMsg(msgspec.Struct, tag_field="e", tag="depthUpdate", frozen=True, gc=False):
    E: int
    s: str
    U: int
    u: int
    pu: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    T: int = 0


class TradeMsg(msgspec.Struct, tag_field="e", tag="trade", frozen=True, gc=False):
    E: int
    s: str
    t: int
    p: str
    q: str
    m: bool
    T: int = 0
    X: str = "MARKET"  # MARKET / INSURANCE_FUND / ADL / NA


class AggTradeMsg(msgspec.Struct, tag_field="e", tag="aggTrade", frozen=True, gc=False):
    E: int
    s: str
    a: int
    p: str
    q: str
    m: bool
    T: int = 0
    f: int = 0
    l: int = 0  # noqa: E741 - Binance's field name


class MarkPriceMsg(msgspec.Struct, tag_field="e", tag="markPriceUpdate", frozen=True, gc=False):
    E: int
    s: str
    p: Decimal
    i: Decimal = Decimal(0)
    r: Decimal = Decimal(0)
    T: int = 0


class OrderTradeUpdateBody(msgspec.Struct, frozen=True, gc=False):
    s: str
    c: str
    S: str
    o: str
    q: str
    p: str
    x: str
    X: str
    i: int
    l: str  # noqa: E741 - Binance's field name
    z: str
    L: str
    T: int = 0
    f: str = "GTC"
    ap: str = "0"
    n: str = "0"
    N: str = ""
    t: int = 0
    m: bool = False
    R: bool = False
    ps: str = "BOTH"
    rp: str = "0"
    er: str = "0"


class OrderTradeUpdateMsg(msgspec.Struct, tag_field="e", tag="ORDER_TRADE_UPDATE", frozen=True, gc=False):
    E: int
    o: OrderTradeUpdateBody
    T: int = 0


class BalanceMsg(msgspec.Struct, frozen=True, gc=False):
    a: str
    wb: Decimal
    cw: Decimal = Decimal(0)
    bc: Decimal = Decimal(0)


class PositionMsg(msgspec.Struct, frozen=True, gc=False):
    s: str
    pa: str
    ep: Decimal = Decimal(0)
    bep: Decimal = Decimal(0)
    cr: Decimal = Decimal(0)
    up: Decimal = Decimal(0)
    mt: str = "cross"
    iw: Decimal = Decimal(0)
    ps: str = "BOTH"


class AccountUpdateBody(msgspec.Struct, frozen=True, gc=False):
    m: str
    B: list[BalanceMsg] = []
    P: list[PositionMsg] = []


class AccountUpdateMsg(msgspec.Struct, tag_field="e", tag="ACCOUNT_UPDATE", frozen=True, gc=False):
    E: int
    a: AccountUpdateBody
    T: int = 0


class ListenKeyExpiredMsg(msgspec.Struct, tag_field="e", tag="listenKeyExpired", frozen=True, gc=False):
    E: int | str = 0
    listenKey: str = ""


StreamMsg = (
    BookTickerMsg
    | DepthUpdateMsg
    | TradeMsg
    | AggTradeMsg
    | MarkPriceMsg
    | OrderTradeUpdateMsg
    | AccountUpdateMsg
    | ListenKeyExpiredMsg
)


class CombinedMsg(msgspec.Struct, frozen=True, gc=False):
    """The combined-stream wrapper `{"stream": "<name>", "data": {...}}`."""

    stream: str
    data: StreamMsg


class ListenKeyExpired(msgspec.Struct, frozen=True, gc=False):
    """The user-data stream's `listenKeyExpired` event: the key must be re-created."""

    listen_key: str
    event_time_ms: int


# Events delivered to user-stream consumers, known but not modelled: ignored without a warning.
IGNORED_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "TRADE_LITE",
        "MARGIN_CALL",
        "ACCOUNT_CONFIG_UPDATE",
        "CONDITIONAL_ORDER_TRIGGER_REJECT",
        "ALGO_UPDATE",
        "STRATEGY_UPDATE",
        "GRID_UPDATE",
        "serverShutdown",
        "kline",
        "24hrMiniTicker",
        "24hrTicker",
        "forceOrder",
    }
)
