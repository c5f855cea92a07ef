"""One-minute trade bars per symbol (last 1500 minutes): the source of REST klines and the 24 h ticker.

A `MarketSink`: it only listens to trades. Prices stay in ticks and volumes in lots; quote volume
is kept in tick×lot units, converted to Decimal when rendered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.sim.errors import ApiError

MINUTE_MS = 60_000
KEEP_MINUTES = 1500
INTERVAL_MS = {
    "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360,
    "8h": 480, "12h": 720, "1d": 1440,
}  # fmt: skip


class Bar:
    """OHLCV of trades in one interval (ticks, lots, tick×lot units)."""

    __slots__ = ("buy_lots", "buy_quote", "close", "count", "first_id", "high", "last_id", "last_lots", "low",
                 "open", "open_ms", "quote", "volume")  # fmt: skip

    def __init__(self, open_ms: int, trade: Trade) -> None:
        self.open_ms = open_ms
        self.open = self.high = self.low = self.close = trade.price_ticks
        self.volume = self.quote = self.buy_lots = self.buy_quote = self.count = 0
        self.first_id = self.last_id = trade.trade_id
        self.last_lots = 0

    def add(self, trade: Trade) -> None:
        p, q = trade.price_ticks, trade.qty_lots
        self.high = max(self.high, p)
        self.low = min(self.low, p)
        self.close = p
        self.volume += q
        self.quote += p * q
        self.count += 1
        self.last_id = trade.trade_id
        self.last_lots = q
        if not trade.buyer_is_maker:
            self.buy_lots += q
            self.buy_quote += p * q

    def merge(self, other: Bar) -> None:
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.close = other.close
        self.volume += other.volume
        self.quote += other.quote
        self.count += other.count
        self.buy_lots += other.buy_lots
        self.buy_quote += other.buy_quote
        self.last_id = other.last_id
        self.last_lots = other.last_lots


class TradeBars:
    """Minute bars for every symbol; `klines` and `ticker_24h` render Binance's REST shapes."""

    def __init__(self, rules: Mapping[str, SymbolRules]) -> None:
        self._rules = rules
        self._bars: dict[str, deque[Bar]] = {s: deque(maxlen=KEEP_MINUTES) for s in rules}

    # MarketSink
    def on_trade(self, trade: Trade) -> None:
        bars = self._bars[trade.symbol]
        minute = trade.trade_time_ms // MINUTE_MS * MINUTE_MS
        if not bars or bars[-1].open_ms != minute:
            bars.append(Bar(minute, trade))
        bars[-1].add(trade)

    def on_reset(self, snapshot: DepthSnapshot) -> None: ...
    def on_depth(self, update: DepthUpdate) -> None: ...
    def on_book_ticker(self, ticker: BookTicker) -> None: ...
    def on_mark_price(self, mark: MarkPrice) -> None: ...
    def end_batch(self, now_ms: int, flush_all: bool) -> None: ...

    # REST
    def klines(
        self, symbol: str, interval: str, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]]:
        minutes = INTERVAL_MS.get(interval)
        if minutes is None:
            raise ApiError(-1120, "Invalid interval.")
        span = minutes * MINUTE_MS
        merged: list[Bar] = []
        for bar in self._bars[symbol]:
            if (start is not None and bar.open_ms + MINUTE_MS <= start) or (
                end is not None and bar.open_ms > end
            ):
                continue
            bucket = bar.open_ms // span * span
            if merged and merged[-1].open_ms == bucket:
                merged[-1].merge(bar)
            else:
                copy = Bar.__new__(Bar)
                for name in Bar.__slots__:
                    setattr(copy, name, getattr(bar, name))
                copy.open_ms = bucket
                merged.append(copy)
        rows = merged[:limit] if start is not None else merged[-limit:]
        r = self._rules[symbol]
        unit = r.tick_size * r.step_size
        return [
            [b.open_ms, r.price_str(b.open), r.price_str(b.high), r.price_str(b.low),
             r.price_str(b.close), r.qty_str(b.volume), b.open_ms + span - 1, _plain(unit * b.quote),
             b.count, r.qty_str(b.buy_lots), _plain(unit * b.buy_quote), "0"]
            for b in rows
        ]  # fmt: skip

    def ticker_24h(self, symbol: str, now_ms: int) -> dict[str, Any]:
        r = self._rules[symbol]
        since = now_ms - 1440 * MINUTE_MS
        window = [b for b in self._bars[symbol] if b.open_ms >= since]
        unit = r.tick_size * r.step_size
        if not window:
            zero = r.price_str(0)
            return {"symbol": symbol, "priceChange": zero, "priceChangePercent": "0.000",
                    "weightedAvgPrice": zero, "lastPrice": zero, "lastQty": r.qty_str(0), "openPrice": zero,
                    "highPrice": zero,
                    "lowPrice": zero, "volume": r.qty_str(0), "quoteVolume": "0", "openTime": since,
                    "closeTime": now_ms, "firstId": 0, "lastId": 0, "count": 0}  # fmt: skip
        first, last = window[0], window[-1]
        volume = sum(b.volume for b in window)
        quote = sum(b.quote for b in window)
        change = last.close - first.open
        pct = (Decimal(change * 100) / first.open).quantize(Decimal("0.001"))
        wavg_ticks = round(Decimal(quote) / volume) if volume else 0
        return {
            "symbol": symbol,
            "priceChange": r.price_str(change) if change >= 0 else "-" + r.price_str(-change),
            "priceChangePercent": f"{pct:.3f}",
            "weightedAvgPrice": r.price_str(wavg_ticks),
            "lastPrice": r.price_str(last.close),
            "lastQty": r.qty_str(last.last_lots),
            "openPrice": r.price_str(first.open),
            "highPrice": r.price_str(max(b.high for b in window)),
            "lowPrice": r.price_str(min(b.low for b in window)),
            "volume": r.qty_str(volume),
            "quoteVolume": _plain(unit * quote),
            "openTime": first.open_ms,
            "closeTime": now_ms,
            "firstId": first.first_id,
            "lastId": last.last_id,
            "count": sum(b.count for b in window),
        }


def _plain(value: Any) -> str:
    return format(value.normalize(), "f") if value else "0"
