"""Replay source: recorded market data (via `grinder.data` readers) as simulator input batches.

Binance public-data CSV/Parquet (bookTicker, aggTrades) and raw stream captures are read by
`grinder.data.iter_events`. Depth diffs go through the live book sync (`LocalOrderBook`, §5.3, the
same one the backtester and the live engine use) and are replayed with their own U/u ids once a
REST snapshot of that symbol has been seen: diffs read before it are buffered and those it does not
cover are applied right after it; until then, after a broken chain, and in L1-only data, bookTicker
rows set the touch. Events sharing one exchange millisecond form a batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from grinder.binance.book import LocalOrderBook
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.data import event_time_ms, iter_events
from grinder.sim.inputs import BookDiff, BookReset, BookTop, MarketInput, MarkTick, TimedBatch, TradePrint


def replay_source(path: str, rules: Mapping[str, SymbolRules]) -> Iterator[TimedBatch]:
    """Batches from a data file or directory, in exchange-time order."""
    events = iter_events([path], dict(rules))
    chains: dict[str, _DepthSync] = {}
    batch: list[MarketInput] = []
    batch_time = -1
    for ev in events:
        items = _to_inputs(ev, chains)
        if not items or item_symbol(items[0]) not in rules:
            continue
        t = event_time_ms(ev)
        if batch and t != batch_time:
            yield TimedBatch(batch_time, tuple(batch))
            batch = []
        batch_time = max(t, batch_time)
        batch.extend(items)
    if batch:
        yield TimedBatch(batch_time, tuple(batch))


class _DepthSync:
    """One symbol's recorded diffs through the live book sync (`LocalOrderBook`, protocol §5.3): what it
    accepts becomes simulator input; a break (counted by the book's resync metric and log) hands the
    touch back to the book ticker until the next snapshot."""

    def __init__(self, symbol: str) -> None:
        self.accepted: list[MarketInput] = []
        self.book = LocalOrderBook(symbol, on_apply=self._accept)

    def _accept(self, change: DepthSnapshot | DepthUpdate) -> None:
        self.accepted.append(BookReset(change) if isinstance(change, DepthSnapshot) else _diff(change))

    def feed(self, ev: DepthSnapshot | DepthUpdate) -> list[MarketInput]:
        self.accepted = []
        if isinstance(ev, DepthSnapshot):
            self.book.apply_snapshot(ev)
        else:
            self.book.on_diff(ev)
        return self.accepted

    @property
    def defines_touch(self) -> bool:
        """True while the depth book is in use (tickers are then ignored: the book sets the touch)."""
        return not self.book.needs_snapshot


def item_symbol(item: MarketInput) -> str:
    return item.snapshot.symbol if isinstance(item, BookReset) else item.symbol


def _to_inputs(ev: object, chains: dict[str, _DepthSync]) -> list[MarketInput]:
    if isinstance(ev, DepthSnapshot | DepthUpdate):
        sync = chains.get(ev.symbol)
        if sync is None:
            sync = chains[ev.symbol] = _DepthSync(ev.symbol)
        return sync.feed(ev)
    if isinstance(ev, BookTicker):
        known = chains.get(ev.symbol)
        if known is not None and known.defines_touch:
            return []  # the L2 book (fed by diffs) defines the touch
        return [
            BookTop(ev.symbol, ev.bid_ticks, ev.bid_lots, ev.ask_ticks, ev.ask_lots, ev.update_id or None)
        ]
    if isinstance(ev, Trade):
        return [TradePrint(ev.symbol, ev.price_ticks, ev.qty_lots, ev.buyer_is_maker, ev.trade_id)]
    if isinstance(ev, MarkPrice):
        return [MarkTick(ev.symbol, ev.mark_price, ev.index_price, ev.funding_rate)]
    return []


def _diff(ev: DepthUpdate) -> BookDiff:
    return BookDiff(ev.symbol, ev.bids, ev.asks, (ev.first_update_id, ev.final_update_id))
