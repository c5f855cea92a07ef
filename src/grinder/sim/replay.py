"""Replay source: recorded market data (via `grinder.data` readers) as simulator input batches.

Binance public-data CSV/Parquet (bookTicker, aggTrades) and raw stream captures are read by
`grinder.data.iter_events`. Depth diffs are replayed with their own U/u ids once a REST snapshot
of that symbol has been seen (diffs ending before it are dropped, as in §5.3); until then, and in
L1-only data, bookTicker rows set the touch. Events sharing one exchange millisecond form a batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.data import event_time_ms, iter_events
from grinder.sim.inputs import BookDiff, BookReset, BookTop, MarketInput, MarkTick, TimedBatch, TradePrint


def replay_source(path: str, rules: Mapping[str, SymbolRules]) -> Iterator[TimedBatch]:
    """Batches from a data file or directory, in exchange-time order."""
    events = iter_events([path], dict(rules))
    snapshot_id: dict[str, int] = {}
    batch: list[MarketInput] = []
    batch_time = -1
    for ev in events:
        item = _to_input(ev, snapshot_id)
        if item is None or item_symbol(item) not in rules:
            continue
        t = event_time_ms(ev)
        if batch and t != batch_time:
            yield TimedBatch(batch_time, tuple(batch))
            batch = []
        batch_time = max(t, batch_time)
        batch.append(item)
    if batch:
        yield TimedBatch(batch_time, tuple(batch))


def item_symbol(item: MarketInput) -> str:
    return item.snapshot.symbol if isinstance(item, BookReset) else item.symbol


def _to_input(ev: object, snapshot_id: dict[str, int]) -> MarketInput | None:
    if isinstance(ev, DepthSnapshot):
        snapshot_id[ev.symbol] = ev.last_update_id
        return BookReset(ev)
    if isinstance(ev, DepthUpdate):
        last = snapshot_id.get(ev.symbol)
        if last is None or ev.final_update_id < last:
            return None
        return BookDiff(ev.symbol, ev.bids, ev.asks, (ev.first_update_id, ev.final_update_id))
    if isinstance(ev, BookTicker):
        if ev.symbol in snapshot_id:
            return None  # the L2 book (fed by diffs) defines the touch
        return BookTop(ev.symbol, ev.bid_ticks, ev.bid_lots, ev.ask_ticks, ev.ask_lots, ev.update_id or None)
    if isinstance(ev, Trade):
        return TradePrint(ev.symbol, ev.price_ticks, ev.qty_lots, ev.buyer_is_maker, ev.trade_id)
    if isinstance(ev, MarkPrice):
        return MarkTick(ev.symbol, ev.mark_price, ev.index_price, ev.funding_rate)
    return None
