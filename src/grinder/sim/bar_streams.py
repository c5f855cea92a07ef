"""Bar-based market streams: `@kline_<i>`, `@continuousKline_<i>`, `@ticker`, `@miniTicker` and the
`!ticker@arr` / `!miniTicker@arr` all-market variants, built from the trade bars at Binance's cadence.

A `MarketSink` that only acts at the end of a batch: nothing is rendered for a stream nobody
subscribed to. Klines go out every 250 ms while subscribed; a bar that just closed is sent once
more with `x: true` before the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.sim.bars import INTERVALS, Bar, TradeBars, bucket
from grinder.sim.hub import StreamHub
from grinder.sim.streams import to_json

KLINE_EVERY_MS = 250
TICKER_EVERY_MS = 2000  # <symbol>@ticker, <symbol>@miniTicker
ALL_TICKERS_EVERY_MS = 1000  # !ticker@arr, !miniTicker@arr


class BarStreams:
    """Publishes kline and 24 h ticker streams for subscribed names on the hub."""

    def __init__(self, hub: StreamHub, bars: TradeBars, symbols: list[str]) -> None:
        self._hub = hub
        self._bars = bars
        self._symbols = symbols
        self._next_ms: dict[str, int] = {}
        self._open_bar: dict[str, int] = {}  # kline stream -> open time of the bar last sent
        self._kline_streams = [
            (sym, i, f"{sym.lower()}@kline_{i}", f"{sym.lower()}_perpetual@continuousKline_{i}")
            for sym in symbols
            for i in INTERVALS
        ]

    def on_reset(self, snapshot: DepthSnapshot) -> None: ...
    def on_depth(self, update: DepthUpdate) -> None: ...
    def on_book_ticker(self, ticker: BookTicker) -> None: ...
    def on_trade(self, trade: Trade) -> None: ...
    def on_mark_price(self, mark: MarkPrice) -> None: ...

    def _due(self, stream: str, now_ms: int) -> bool:
        """Subscribed and its cadence has come round (the first message goes out at once)."""
        return self._hub.has_subscribers(stream) and now_ms >= self._next_ms.get(stream, 0)

    def _send(self, stream: str, doc: Any, now_ms: int, every_ms: int) -> None:
        self._hub.publish(stream, to_json(doc))
        self._next_ms[stream] = now_ms + every_ms

    def end_batch(self, now_ms: int, flush_all: bool) -> None:
        for sym, interval, kline, continuous in self._kline_streams:
            if self._due(kline, now_ms):
                self._send_klines(kline, sym, interval, now_ms, continuous=False)
            if self._due(continuous, now_ms):
                self._send_klines(continuous, sym, interval, now_ms, continuous=True)
        full_all = self._due("!ticker@arr", now_ms)
        mini_all = self._due("!miniTicker@arr", now_ms)
        fulls: list[dict[str, Any]] = []
        minis: list[dict[str, Any]] = []
        for sym in self._symbols:
            s = sym.lower()
            full = self._due(s + "@ticker", now_ms)
            mini = self._due(s + "@miniTicker", now_ms)
            if not (full or mini or full_all or mini_all):
                continue
            stats = self._bars.ticker_24h(sym, now_ms)
            if not stats["count"]:
                continue  # Binance sends no ticker for a symbol without trades
            fulls.append(ticker_event(stats, now_ms))
            minis.append(mini_ticker_event(stats, now_ms))
            if full:
                self._send(s + "@ticker", fulls[-1], now_ms, TICKER_EVERY_MS)
            if mini:
                self._send(s + "@miniTicker", minis[-1], now_ms, TICKER_EVERY_MS)
        if full_all and fulls:
            self._send("!ticker@arr", fulls, now_ms, ALL_TICKERS_EVERY_MS)
        if mini_all and minis:
            self._send("!miniTicker@arr", minis, now_ms, ALL_TICKERS_EVERY_MS)

    def _send_klines(self, stream: str, sym: str, interval: str, now_ms: int, *, continuous: bool) -> None:
        last_open = self._open_bar.get(stream)
        open_ms, _ = bucket(interval, now_ms)
        if last_open is not None and last_open != open_ms:
            closed = self._bars.live_bar(sym, interval, last_open)
            if closed is not None:
                self._hub.publish(
                    stream, to_json(self._kline_event(sym, interval, closed, now_ms, continuous, True))
                )
        bar = self._bars.live_bar(sym, interval, now_ms)
        if bar is None:
            return  # no trade yet: nothing to show, and the next batch tries again
        self._open_bar[stream] = open_ms
        self._send(
            stream, self._kline_event(sym, interval, bar, now_ms, continuous, False), now_ms, KLINE_EVERY_MS
        )

    def _kline_event(
        self, sym: str, interval: str, bar: Bar, now_ms: int, continuous: bool, closed: bool
    ) -> dict[str, Any]:
        row = self._bars.kline_row(sym, bar, bucket(interval, bar.open_ms)[1])
        k = {
            "t": row[0], "T": row[6], "i": interval, "f": bar.first_id, "L": bar.last_id, "o": row[1],
            "c": row[4], "h": row[2], "l": row[3], "v": row[5], "n": row[8], "x": closed, "q": row[7],
            "V": row[9], "Q": row[10], "B": "0",
        }  # fmt: skip
        if continuous:
            return {"e": "continuous_kline", "E": now_ms, "ps": sym, "ct": "PERPETUAL", "k": k}
        return {"e": "kline", "E": now_ms, "s": sym, "k": {"t": k.pop("t"), "T": k.pop("T"), "s": sym, **k}}


# Stream key <- field of the REST ticker/24hr document, in the order Binance sends them.
_TICKER_KEYS = (
    ("p", "priceChange"), ("P", "priceChangePercent"), ("w", "weightedAvgPrice"), ("c", "lastPrice"),
    ("Q", "lastQty"), ("o", "openPrice"), ("h", "highPrice"), ("l", "lowPrice"), ("v", "volume"),
    ("q", "quoteVolume"), ("O", "openTime"), ("C", "closeTime"), ("F", "firstId"), ("L", "lastId"),
    ("n", "count"),
)  # fmt: skip
_MINI_TICKER_KEYS = (
    ("c", "lastPrice"), ("o", "openPrice"), ("h", "highPrice"), ("l", "lowPrice"), ("v", "volume"),
    ("q", "quoteVolume"),
)  # fmt: skip


def ticker_event(stats: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """`24hrTicker` from the REST ticker/24hr document of the same symbol."""
    return _ticker_doc("24hrTicker", _TICKER_KEYS, stats, now_ms)


def mini_ticker_event(stats: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    return _ticker_doc("24hrMiniTicker", _MINI_TICKER_KEYS, stats, now_ms)


def _ticker_doc(
    event: str, keys: tuple[tuple[str, str], ...], stats: Mapping[str, Any], now_ms: int
) -> dict[str, Any]:
    doc: dict[str, Any] = {"e": event, "E": now_ms, "s": stats["symbol"]}
    for key, field in keys:
        doc[key] = stats[field]
    return doc
