"""Binance JSON shapes for the simulator: order objects, user-data events, market stream payloads.

Field names, order and string/number choices follow protocol sheet §3.3–§3.6, §4.3–§4.4, §5.2.
Every function takes the symbol's `SymbolRules` to print prices/quantities at its precision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from grinder.core.events import (
    AccountUpdate,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Level,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from grinder.core.rules import SymbolRules
from grinder.sim.ratelimit import RateLimitSpec
from grinder.venue.views import BalanceView, IncomeView, OrderView, PositionView, TradeView

_BALANCE_DP = Decimal("0.00000001")
_ZERO = Decimal(0)
ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]


class WireFormat:
    """Integer-only wire formatting of ticks/lots at the symbol's precision (the hot path of every
    depth level and order field); equal to `SymbolRules.price_str` / `qty_str`, several times faster."""

    __slots__ = ("_p_dp", "_p_scale", "_p_unit", "_q_dp", "_q_scale", "_q_unit", "zero_price", "zero_qty")

    def __init__(self, rules: SymbolRules) -> None:
        self._p_dp = rules.effective_price_precision
        self._q_dp = rules.effective_quantity_precision
        self._p_scale = 10**self._p_dp
        self._q_scale = 10**self._q_dp
        self._p_unit = int(rules.tick_size * self._p_scale)
        self._q_unit = int(rules.step_size * self._q_scale)
        self.zero_price = self.price(0)
        self.zero_qty = self.qty(0)

    @staticmethod
    def _text(value: int, scale: int, dp: int) -> str:
        if value < 0:
            return "-" + WireFormat._text(-value, scale, dp)
        if not dp:
            return str(value)
        digits = str(value).rjust(dp + 1, "0")  # at least one digit before the point
        return digits[:-dp] + "." + digits[-dp:]

    def price(self, ticks: int) -> str:
        return self._text(ticks * self._p_unit, self._p_scale, self._p_dp)

    def qty(self, lots: int) -> str:
        return self._text(lots * self._q_unit, self._q_scale, self._q_dp)


_FORMATS: dict[int, tuple[SymbolRules, WireFormat]] = {}


def wire(rules: SymbolRules) -> WireFormat:
    """The cached `WireFormat` of a rules object."""
    hit = _FORMATS.get(id(rules))
    if hit is None or hit[0] is not rules:
        hit = _FORMATS[id(rules)] = (rules, WireFormat(rules))
    return hit[1]


def dec(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros ('0' for zero)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def money(value: Decimal) -> str:
    """Balances: Binance prints 8 decimals ('10000.00000000')."""
    return format(value.quantize(_BALANCE_DP), "f")


def price_dec(rules: SymbolRules, value: Decimal) -> str:
    """A computed price (average, entry, mark): at least the symbol's precision, more if needed."""
    if not value:
        return wire(rules).price(0)
    quantum = Decimal(1).scaleb(-rules.effective_price_precision)
    if value == value.quantize(quantum):
        return format(value.quantize(quantum), "f")
    return format(value.normalize(), "f")


def levels(rules: SymbolRules, side: Iterable[Level]) -> list[list[str]]:
    f = wire(rules)
    return [[f.price(p), f.qty(q)] for p, q in side]


# ---------------------------------------------------------------------- orders
def order_price(rules: SymbolRules, ticks: int) -> str:
    return wire(rules).price(ticks) if ticks else "0"


def order_object(
    rules: SymbolRules, o: OrderView, *, query: bool = False, ack: bool = False
) -> dict[str, Any]:
    """The REST order object; `query` adds `time` and drops `cumQty`; `ack` reports the NEW state.

    On every order answer: zero amounts use the format's cached texts and enums their `_value_`
    (the plain attribute behind `.value`)."""
    f = wire(rules)
    zero_price = f.zero_price
    if ack:
        status, executed, avg, cum_quote = "NEW", f.zero_qty, zero_price, zero_price
    else:
        status = o.status._value_
        executed = f.qty(o.executed_lots) if o.executed_lots else f.zero_qty
        avg = price_dec(rules, o.avg_price) if o.avg_price else zero_price
        cum_quote = price_dec(rules, o.cum_quote) if o.cum_quote else zero_price
    out: dict[str, Any] = {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": status,
        "clientOrderId": o.client_order_id,
        "price": f.price(o.price_ticks) if o.price_ticks else "0",
        "avgPrice": avg,
        "origQty": f.qty(o.orig_qty_lots),
        "executedQty": executed,
    }
    if not query:
        out["cumQty"] = executed
    out["cumQuote"] = cum_quote
    out["timeInForce"] = o.time_in_force._value_
    out["type"] = o.order_type._value_
    out["reduceOnly"] = o.reduce_only
    out["closePosition"] = o.close_position
    out["side"] = o.side._value_
    out["positionSide"] = o.position_side._value_
    out["stopPrice"] = "0"
    out["workingType"] = "CONTRACT_PRICE"
    out["priceProtect"] = False
    out["origType"] = o.orig_type._value_
    out["priceMatch"] = o.price_match
    out["selfTradePreventionMode"] = o.self_trade_prevention_mode
    out["goodTillDate"] = o.good_till_date
    if query:
        out["time"] = o.time_ms
    out["updateTime"] = o.time_ms if ack else o.update_time_ms
    return out


