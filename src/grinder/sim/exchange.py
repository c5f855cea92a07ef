"""REST endpoint logic of the simulator: parse parameters, call the venue, render Binance JSON.

Each handler takes the merged request parameters and the server time and returns the response
document, or raises `ApiError` / `VenueReject` with Binance's code. HTTP plumbing (auth, limits,
faults, headers) lives in `grinder.sim.rest`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from grinder.core.enums import MarginType, OrderType, Side, TimeInForce
from grinder.core.errors import MSG_NO_SUCH_ORDER, ErrorCode
from grinder.core.events import MarkPrice
from grinder.core.rules import SymbolRules
from grinder.sim import render
from grinder.sim.algo import MSG_CANCEL_ALL, AlgoOrderApi
from grinder.sim.bars import PriceBars, TradeBars
from grinder.sim.brackets import LeverageBrackets
from grinder.sim.errors import ApiError
from grinder.sim.market import MarketState
from grinder.sim.marketdata import MarketHistoryApi, TradeTape
from grinder.sim.params import (
    CONDITIONAL_TYPES,
    MSG_ALGO_ONLY,
    bool_param,
    client_order_id,
    decimal_param,
    int_param,
    order_ref,
    position_side_param,
    required,
    required_int,
    side_param,
    time_in_force_param,
)
from grinder.sim.ratelimit import RateLimitSpec
from grinder.sim.userdata import UserData
from grinder.sim.venue_feed import publish_user_events
from grinder.venue import Venue
from grinder.venue.errors import MSG_BAD_SYMBOL, VenueReject, mandatory, not_required
from grinder.venue.views import OrderView

Handler = Callable[[dict[str, str], int], Any]
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_OK = {"code": 200, "msg": "success"}
MSG_ASSET_MODE_SAME = "Adjusted asset mode is currently set and does not need to be adjusted repeatedly"
MSG_MULTI_ASSETS_ISOLATED = (
    "Unable to adjust to Multi-Assets mode with symbols of USDⓈ-M Futures under isolated-margin mode."
)


class SimExchange:
    """The simulated account + market behind the REST API."""

    def __init__(
        self,
        venue: Venue,
        market: MarketState,
        user: UserData,
        limits: RateLimitSpec,
        seed: int,
    ) -> None:
        """The maintenance-margin ratio of the leverage brackets is the venue's own (`venue.config`)."""
        self.venue = venue
        self.market = market
        self.user = user
        self.rules: Mapping[str, SymbolRules] = market.rules
        self.limits = limits
        self.countdowns: dict[str, tuple[int, int]] = {}  # symbol -> (deadline ms, countdown ms)
        self._rng = random.Random(seed ^ 0xC1D)
        self._exchange_info_cache: dict[str, Any] | None = None
        self.created_ms = 0  # account creation time (the server's start)
        self.bars = TradeBars(market.rules)
        self.price_bars = PriceBars(market.rules)
        self.tape = TradeTape(list(market.rules))
        market.sinks.extend((self.bars, self.price_bars, self.tape))
        self.brackets = LeverageBrackets(venue.config.maint_margin_ratio)
        self.multi_assets = False  # recorded and reported; the venue margins in USDT only
        self.algo = AlgoOrderApi(venue, market.rules, seed)
        self.history = MarketHistoryApi(market.rules, self.tape, self.bars, self.price_bars, venue)

    # ------------------------------------------------------------------ helpers
    def symbol(self, params: dict[str, str]) -> str:
        raw = required(params, "symbol")
        sym = raw.upper()
        if sym not in self.rules:
            raise ApiError(ErrorCode.BAD_SYMBOL, MSG_BAD_SYMBOL)
        return sym

    def optional_symbol(self, params: dict[str, str]) -> str | None:
        return self.symbol(params) if params.get("symbol") else None

    def _one_or_all(self, params: dict[str, str], row: Callable[[str], Any]) -> Any:
        """The row of `symbol` when it is sent, else the list of every symbol's row (Binance's rule
        for the market-data endpoints)."""
        sym = self.optional_symbol(params)
        if sym:
            return row(sym)
        return [row(s) for s in self.rules]

    def pump(self, now_ms: int) -> None:
        """Publish whatever user events the venue has ready (after every write)."""
        publish_user_events(self.venue, self.user, now_ms)

    def open_notional(self, symbol: str) -> tuple[Decimal, Decimal]:
        rules = self.rules[symbol]
        bid = ask = Decimal(0)
        for o in self.venue.open_orders(symbol):
            if o.order_type is not OrderType.LIMIT:
                continue
            notional = rules.notional(o.price_ticks, o.remaining_lots)
            if o.side is Side.BUY:
                bid += notional
            else:
                ask += notional
        return bid, ask

    def _auto_client_id(self) -> str:
        """22 random characters, like the ids Binance assigns (hex here; seeded: reproducible runs)."""
        return f"{self._rng.getrandbits(88):022x}"

    # ------------------------------------------------------------------ public market data
    def ping(self, params: dict[str, str], now_ms: int) -> Any:
        return {}

    def time(self, params: dict[str, str], now_ms: int) -> Any:
        return {"serverTime": now_ms}

    def exchange_info(self, params: dict[str, str], now_ms: int) -> Any:
        if self._exchange_info_cache is None:
            self._exchange_info_cache = render.exchange_info(self.rules, self.limits)
        return {**self._exchange_info_cache, "serverTime": now_ms}

    def depth(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        limit = int_param(params, "limit", optional=True) or 500
        if limit not in _DEPTH_LIMITS:
            raise ApiError(ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'limit' is not valid.")
        snap = self.market.books[sym].snapshot(limit, now_ms, self.market.last_event_ms or now_ms)
        return render.rest_depth(self.rules[sym], snap)

    def book_ticker(self, params: dict[str, str], now_ms: int) -> Any:
        def row(s: str) -> Any:
            t = self.market.books[s].book_ticker(now_ms, self.market.last_event_ms or now_ms)
            return render.rest_book_ticker(self.rules[s], t)

        return self._one_or_all(params, row)

    def ticker_price(self, params: dict[str, str], now_ms: int) -> Any:
        def row(s: str) -> Any:
            trade = self.market.last_trade.get(s)
            r = self.rules[s]
            if trade is not None:
                price = r.price_str(trade.price_ticks)
            else:
                mark = self.market.mark_price(s)
                price = render.price_dec(r, r.round_price(mark)) if mark else "0"
            return {"symbol": s, "price": price, "time": now_ms}

        return self._one_or_all(params, row)

    def premium_index(self, params: dict[str, str], now_ms: int) -> Any:
        def row(s: str) -> Any:
            mark = self.market.marks.get(s)
            if mark is None:
                mp = self.market.mark_price(s) or Decimal(0)
                mark = MarkPrice(s, mp, mp, Decimal("0.0001"), 0, now_ms)
            return render.premium_index(mark, now_ms)

        return self._one_or_all(params, row)

    def funding_rate(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.optional_symbol(params)
        limit = min(int_param(params, "limit", optional=True) or 100, 1000)
        rows = [
            {
                "symbol": f.symbol,
                "fundingRate": render.dec(f.funding_rate),
                "fundingTime": f.next_funding_time_ms,
                "markPrice": render.dec(f.mark_price),
                "rateType": "Regular",
            }
            for s in ([sym] if sym else list(self.rules))
            for f in self.market.funding_history.get(s, ())
        ]
        rows = _time_window(rows, params, lambda r: int(r["fundingTime"]))
        return rows[-limit:]

    def klines(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        interval = required(params, "interval")
        start = int_param(params, "startTime", optional=True)
        end = int_param(params, "endTime", optional=True)
        limit = int_param(params, "limit", optional=True) or 500
        if not 1 <= limit <= 1500:
            raise ApiError(ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'limit' is not valid.")
        return self.bars.klines(sym, interval, start, end, limit)

    def ticker_24h(self, params: dict[str, str], now_ms: int) -> Any:
        return self._one_or_all(params, lambda s: self.bars.ticker_24h(s, now_ms))

    # ------------------------------------------------------------------ orders
    def _parse_new_order(self, params: dict[str, str]) -> dict[str, Any]:
        sym = self.symbol(params)
        side = side_param(params)
        raw_type = required(params, "type")
        if raw_type in CONDITIONAL_TYPES:
            raise ApiError(ErrorCode.STOP_ORDER_SWITCH_ALGO, MSG_ALGO_ONLY)
        try:
            order_type = OrderType(raw_type)
        except ValueError:
            raise ApiError(ErrorCode.INVALID_ORDER_TYPE, "Invalid orderType.") from None
        position_side = position_side_param(params)
        tif: TimeInForce | None = None
        price: Decimal | None = None
        quantity = decimal_param(params, "quantity")
        if order_type is OrderType.LIMIT:
            tif = time_in_force_param(params)
            price = decimal_param(params, "price")
        elif params.get("price"):
            raise not_required("price")
        if "reduceOnly" in params and self.venue.dual_side_position:
            # Hedge mode closes with SELL+LONG / BUY+SHORT; Binance refuses the parameter itself.
            raise not_required("reduceonly")
        cid = client_order_id(params, "newClientOrderId") or self._auto_client_id()
        resp_type = params.get("newOrderRespType", "ACK")
        if resp_type not in ("ACK", "RESULT"):
            raise mandatory("newOrderRespType")
        return {
            "symbol": sym,
            "side": side,
            "order_type": order_type,
            "quantity": quantity,
            "price": price,
            "time_in_force": tif,
            "reduce_only": bool_param(params, "reduceOnly"),
            "position_side": position_side,
            "client_order_id": cid,
            "_resp": resp_type,
        }

    def place(self, order: dict[str, Any], now_ms: int) -> dict[str, Any]:
        resp_type = order.pop("_resp")
        view = self.venue.new_order(**order, now_ms=now_ms)
        # ACK reports the order as accepted (NEW, nothing executed), as Binance does even for a
        # MARKET order that filled at once; RESULT reports the outcome.
        return render.order_object(self.rules[view.symbol], view, ack=resp_type == "ACK")

    def new_order(self, params: dict[str, str], now_ms: int) -> Any:
        return self.place(self._parse_new_order(params), now_ms)

    def _parse_modify(self, params: dict[str, str]) -> dict[str, Any]:
        sym = self.symbol(params)
        order_id, orig = order_ref(params)
        side = side_param(params)
        quantity = decimal_param(params, "quantity")
        price = decimal_param(params, "price")
        return {
            "symbol": sym,
            "order_id": order_id,
            "client_order_id": orig,
            "side": side,
            "quantity": quantity,
            "price": price,
        }

    def modify(self, mod: dict[str, Any], now_ms: int) -> dict[str, Any]:
        view = self.venue.modify_order(**mod, now_ms=now_ms)
        doc = render.order_object(self.rules[view.symbol], view)
        doc["pair"] = view.symbol
        return doc

    def modify_order(self, params: dict[str, str], now_ms: int) -> Any:
        return self.modify(self._parse_modify(params), now_ms)

    def cancel_order(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        order_id, orig = order_ref(params)
        view = self.venue.cancel_order(symbol=sym, order_id=order_id, client_order_id=orig, now_ms=now_ms)
        return render.order_object(self.rules[sym], view)

    def cancel_all(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        self.venue.cancel_all(sym, now_ms)
        return {"code": 200, "msg": MSG_CANCEL_ALL}

    def _get(self, params: dict[str, str]) -> OrderView:
        sym = self.symbol(params)
        order_id, orig = order_ref(params)
        return self.venue.get_order(symbol=sym, order_id=order_id, client_order_id=orig)

    def query_order(self, params: dict[str, str], now_ms: int) -> Any:
        view = self._get(params)
        return render.order_object(self.rules[view.symbol], view, query=True)

    def query_open_order(self, params: dict[str, str], now_ms: int) -> Any:
        view = self._get(params)
        if not view.is_open:
            raise ApiError(ErrorCode.NO_SUCH_ORDER, MSG_NO_SUCH_ORDER)
        return render.order_object(self.rules[view.symbol], view, query=True)

    def open_orders(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.optional_symbol(params)
        return [render.order_object(self.rules[o.symbol], o, query=True) for o in self.venue.open_orders(sym)]

    def all_orders(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        from_id = int_param(params, "orderId", optional=True)
        limit = min(int_param(params, "limit", optional=True) or 500, 1000)
        rows = [o for o in self.venue.all_orders(sym) if from_id is None or o.order_id >= from_id]
        rows = _time_window(rows, params, lambda o: o.time_ms)
        return [render.order_object(self.rules[sym], o, query=True) for o in rows[:limit]]

    def batch_new(self, params: dict[str, str], now_ms: int) -> Any:
        items = _batch_list(params, "batchOrders", 5)
        out: list[Any] = []
        for item in items:
            try:
                order = self._parse_new_order({k: _wire_str(v) for k, v in item.items()})
                out.append(self.place(order, now_ms))
            except VenueReject as exc:  # ApiError included
                out.append({"code": exc.code, "msg": exc.msg})
        return out

    def batch_modify(self, params: dict[str, str], now_ms: int) -> Any:
        items = _batch_list(params, "batchOrders", 5)
        out: list[Any] = []
        for item in items:
            try:
                out.append(
                    self.modify(self._parse_modify({k: _wire_str(v) for k, v in item.items()}), now_ms)
                )
            except VenueReject as exc:  # ApiError included
                out.append({"code": exc.code, "msg": exc.msg})
        return out

    def batch_cancel(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        refs: list[tuple[int | None, str | None]]
        # Binance reads both spellings; python-binance and others send the lower-case one.
        ids = next((n for n in ("orderIdList", "orderidlist") if params.get(n)), None)
        cids = next((n for n in ("origClientOrderIdList", "origclientorderidlist") if params.get(n)), None)
        if ids is not None:
            refs = [(_order_id(x, ids), None) for x in _json_list(params, ids, 10)]
        elif cids is not None:
            refs = [(None, str(x)) for x in _json_list(params, cids, 10)]
        else:
            raise ApiError(
                ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Either orderIdList or origClientOrderIdList must be sent.",
            )
        out: list[Any] = []
        for order_id, cid in refs:
            try:
                view = self.venue.cancel_order(
                    symbol=sym, order_id=order_id, client_order_id=cid, now_ms=now_ms
                )
                out.append(render.order_object(self.rules[sym], view))
            except VenueReject as exc:  # ApiError included
                out.append({"code": exc.code, "msg": exc.msg})
        return out

    def countdown_cancel_all(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        countdown = required_int(params, "countdownTime")
        if countdown < 0:
            raise mandatory("countdownTime")
        if countdown == 0:
            self.countdowns.pop(sym, None)
        else:
            self.countdowns[sym] = (now_ms + countdown, countdown)
        return {"symbol": sym, "countdownTime": str(countdown)}

    def run_countdowns(self, now_ms: int) -> None:
        """The dead-man switch: cancel every open order of a symbol whose countdown ran out."""
        for sym, (deadline, _) in list(self.countdowns.items()):
            if now_ms >= deadline:
                del self.countdowns[sym]
                self.venue.cancel_all(sym, now_ms)
        self.pump(now_ms)

    # ------------------------------------------------------------------ account
    def user_trades(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        order_id = int_param(params, "orderId", optional=True)
        from_id = int_param(params, "fromId", optional=True)
        limit = min(int_param(params, "limit", optional=True) or 500, 1000)
        rows = [
            t
            for t in self.venue.user_trades(sym)
            if (order_id is None or t.order_id == order_id) and (from_id is None or t.trade_id >= from_id)
        ]
        rows = _time_window(rows, params, lambda t: t.time_ms)
        return [render.user_trade(self.rules[sym], t) for t in rows[:limit]]

    def position_risk_v2(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.optional_symbol(params)
        rows = []
        for p in self.venue.positions(sym):
            row = render.position_v2(self.rules[p.symbol], p)
            row["maxNotionalValue"] = self.max_notional(p.leverage)
            rows.append(row)
        return rows

    def max_notional(self, leverage: int) -> str:
        """`maxNotionalValue` at `leverage`, from the leverage brackets (as Binance prints it)."""
        return str(self.brackets.max_notional(leverage))

    def position_risk_v3(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.optional_symbol(params)
        with_orders = {o.symbol for o in self.venue.open_orders(sym)}
        out = []
        for p in self.venue.positions(sym):
            if p.amount_lots == 0 and p.symbol not in with_orders:
                continue
            bid, ask = self.open_notional(p.symbol)
            out.append(render.position_v3(self.rules[p.symbol], p, bid, ask))
        return out

    def balance(self, params: dict[str, str], now_ms: int) -> Any:
        return [render.balance_row(self.venue.balance(), self.created_ms)]

    def _account(self, v3: bool) -> dict[str, Any]:
        b = self.venue.balance()
        doc: dict[str, Any] = {}
        if not v3:
            doc.update(
                {
                    "feeTier": 0,
                    "feeBurn": False,
                    "canTrade": True,
                    "canDeposit": True,
                    "canWithdraw": True,
                    "updateTime": 0,
                    "multiAssetsMargin": self.multi_assets,
                    "tradeGroupId": -1,
                }
            )
        doc.update(render.account_totals(b))
        doc["assets"] = [render.account_asset(b, self.created_ms, v3=v3)]
        positions = []
        for p in self.venue.positions(None):
            if v3 and p.amount_lots == 0:
                continue
            r = self.rules[p.symbol]
            bid, ask = self.open_notional(p.symbol)
            row: dict[str, Any] = {
                "symbol": p.symbol,
                "positionSide": p.position_side.value,
                "positionAmt": render.position_v2(r, p)["positionAmt"],
                "unrealizedProfit": render.money(p.unrealized_pnl),
                "isolatedMargin": render.money(p.isolated_margin),
                "notional": render.dec(p.notional),
                "isolatedWallet": render.dec(p.isolated_wallet),
                "initialMargin": render.dec(p.initial_margin),
                "maintMargin": render.dec(p.maint_margin),
                "updateTime": p.update_time_ms,
            }
            if not v3:
                row.update(
                    {
                        "positionInitialMargin": render.dec(p.position_initial_margin),
                        "openOrderInitialMargin": render.dec(p.open_order_initial_margin),
                        "leverage": str(p.leverage),
                        "isolated": p.margin_type is MarginType.ISOLATED,
                        "entryPrice": render.price_dec(r, p.entry_price),
                        "breakEvenPrice": render.price_dec(r, p.break_even_price),
                        "maxNotional": self.max_notional(p.leverage),
                        "bidNotional": render.dec(bid),
                        "askNotional": render.dec(ask),
                    }
                )
            positions.append(row)
        doc["positions"] = positions
        return doc

    def account_v2(self, params: dict[str, str], now_ms: int) -> Any:
        return self._account(v3=False)

    def account_v3(self, params: dict[str, str], now_ms: int) -> Any:
        return self._account(v3=True)

    def _dual(self) -> bool:
        return self.venue.dual_side_position

    def account_config(self, params: dict[str, str], now_ms: int) -> Any:
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "dualSidePosition": self._dual(),
            "updateTime": 0,
            "multiAssetsMargin": self.multi_assets,
            "tradeGroupId": -1,
        }

    def symbol_config(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.optional_symbol(params)
        seen: dict[str, dict[str, Any]] = {}
        for p in self.venue.positions(sym):
            seen.setdefault(
                p.symbol,
                {
                    "symbol": p.symbol,
                    "marginType": p.margin_type.value,
                    "isAutoAddMargin": False,
                    "leverage": p.leverage,
                    "maxNotionalValue": self.max_notional(p.leverage),
                },
            )
        return list(seen.values())

    def leverage(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        lev = required_int(params, "leverage")
        if not 1 <= lev <= 125:
            raise ApiError(ErrorCode.INVALID_LEVERAGE, "Leverage is not valid.")
        self.venue.set_leverage(sym, lev)
        self.user.publish_config_update(sym, lev, now_ms)
        return {"leverage": lev, "maxNotionalValue": self.max_notional(lev), "symbol": sym}

    def margin_type(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        raw = required(params, "marginType").upper()
        if raw == "CROSS":
            raw = "CROSSED"
        try:
            mt = MarginType(raw)
        except ValueError:
            raise ApiError(
                ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'marginType' is not valid."
            ) from None
        if mt is MarginType.ISOLATED and self.multi_assets:
            raise ApiError(
                ErrorCode.ISOLATED_UNDER_MULTI_ASSETS,
                "Unable to adjust to isolated-margin mode under the Multi-Assets mode.",
            )
        self.venue.set_margin_type(sym, mt)
        return _OK

    def position_side_get(self, params: dict[str, str], now_ms: int) -> Any:
        return {"dualSidePosition": self._dual()}

    def position_side_set(self, params: dict[str, str], now_ms: int) -> Any:
        if not params.get("dualSidePosition"):
            raise mandatory("dualSidePosition")
        self.venue.set_dual_side(bool_param(params, "dualSidePosition"))
        return _OK

    def multi_assets_margin(self, params: dict[str, str], now_ms: int) -> Any:
        return {"multiAssetsMargin": self.multi_assets}

    def multi_assets_margin_set(self, params: dict[str, str], now_ms: int) -> Any:
        """Multi-Assets mode: Binance's checks and answers; margin stays USDT-only in the venue."""
        if not params.get("multiAssetsMargin"):
            raise mandatory("multiAssetsMargin")
        wanted = bool_param(params, "multiAssetsMargin")
        if wanted == self.multi_assets:
            raise ApiError(ErrorCode.ASSET_MODE_UNCHANGED, MSG_ASSET_MODE_SAME)
        if wanted and any(self.venue.margin_type(s) is MarginType.ISOLATED for s in self.rules):
            raise ApiError(ErrorCode.MULTI_ASSETS_WITH_ISOLATED, MSG_MULTI_ASSETS_ISOLATED)
        self.multi_assets = wanted
        self.user.publish_multi_assets_update(wanted, now_ms)
        return _OK

    def commission_rate(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.symbol(params)
        maker, taker = self.venue.commission_rates(sym)
        return {
            "symbol": sym,
            "makerCommissionRate": render.dec(maker),
            "takerCommissionRate": render.dec(taker),
            "rpiCommissionRate": "0",
        }

    def income(self, params: dict[str, str], now_ms: int) -> Any:
        sym = self.optional_symbol(params)
        income_type = params.get("incomeType")
        limit = min(int_param(params, "limit", optional=True) or 100, 1000)
        rows = [i for i in self.venue.income(sym) if income_type is None or i.income_type == income_type]
        rows = _time_window(rows, params, lambda i: i.time_ms)
        return [render.income_row(i) for i in rows[:limit]]

    def leverage_bracket(self, params: dict[str, str], now_ms: int) -> Any:
        brackets = self.brackets.rows()
        return self._one_or_all(params, lambda s: {"symbol": s, "brackets": brackets})

    def order_rate_limit(self, params: dict[str, str], now_ms: int) -> Any:
        limits = self.limits
        return [
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_10s},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": limits.orders_1m},
        ]

    # ------------------------------------------------------------------ listenKey
    def listen_key_new(self, params: dict[str, str], now_ms: int) -> Any:
        return {"listenKey": self.user.create(now_ms)}

    def listen_key_keepalive(self, params: dict[str, str], now_ms: int) -> Any:
        return {"listenKey": self.user.keepalive(now_ms)}

    def listen_key_delete(self, params: dict[str, str], now_ms: int) -> Any:
        self.user.delete()
        return {}


def _wire_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _order_id(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")
    return int(value)


def _json_list(params: dict[str, str], name: str, max_items: int) -> list[Any]:
    raw = required(params, name)
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid."
        ) from None
    if not isinstance(value, list) or not value or len(value) > max_items:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")
    return value


def _batch_list(params: dict[str, str], name: str, max_items: int) -> list[dict[str, Any]]:
    items = _json_list(params, name, max_items)
    if not all(isinstance(i, dict) for i in items):
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")
    return items


def _time_window(rows: list[Any], params: dict[str, str], time_of: Callable[[Any], int]) -> list[Any]:
    start = int_param(params, "startTime", optional=True)
    end = int_param(params, "endTime", optional=True)
    if start is None and end is None:
        return rows
    return [r for r in rows if (start is None or time_of(r) >= start) and (end is None or time_of(r) <= end)]
