"""Market-data state of the simulator: books, trade ids, marks — and fan-out of each numbered event.

`MarketState.apply(batch, now_ms)` turns source inputs into core events (DepthUpdate, BookTicker,
Trade, MarkPrice) stamped with server time, and hands every event to every sink in the same order
(the venue first, then the WebSocket streams), so the venue and subscribed clients never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.sim.book import SymbolBook
from grinder.sim.inputs import BookDiff, BookReset, BookTop, MarkTick, TimedBatch, TradePrint

FUNDING_INTERVAL_MS = 8 * 3_600_000
DEFAULT_FUNDING_RATE = Decimal("0.0001")  # Binance's base rate per 8 h (interest 0.01 %)


class MarketSink(Protocol):
    """A consumer of numbered market events (the venue adapter, the WS stream publisher)."""

    def on_reset(self, snapshot: DepthSnapshot) -> None: ...
    def on_depth(self, update: DepthUpdate) -> None: ...
    def on_book_ticker(self, ticker: BookTicker) -> None: ...
    def on_trade(self, trade: Trade) -> None: ...
    def on_mark_price(self, mark: MarkPrice) -> None: ...
    def end_batch(self, now_ms: int, flush_all: bool) -> None: ...


class MarketState:
    """Books + id counters for all symbols; the only writer of market data in the simulator."""

    def __init__(self, rules: Mapping[str, SymbolRules], *, synthesize_marks: bool = False) -> None:
        """`synthesize_marks`: for data without mark prices (public-data files, captures), publish
        the mid price as mark and index once a second per symbol until the data brings real marks."""
        self.rules = dict(rules)
        self._synth_marks = dict.fromkeys(rules, synthesize_marks)
        self._next_synth_mark_ms: dict[str, int] = dict.fromkeys(rules, 0)
        self.books: dict[str, SymbolBook] = {s: SymbolBook(s) for s in rules}
        self.marks: dict[str, MarkPrice] = {}
        self.last_trade: dict[str, Trade] = {}
        # Settled funding: the mark in force when each funding time passed (GET /fapi/v1/fundingRate).
        self.funding_history: dict[str, list[MarkPrice]] = {s: [] for s in rules}
        self._trade_ids: dict[str, int] = dict.fromkeys(rules, 0)
        self.sinks: list[MarketSink] = []
        self.last_event_ms = 0
        self._apply_input: dict[type, Callable[[Any, int], None]] = {
            BookDiff: self._apply_diff,
            TradePrint: self._apply_trade,
            BookTop: self._apply_top,
            MarkTick: self._apply_mark,
            BookReset: self._apply_reset,
        }

    def apply(self, batch: TimedBatch, now_ms: int, *, flush_all: bool = False) -> None:
        """Apply one batch at server time `now_ms` and tell every sink."""
        now_ms = max(now_ms, self.last_event_ms)  # event times never step back
        self.last_event_ms = now_ms
        apply_input = self._apply_input
        for item in batch.inputs:
            apply_input[type(item)](item, now_ms)
        self._synthesize_marks(now_ms)
        for sink in self.sinks:
            sink.end_batch(now_ms, flush_all)

    def _synthesize_marks(self, now_ms: int) -> None:
        for symbol, on in self._synth_marks.items():
            if not on or now_ms < self._next_synth_mark_ms[symbol]:
                continue
            book = self.books[symbol]
            (bid, _), (ask, _) = book.best_bid, book.best_ask
            if not (bid and ask):
                continue
            self._next_synth_mark_ms[symbol] = now_ms + 1000
            mid = self.rules[symbol].tick_size * (bid + ask) / 2
            self._apply_mark(MarkTick(symbol, mid, mid, DEFAULT_FUNDING_RATE), now_ms, synthetic=True)

    # ------------------------------------------------------------------ per input kind
    def _apply_diff(self, diff: BookDiff, now_ms: int) -> None:
        book = self.books.get(diff.symbol)
        if book is None:
            return
        old_top = (book.best_bid, book.best_ask)
        update = book.apply(diff.bids, diff.asks, now_ms, now_ms, diff.ids)
        for sink in self.sinks:
            sink.on_depth(update)
        if (book.best_bid, book.best_ask) != old_top:
            ticker = book.book_ticker(now_ms, now_ms)
            for sink in self.sinks:
                sink.on_book_ticker(ticker)

    def _apply_top(self, top: BookTop, now_ms: int) -> None:
        """L1 data: replace the touch; deeper levels a previous top left behind are removed."""
        book = self.books.get(top.symbol)
        if book is None:
            return
        bids = [(p, 0) for p in book.bids if p != top.bid_ticks]
        asks = [(p, 0) for p in book.asks if p != top.ask_ticks]
        bids.append((top.bid_ticks, top.bid_lots))
        asks.append((top.ask_ticks, top.ask_lots))
        ids = None if top.update_id is None else (top.update_id, top.update_id)
        self._apply_diff(BookDiff(top.symbol, tuple(bids), tuple(asks), ids), now_ms)

    def _apply_trade(self, tp: TradePrint, now_ms: int) -> None:
        if tp.symbol not in self.books:
            return
        if tp.trade_id is None:
            self._trade_ids[tp.symbol] += 1
            trade_id = self._trade_ids[tp.symbol]
        else:
            trade_id = tp.trade_id
            self._trade_ids[tp.symbol] = max(self._trade_ids[tp.symbol], trade_id)
        trade = Trade(
            symbol=tp.symbol,
            trade_id=trade_id,
            price_ticks=tp.price_ticks,
            qty_lots=tp.qty_lots,
            buyer_is_maker=tp.buyer_is_maker,
            trade_time_ms=now_ms,
            event_time_ms=now_ms,
        )
        self.last_trade[tp.symbol] = trade
        for sink in self.sinks:
            sink.on_trade(trade)

    def _apply_mark(self, tick: MarkTick, now_ms: int, *, synthetic: bool = False) -> None:
        if tick.symbol not in self.books:
            return
        if not synthetic:
            self._synth_marks[tick.symbol] = False  # the data has its own marks
        mark = MarkPrice(
            symbol=tick.symbol,
            mark_price=tick.mark_price,
            index_price=tick.index_price,
            funding_rate=tick.funding_rate,
            next_funding_time_ms=(now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
            event_time_ms=now_ms,
        )
        previous = self.marks.get(tick.symbol)
        if previous is not None and previous.next_funding_time_ms <= now_ms:
            self.funding_history[tick.symbol].append(previous)
        self.marks[tick.symbol] = mark
        for sink in self.sinks:
            sink.on_mark_price(mark)

    def _apply_reset(self, reset: BookReset, now_ms: int) -> None:
        snap = reset.snapshot
        book = self.books.get(snap.symbol)
        if book is None:
            return
        last_id = snap.last_update_id or book.last_update_id
        snap = msgspec.structs.replace(
            snap, last_update_id=last_id, event_time_ms=now_ms, transaction_time_ms=now_ms
        )
        book.load(snap)
        for sink in self.sinks:
            sink.on_reset(snap)
        ticker = book.book_ticker(now_ms, now_ms)
        for sink in self.sinks:
            sink.on_book_ticker(ticker)

    # ------------------------------------------------------------------ reads
    def mark_price(self, symbol: str) -> Decimal | None:
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark.mark_price
        book = self.books[symbol]
        (bid, _), (ask, _) = book.best_bid, book.best_ask
        if bid and ask:
            return self.rules[symbol].tick_size * (bid + ask) / 2
        return None