def user_trade(rules: SymbolRules, t: TradeView) -> dict[str, Any]:
    return {
        "buyer": t.is_buyer,
        "commission": dec(t.commission),
        "commissionAsset": t.commission_asset,
        "id": t.trade_id,
        "maker": t.is_maker,
        "orderId": t.order_id,
        "price": rules.price_str(t.price_ticks),
        "qty": rules.qty_str(t.qty_lots),
        "quoteQty": dec(t.quote_qty),
        "realizedPnl": dec(t.realized_pnl),
        "side": t.side.value,
        "positionSide": t.position_side.value,
        "symbol": t.symbol,
        "time": t.time_ms,
        "baseQty": rules.qty_str(t.qty_lots),
        "marginAsset": rules.margin_asset,
        "pair": t.symbol,
    }


# ---------------------------------------------------------------------- account
def position_v2(rules: SymbolRules, p: PositionView) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "positionAmt": _signed_qty(rules, p.amount_lots),
        "entryPrice": price_dec(rules, p.entry_price),
        "breakEvenPrice": price_dec(rules, p.break_even_price),
        "markPrice": dec(p.mark_price),
        "unRealizedProfit": money(p.unrealized_pnl),
        "liquidationPrice": dec(p.liquidation_price),
        "leverage": str(p.leverage),
        "maxNotionalValue": dec(p.max_notional_value),
        "marginType": "isolated" if p.margin_type.value == "ISOLATED" else "cross",
        "isolatedMargin": money(p.isolated_margin),
        "isAutoAddMargin": "false",
        "positionSide": p.position_side.value,
        "notional": dec(p.notional),
        "isolatedWallet": dec(p.isolated_wallet),
        "updateTime": p.update_time_ms,
    }


def position_v3(
    rules: SymbolRules, p: PositionView, bid_notional: Decimal, ask_notional: Decimal
) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "positionSide": p.position_side.value,
        "positionAmt": _signed_qty(rules, p.amount_lots),
        "entryPrice": price_dec(rules, p.entry_price),
        "breakEvenPrice": price_dec(rules, p.break_even_price),
        "markPrice": dec(p.mark_price),
        "unRealizedProfit": money(p.unrealized_pnl),
        "liquidationPrice": dec(p.liquidation_price),
        "isolatedMargin": money(p.isolated_margin),
        "notional": dec(p.notional),
        "marginAsset": rules.margin_asset,
        "isolatedWallet": dec(p.isolated_wallet),
        "initialMargin": dec(p.initial_margin),
        "maintMargin": dec(p.maint_margin),
        "positionInitialMargin": dec(p.position_initial_margin),
        "openOrderInitialMargin": dec(p.open_order_initial_margin),
        "adl": 0,
        "bidNotional": dec(bid_notional),
        "askNotional": dec(ask_notional),
        "updateTime": p.update_time_ms,
    }


def _signed_qty(rules: SymbolRules, lots: int) -> str:
    text = rules.qty_str(abs(lots))
    return f"-{text}" if lots < 0 else text


def balance_row(b: BalanceView, created_ms: int, account_alias: str = "SgsR") -> dict[str, Any]:
    return {
        "accountAlias": account_alias,
        "asset": b.asset,
        "balance": money(b.wallet_balance),
        "crossWalletBalance": money(b.cross_wallet_balance),
        "crossUnPnl": money(b.cross_unrealized_pnl),
        "availableBalance": money(b.available_balance),
        "maxWithdrawAmount": money(b.max_withdraw_amount),
        "marginAvailable": True,
        "updateTime": b.update_time_ms or created_ms,
    }


