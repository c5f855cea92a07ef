"""Market-data history REST endpoints of the simulator: trades, aggTrades, the kline families,
openInterest.

Everything is served from the simulator's own market (synthetic or replayed): a tape of recent
trades and the minute bars of `grinder.sim.bars`. Parameter rules follow Binance's: limits,
startTime/endTime windows, -1023 for a reversed window, -1127 for an aggTrades window over 1 hour.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grinder.core.errors import ErrorCode
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.sim.bars import DAY_MS, PriceBars, TradeBars, check_interval
from grinder.sim.errors import ApiError
from grinder.sim.params import int_param, limit_param, required, symbol_param, time_range
from grinder.venue import Venue

TAPE_TRADES = 20_000  # recent trades kept per symbol for aggTrades
HOUR_MS = 3_600_000
CONTRACT_TYPES = frozenset(
    {"PERPETUAL", "CURRENT_MONTH", "NEXT_MONTH", "CURRENT_QUARTER", "NEXT_QUARTER", "PERPETUAL_DELIVERING"}
)


class TradeTape:
    """A `MarketSink` keeping each symbol's last `TAPE_TRADES` trades (each is one aggregate trade)."""

    def __init__(self, symbols: list[str]) -> None:
        self.trades: dict[str, deque[Trade]] = {s: deque(maxlen=TAPE_TRADES) for s in symbols}

    def on_trade(self, trade: Trade) -> None:
        self.trades[trade.symbol].append(trade)

    def on_reset(self, snapshot: DepthSnapshot) -> None: ...
    def on_depth(self, update: DepthUpdate) -> None: ...
    def on_book_ticker(self, ticker: BookTicker) -> None: ...
    def on_mark_price(self, mark: MarkPrice) -> None: ...
    def end_batch(self, now_ms: int, flush_all: bool) -> None: ...


@dataclass(frozen=True, eq=False, repr=False)
class MarketHistoryApi:
    """Handlers (params, now_ms) -> Binance JSON for the history endpoints, read from the
    simulator's trade tape, bars and venue."""

    rules: Mapping[str, SymbolRules]
    tape: TradeTape
    bars: TradeBars
    price_bars: PriceBars
    venue: Venue

    def agg_trades(self, params: dict[str, str], now_ms: int) -> Any:
        sym = symbol_param(params, self.rules)
        limit = limit_param(params, 500, 1000)
        from_id = int_param(params, "fromId", optional=True)
        start, end = time_range(params)
        if start is not None and end is not None and end - start >= HOUR_MS:
            raise ApiError(ErrorCode.MORE_THAN_XX_HOURS, "More than 1 hours between startTime and endTime.")
        if start is not None and end is None:
            end = start + HOUR_MS - 1
        elif end is not None and start is None:
            start = end - HOUR_MS + 1
        trades = [
            t
            for t in self.tape.trades[sym]
            if (from_id is None or t.trade_id >= from_id)
            and (start is None or t.trade_time_ms >= start)
            and (end is None or t.trade_time_ms <= end)
        ]
        picked = trades[-limit:] if from_id is None and start is None else trades[:limit]
        r = self.rules[sym]
        return [
            {
                "a": t.trade_id,
                "p": r.price_str(t.price_ticks),
                "q": r.qty_str(t.qty_lots),
                "nq": r.qty_str(t.qty_lots),
                "f": t.trade_id,
                "l": t.trade_id,
                "T": t.trade_time_ms,
                "m": t.buyer_is_maker,
            }
            for t in picked
        ]

    def recent_trades(self, params: dict[str, str], now_ms: int) -> Any:
        """`/fapi/v1/trades`: the most recent trades."""
        sym = symbol_param(params, self.rules)
        limit = limit_param(params, 500, 1000)
        return self._trade_rows(sym, list(self.tape.trades[sym])[-limit:])

    def historical_trades(self, params: dict[str, str], now_ms: int) -> Any:
        """`/fapi/v1/historicalTrades`: from `fromId` on, else the most recent."""
        sym = symbol_param(params, self.rules)
        limit = limit_param(params, 100, 500)
        from_id = int_param(params, "fromId", optional=True)
        trades = list(self.tape.trades[sym])
        if from_id is None:
            return self._trade_rows(sym, trades[-limit:])
        return self._trade_rows(sym, [t for t in trades if t.trade_id >= from_id][:limit])

    def _trade_rows(self, sym: str, trades: list[Trade]) -> list[dict[str, Any]]:
        r = self.rules[sym]
        unit = r.tick_size * r.step_size
        return [
            {
                "id": t.trade_id,
                "price": r.price_str(t.price_ticks),
                "qty": r.qty_str(t.qty_lots),
                "quoteQty": format((unit * t.price_ticks * t.qty_lots).normalize(), "f"),
                "time": t.trade_time_ms,
                "isBuyerMaker": t.buyer_is_maker,
            }
            for t in trades
        ]

    def continuous_klines(self, params: dict[str, str], now_ms: int) -> Any:
        pair = symbol_param(params, self.rules, "pair")
        contract = required(params, "contractType").upper()
        if contract not in CONTRACT_TYPES:
            raise ApiError(
                ErrorCode.INVALID_PARAMETER, "Data sent for parameter 'contractType' is not valid."
            )
        interval = required(params, "interval")
        check_interval(interval)
        start, end = time_range(params)
        limit = limit_param(params, 500, 1500)
        if contract != "PERPETUAL":
            return []  # the simulator lists perpetuals only: no delivery contract of this pair
        return self.bars.klines(pair, interval, start, end, limit)

    def _price_klines(self, params: dict[str, str], name: str, kind: str) -> Any:
        sym = symbol_param(params, self.rules, name)
        interval = required(params, "interval")
        start, end = time_range(params)
        limit = limit_param(params, 500, 1500)
        return self.price_bars.klines(sym, kind, interval, start, end, limit)

    def mark_price_klines(self, params: dict[str, str], now_ms: int) -> Any:
        return self._price_klines(params, "symbol", "mark")

    def index_price_klines(self, params: dict[str, str], now_ms: int) -> Any:
        return self._price_klines(params, "pair", "index")

    def premium_index_klines(self, params: dict[str, str], now_ms: int) -> Any:
        return self._price_klines(params, "symbol", "premium")

    def open_interest(self, params: dict[str, str], now_ms: int) -> Any:
        """Open interest of the simulated market: half the last 24 h of traded volume (each contract
        has two sides) plus the account's own open position."""
        sym = symbol_param(params, self.rules)
        market_lots = self.bars.volume_lots(sym, now_ms - DAY_MS) // 2
        own_lots = sum(abs(p.amount_lots) for p in self.venue.positions(sym))
        return {
            "openInterest": self.rules[sym].qty_str(market_lots + own_lots),
            "symbol": sym,
            "time": now_ms,
        }
