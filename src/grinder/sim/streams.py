"""Market streams: turns numbered market events into Binance stream payloads on the hub.

Depth diffs are aggregated per speed (@100ms, @250ms default, @500ms, and @0ms = every change);
each speed chains its own `pu` on the `u` it last emitted, and all of them draw their ids from the
book's one sequence (so REST lastUpdateId, bookTicker u and every diff stream agree). Partial depth
(`@depth5/10/20`) sends the top N at the same cadence. Injected gaps drop a diff but still advance
the chain, so the next event's `pu` does not match what the client saw (protocol sheet §5.3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.sim import render
from grinder.sim.book import SymbolBook
from grinder.sim.hub import StreamHub

_encode = msgspec.json.Encoder().encode
SPEEDS_MS = (0, 100, 250, 500)
PARTIAL_DEPTHS = (5, 10, 20)
MARK_SLOW_MS = 3000


def to_json(doc: Any) -> str:
    return _encode(doc).decode()


def _speed_suffix(speed: int) -> str:
    return "" if speed == 250 else f"@{speed}ms"


class _DepthAggregator:
    """Pending diff of one symbol at one speed, plus the `u` it last emitted."""

    __slots__ = (
        "asks",
        "bids",
        "diff_stream",
        "first_u",
        "last_emitted_u",
        "last_u",
        "next_flush_ms",
        "partial_streams",
        "speed",
        "symbol",
    )

    def __init__(self, symbol: str, speed: int) -> None:
        s = symbol.lower()
        self.symbol = symbol
        self.speed = speed
        self.diff_stream = f"{s}@depth{_speed_suffix(speed)}"
        self.partial_streams = tuple((n, f"{s}@depth{n}{_speed_suffix(speed)}") for n in PARTIAL_DEPTHS)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.first_u = 0
        self.last_u = 0
        self.last_emitted_u = 0
        self.next_flush_ms = 0


class MarketStreams:
    """A `MarketSink` that publishes every stream of protocol sheet §5 the simulator supports."""

    def __init__(
        self,
        hub: StreamHub,
        rules: Mapping[str, SymbolRules],
        books: Mapping[str, SymbolBook],
        take_depth_gap: Callable[[str], bool],
    ) -> None:
        self._hub = hub
        self._rules = rules
        self._books = books
        self._take_gap = take_depth_gap
        self._aggs = {sym: [_DepthAggregator(sym, sp) for sp in SPEEDS_MS] for sym in rules}
        self._lower = {sym: sym.lower() for sym in rules}
        self._next_slow_mark: dict[str, int] = dict.fromkeys(rules, 0)
        self._batch_marks: list[MarkPrice] = []
        self._next_slow_arr = 0

    # ------------------------------------------------------------------ MarketSink
    def on_reset(self, snapshot: DepthSnapshot) -> None:
        for agg in self._aggs[snapshot.symbol]:
            agg.bids.clear()
            agg.asks.clear()
            agg.first_u = 0
            agg.last_emitted_u = snapshot.last_update_id

    def on_depth(self, update: DepthUpdate) -> None:
        for agg in self._aggs[update.symbol]:
            if not self._active(agg):
                agg.last_emitted_u = update.final_update_id
                continue
            if agg.speed == 0:
                self._emit(update.symbol, agg, update)
                continue
            if not agg.first_u:
                agg.first_u = update.first_update_id
            agg.last_u = update.final_update_id
            for p, q in update.bids:
                agg.bids[p] = q
            for p, q in update.asks:
                agg.asks[p] = q

    def on_book_ticker(self, ticker: BookTicker) -> None:
        s = self._lower[ticker.symbol]
        hub = self._hub
        stream = s + "@bookTicker"
        if hub.has_subscribers(stream) or hub.has_subscribers("!bookTicker"):
            raw = to_json(render.ws_book_ticker(self._rules[ticker.symbol], ticker))
            hub.publish(stream, raw)
            hub.publish("!bookTicker", raw)

    def on_trade(self, trade: Trade) -> None:
        s = self._lower[trade.symbol]
        rules = self._rules[trade.symbol]
        if self._hub.has_subscribers(s + "@aggTrade"):
            self._hub.publish(s + "@aggTrade", to_json(render.ws_agg_trade(rules, trade)))
        if self._hub.has_subscribers(s + "@trade"):
            self._hub.publish(s + "@trade", to_json(render.ws_trade(rules, trade)))

    def on_mark_price(self, mark: MarkPrice) -> None:
        s = self._lower[mark.symbol]
        raw = to_json(render.ws_mark_price(mark))
        self._hub.publish(s + "@markPrice@1s", raw)
        if mark.event_time_ms >= self._next_slow_mark[mark.symbol]:
            self._next_slow_mark[mark.symbol] = mark.event_time_ms + MARK_SLOW_MS
            self._hub.publish(s + "@markPrice", raw)
        self._batch_marks.append(mark)

    def end_batch(self, now_ms: int, flush_all: bool) -> None:
        for aggs in self._aggs.values():
            for agg in aggs:
                if agg.speed and (flush_all or now_ms >= agg.next_flush_ms):
                    agg.next_flush_ms = (now_ms // agg.speed + 1) * agg.speed
                    self._flush(agg, now_ms)
        if self._batch_marks:
            marks, self._batch_marks = self._batch_marks, []
            slow = now_ms >= self._next_slow_arr and self._hub.has_subscribers("!markPrice@arr")
            if slow or self._hub.has_subscribers("!markPrice@arr@1s"):
                raw = to_json([render.ws_mark_price(m) for m in marks])
                self._hub.publish("!markPrice@arr@1s", raw)
                if slow:  # every 3 s, like <symbol>@markPrice
                    self._next_slow_arr = now_ms + MARK_SLOW_MS
                    self._hub.publish("!markPrice@arr", raw)

    # ------------------------------------------------------------------ internals
    def _active(self, agg: _DepthAggregator) -> bool:
        hub = self._hub
        return hub.has_subscribers(agg.diff_stream) or any(
            hub.has_subscribers(s) for _, s in agg.partial_streams
        )

    def _flush(self, agg: _DepthAggregator, now_ms: int) -> None:
        if not agg.first_u:
            return
        symbol = agg.symbol
        update = DepthUpdate(
            symbol=symbol,
            first_update_id=agg.first_u,
            final_update_id=agg.last_u,
            prev_final_update_id=agg.last_emitted_u,
            bids=tuple(sorted(agg.bids.items(), reverse=True)),
            asks=tuple(sorted(agg.asks.items())),
            event_time_ms=now_ms,
            transaction_time_ms=now_ms,
        )
        agg.bids.clear()
        agg.asks.clear()
        agg.first_u = 0
        self._emit(symbol, agg, update)

    def _emit(self, symbol: str, agg: _DepthAggregator, update: DepthUpdate) -> None:
        rules = self._rules[symbol]
        pu = agg.last_emitted_u
        agg.last_emitted_u = update.final_update_id
        hub = self._hub
        if hub.has_subscribers(agg.diff_stream) and not self._take_gap(symbol):
            if update.prev_final_update_id != pu:
                update = msgspec.structs.replace(update, prev_final_update_id=pu)
            hub.publish(agg.diff_stream, to_json(render.ws_depth(rules, update)))
        book = self._books[symbol]
        for depth, stream in agg.partial_streams:
            if hub.has_subscribers(stream):
                bids, asks = book.top(depth)
                doc = render.ws_depth(
                    rules,
                    msgspec.structs.replace(update, prev_final_update_id=pu, bids=bids, asks=asks),
                )
                hub.publish(stream, to_json(doc))