def account_asset(b: BalanceView, created_ms: int, *, v3: bool) -> dict[str, Any]:
    """One `assets[]` row; a funded asset never reports updateTime 0 (clients skip such rows)."""
    out: dict[str, Any] = {
        "asset": b.asset,
        "walletBalance": money(b.wallet_balance),
        "unrealizedProfit": money(b.unrealized_pnl),
        "marginBalance": money(b.margin_balance),
        "maintMargin": money(b.maint_margin),
        "initialMargin": money(b.initial_margin),
        "positionInitialMargin": money(b.position_initial_margin),
        "openOrderInitialMargin": money(b.open_order_initial_margin),
        "crossWalletBalance": money(b.cross_wallet_balance),
        "crossUnPnl": money(b.cross_unrealized_pnl),
        "availableBalance": money(b.available_balance),
        "maxWithdrawAmount": money(b.max_withdraw_amount),
    }
    if not v3:
        out["marginAvailable"] = True
    out["updateTime"] = b.update_time_ms or created_ms
    return out


def account_totals(b: BalanceView) -> dict[str, Any]:
    return {
        "totalInitialMargin": money(b.initial_margin),
        "totalMaintMargin": money(b.maint_margin),
        "totalWalletBalance": money(b.wallet_balance),
        "totalUnrealizedProfit": money(b.unrealized_pnl),
        "totalMarginBalance": money(b.margin_balance),
        "totalPositionInitialMargin": money(b.position_initial_margin),
        "totalOpenOrderInitialMargin": money(b.open_order_initial_margin),
        "totalCrossWalletBalance": money(b.cross_wallet_balance),
        "totalCrossUnPnl": money(b.cross_unrealized_pnl),
        "availableBalance": money(b.available_balance),
        "maxWithdrawAmount": money(b.max_withdraw_amount),
    }


def income_row(i: IncomeView) -> dict[str, Any]:
    return {
        "symbol": i.symbol,
        "incomeType": i.income_type,
        "income": dec(i.income),
        "asset": i.asset,
        "info": i.info,
        "time": i.time_ms,
        "tranId": i.tran_id,
        "tradeId": str(i.trade_id) if i.trade_id else "",
    }


# ---------------------------------------------------------------------- user-data events
def order_trade_update(
    rules: SymbolRules, ev: OrderUpdate, bid_notional: Decimal, ask_notional: Decimal
) -> dict[str, Any]:
    o: dict[str, Any] = {
        "s": ev.symbol,
        "c": ev.client_order_id,
        "S": ev.side.value,
        "o": ev.order_type.value,
        "f": ev.time_in_force.value,
        "q": rules.qty_str(ev.orig_qty_lots),
        "p": order_price(rules, ev.price_ticks),
        "ap": price_dec(rules, ev.avg_price),
        "sp": "0",
        "x": ev.execution_type.value,
        "X": ev.status.value,
        "i": ev.order_id,
        "l": rules.qty_str(ev.last_fill_lots),
        "z": rules.qty_str(ev.cum_filled_lots),
        "L": order_price(rules, ev.last_fill_price_ticks),
    }
    if ev.commission_asset:
        o["N"] = ev.commission_asset
    o.update(
        {
            "n": dec(ev.commission),
            "T": ev.transaction_time_ms,
            "t": ev.trade_id,
            "b": dec(bid_notional),
            "a": dec(ask_notional),
            "m": ev.is_maker,
            "R": ev.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": ev.order_type.value,
            "ps": ev.position_side.value,
            "cp": False,
            "rp": dec(ev.realized_pnl),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
            "er": str(ev.expiry_reason),
        }
    )
    return {"e": "ORDER_TRADE_UPDATE", "E": ev.event_time_ms, "T": ev.transaction_time_ms, "o": o}


def account_update(rules_of: dict[str, SymbolRules], ev: AccountUpdate) -> dict[str, Any]:
    positions = []
    for p in ev.positions:
        r = rules_of[p.symbol]
        positions.append(
            {
                "s": p.symbol,
                "pa": _signed_qty(r, p.amount_lots),
                "ep": price_dec(r, p.entry_price),
                "bep": price_dec(r, p.break_even_price),
                "cr": dec(p.accumulated_realized),
                "up": dec(p.unrealized_pnl),
                "mt": p.margin_type,
                "iw": dec(p.isolated_wallet),
                "ps": p.position_side.value,
            }
        )
    balances = [
        {
            "a": b.asset,
            "wb": dec(b.wallet_balance),
            "cw": dec(b.cross_wallet_balance),
            "bc": dec(b.balance_change),
        }
        for b in ev.balances
    ]
    return {
        "e": "ACCOUNT_UPDATE",
        "E": ev.event_time_ms,
        "T": ev.transaction_time_ms,
        "a": {"m": ev.reason, "B": balances, "P": positions},
    }


