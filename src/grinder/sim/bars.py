"""Minute bars per symbol (last 1500 minutes): trades → REST klines, the 24 h ticker and kline streams;
mark and index prices → mark/index price klines.

Prices stay in ticks and volumes in lots for trade bars; quote volume is kept in tick×lot units,
converted to Decimal when rendered. Minute bars merge into any Binance interval (1m … 1M).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from grinder.core.errors import ErrorCode
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.sim.errors import ApiError

MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
KEEP_MINUTES = 1500
INTERVAL_MS = {
    "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360,
    "8h": 480, "12h": 720, "1d": 1440, "3d": 4320,
}  # fmt: skip
INTERVALS = (*INTERVAL_MS, "1w", "1M")
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; weekly bars open on Monday 00:00 UTC


def bucket(interval: str, ms: int) -> tuple[int, int]:
    """(open time, close time) of the `interval` bar holding `ms`; -1120 for an unknown interval."""
    minutes = INTERVAL_MS.get(interval)
    if minutes is not None:
        span = minutes * MINUTE_MS
        start = ms // span * span
        return start, start + span - 1
    if interval == "1w":
        week = 7 * DAY_MS
        start = (ms - _MONDAY_OFFSET_MS) // week * week + _MONDAY_OFFSET_MS
        return start, start + week - 1
    if interval == "1M":
        day = datetime.fromtimestamp(ms / 1000, UTC)
        first = datetime(day.year, day.month, 1, tzinfo=UTC)
        following = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000), int(following.timestamp() * 1000) - 1
    raise ApiError(ErrorCode.BAD_INTERVAL, "Invalid interval.")


def check_interval(interval: str) -> None:
    bucket(interval, 0)


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

    # REST and streams
    def klines(
        self, symbol: str, interval: str, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]]:
        check_interval(interval)
        rows = _merge(self._bars[symbol], interval, start, end, limit)
        return [self.kline_row(symbol, b, bucket(interval, b.open_ms)[1]) for b in rows]

    def kline_row(self, symbol: str, b: Bar, close_ms: int) -> list[Any]:
        r = self._rules[symbol]
        unit = r.tick_size * r.step_size
        return [b.open_ms, r.price_str(b.open), r.price_str(b.high), r.price_str(b.low),
                r.price_str(b.close), r.qty_str(b.volume), close_ms, _plain(unit * b.quote),
                b.count, r.qty_str(b.buy_lots), _plain(unit * b.buy_quote), "0"]  # fmt: skip

    def live_bar(self, symbol: str, interval: str, now_ms: int) -> Bar | None:
        """The `interval` bar in progress at `now_ms` (None before the first trade)."""
        bars = self._bars[symbol]
        if not bars:
            return None
        open_ms, _ = bucket(interval, now_ms)
        merged = _merge(bars, interval, open_ms, None, 1)
        if merged:
            return merged[0]
        last = bars[-1]  # no trade yet in this bar: Binance opens it flat at the last close
        flat = Bar.__new__(Bar)
        flat.open_ms = open_ms
        flat.open = flat.high = flat.low = flat.close = last.close
        flat.volume = flat.quote = flat.buy_lots = flat.buy_quote = flat.count = flat.last_lots = 0
        flat.first_id = flat.last_id = -1
        return flat

    def volume_lots(self, symbol: str, since_ms: int) -> int:
        return sum(b.volume for b in self._bars[symbol] if b.open_ms >= since_ms)

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


def _overlaps(minute_ms: int, start: int | None, end: int | None) -> bool:
    return (start is None or minute_ms + MINUTE_MS > start) and (end is None or minute_ms <= end)


def _merge(bars: Iterable[Bar], interval: str, start: int | None, end: int | None, limit: int) -> list[Bar]:
    """Minute bars merged into `interval` bars overlapping [start, end]; the first `limit` from a
    start, else the last `limit`."""
    merged: list[Bar] = []
    for bar in bars:
        if not _overlaps(bar.open_ms, start, end):
            continue
        open_ms, _ = bucket(interval, bar.open_ms)
        if merged and merged[-1].open_ms == open_ms:
            merged[-1].merge(bar)
        else:
            copy = Bar.__new__(Bar)
            for name in Bar.__slots__:
                setattr(copy, name, getattr(bar, name))
            copy.open_ms = open_ms
            merged.append(copy)
    return merged[:limit] if start is not None else merged[-limit:]


class PriceBar:
    """OHLC of one price series (mark or index) in one interval, and how many samples it holds."""

    __slots__ = ("close", "count", "high", "low", "open", "open_ms")

    def __init__(self, open_ms: int, price: Decimal) -> None:
        self.open_ms = open_ms
        self.open = self.high = self.low = self.close = price
        self.count = 0

    def add(self, price: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.count += 1


class PriceBars:
    """Minute bars of mark and index prices per symbol: `markPriceKlines`, `indexPriceKlines`,
    `premiumIndexKlines` (mark − index, as a fraction of index)."""

    SERIES: Mapping[str, Callable[[MarkPrice], Decimal]] = {
        "mark": lambda m: m.mark_price,
        "index": lambda m: m.index_price,
        "premium": lambda m: (m.mark_price - m.index_price) / m.index_price if m.index_price else Decimal(0),
    }

    def __init__(self, symbols: Iterable[str]) -> None:
        self._bars: dict[tuple[str, str], deque[PriceBar]] = {
            (s, kind): deque(maxlen=KEEP_MINUTES) for s in symbols for kind in self.SERIES
        }

    def on_reset(self, snapshot: DepthSnapshot) -> None: ...
    def on_depth(self, update: DepthUpdate) -> None: ...
    def on_book_ticker(self, ticker: BookTicker) -> None: ...
    def on_trade(self, trade: Trade) -> None: ...
    def end_batch(self, now_ms: int, flush_all: bool) -> None: ...

    def on_mark_price(self, mark: MarkPrice) -> None:
        minute = mark.event_time_ms // MINUTE_MS * MINUTE_MS
        for kind, value_of in self.SERIES.items():
            bars = self._bars[(mark.symbol, kind)]
            price = value_of(mark)
            if not bars or bars[-1].open_ms != minute:
                bars.append(PriceBar(minute, price))
            bars[-1].add(price)

    def klines(
        self, symbol: str, kind: str, interval: str, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]]:
        """Binance's price-kline rows: OHLC, zero volumes, and the sample count in column 9."""
        check_interval(interval)
        merged: list[PriceBar] = []
        for bar in self._bars[(symbol, kind)]:
            if not _overlaps(bar.open_ms, start, end):
                continue
            open_ms, _ = bucket(interval, bar.open_ms)
            if merged and merged[-1].open_ms == open_ms:
                top = merged[-1]
                top.high, top.low, top.close = max(top.high, bar.high), min(top.low, bar.low), bar.close
                top.count += bar.count
            else:
                copy = PriceBar(open_ms, bar.open)
                copy.high, copy.low, copy.close, copy.count = bar.high, bar.low, bar.close, bar.count
                merged.append(copy)
        rows = merged[:limit] if start is not None else merged[-limit:]
        return [
            [b.open_ms, _price(b.open), _price(b.high), _price(b.low), _price(b.close), "0",
             bucket(interval, b.open_ms)[1], "0", b.count, "0", "0", "0"]
            for b in rows
        ]  # fmt: skip


def _price(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.00000001")), "f")