# ---------------------------------------------------------------------- market data
def rest_depth(rules: SymbolRules, snap: DepthSnapshot) -> dict[str, Any]:
    return {
        "lastUpdateId": snap.last_update_id,
        "E": snap.event_time_ms,
        "T": snap.transaction_time_ms,
        "bids": levels(rules, snap.bids),
        "asks": levels(rules, snap.asks),
    }


def rest_book_ticker(rules: SymbolRules, t: BookTicker) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "bidPrice": rules.price_str(t.bid_ticks),
        "bidQty": rules.qty_str(t.bid_lots),
        "askPrice": rules.price_str(t.ask_ticks),
        "askQty": rules.qty_str(t.ask_lots),
        "time": t.transaction_time_ms,
        "lastUpdateId": t.update_id,
    }


def ws_book_ticker(rules: SymbolRules, t: BookTicker) -> dict[str, Any]:
    f = wire(rules)
    return {
        "e": "bookTicker",
        "u": t.update_id,
        "s": t.symbol,
        "b": f.price(t.bid_ticks),
        "B": f.qty(t.bid_lots),
        "a": f.price(t.ask_ticks),
        "A": f.qty(t.ask_lots),
        "T": t.transaction_time_ms,
        "E": t.event_time_ms,
    }


def ws_depth(rules: SymbolRules, d: DepthUpdate) -> dict[str, Any]:
    return {
        "e": "depthUpdate",
        "E": d.event_time_ms,
        "T": d.transaction_time_ms,
        "s": d.symbol,
        "U": d.first_update_id,
        "u": d.final_update_id,
        "pu": d.prev_final_update_id,
        "b": levels(rules, d.bids),
        "a": levels(rules, d.asks),
    }


def ws_agg_trade(rules: SymbolRules, t: Trade) -> dict[str, Any]:
    qty = rules.qty_str(t.qty_lots)
    return {
        "e": "aggTrade",
        "E": t.event_time_ms,
        "a": t.trade_id,
        "s": t.symbol,
        "p": rules.price_str(t.price_ticks),
        "q": qty,
        "nq": qty,
        "f": t.trade_id,
        "l": t.trade_id,
        "T": t.trade_time_ms,
        "m": t.buyer_is_maker,
    }


def ws_trade(rules: SymbolRules, t: Trade) -> dict[str, Any]:
    return {
        "e": "trade",
        "E": t.event_time_ms,
        "T": t.trade_time_ms,
        "s": t.symbol,
        "t": t.trade_id,
        "p": rules.price_str(t.price_ticks),
        "q": rules.qty_str(t.qty_lots),
        "X": "MARKET",
        "m": t.buyer_is_maker,
    }


def ws_mark_price(m: MarkPrice) -> dict[str, Any]:
    return {
        "e": "markPriceUpdate",
        "E": m.event_time_ms,
        "s": m.symbol,
        "p": dec(m.mark_price),
        "P": dec(m.index_price),
        "i": dec(m.index_price),
        "r": dec(m.funding_rate),
        "T": m.next_funding_time_ms,
    }


def premium_index(m: MarkPrice, now_ms: int) -> dict[str, Any]:
    return {
        "symbol": m.symbol,
        "markPrice": dec(m.mark_price),
        "indexPrice": dec(m.index_price),
        "estimatedSettlePrice": dec(m.index_price),
        "lastFundingRate": dec(m.funding_rate),
        "interestRate": "0.00010000",
        "nextFundingTime": m.next_funding_time_ms,
        "time": now_ms,
    }


def exchange_info(rules: Mapping[str, SymbolRules], limits: RateLimitSpec) -> dict[str, Any]:
    """The `GET /fapi/v1/exchangeInfo` document (without `serverTime`, added per request)."""
    symbols = []
    for sym, r in rules.items():
        symbols.append(
            {
                "symbol": sym,
                "pair": sym,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": 1569398400000,
                "status": r.status,
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": r.base_asset or sym.removesuffix(r.quote_asset),
                "quoteAsset": r.quote_asset,
                "marginAsset": r.margin_asset,
                "pricePrecision": r.effective_price_precision,
                "quantityPrecision": r.effective_quantity_precision,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "settlePlan": 0,
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "maxMoveOrderLimit": 10000,
                "filters": r.to_filters(),
                "orderTypes": ORDER_TYPES,
                "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            }
        )
    return {
        "timezone": "UTC",
        "serverTime": 0,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limits.weight_1m,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limits.orders_1m,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": limits.orders_10s,
            },
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": symbols,
    }
