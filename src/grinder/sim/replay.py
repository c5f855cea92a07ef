"""Replay source: recorded market data (via `grinder.data` readers) as simulator input batches.

Binance public-data CSV/Parquet (bookTicker, aggTrades) and raw stream captures are read by
`grinder.data.iter_events`. Depth diffs are replayed with their own U/u ids once a REST snapshot
of that symbol has been seen: diffs read before it are buffered and those with u ≥ lastUpdateId
are applied right after it (§5.3); until then, and in L1-only data, bookTicker rows set the touch.
Recorded exchange times can step back a little across streams, so diffs are re-chained on `pu`
before they are applied. Events sharing one exchange millisecond form a batch.
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
    chains: dict[str, _DiffChain] = {}
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


class _DiffChain:
    """Puts one symbol's recorded diffs back in `pu` order after its snapshot (§5.3 rules)."""

    MAX_HELD = 64  # a real gap in the recording: give up waiting and continue from the lowest id

    def __init__(self) -> None:
        self.snapshot_id: int | None = None
        self.last_u = 0
        self.held: dict[int, DepthUpdate] = {}  # pu -> diff waiting for its predecessor

    def on_snapshot(self, last_update_id: int) -> list[BookDiff]:
        self.snapshot_id = self.last_u = last_update_id
        early = sorted(self.held.values(), key=lambda d: d.final_update_id)
        self.held = {}
        out: list[BookDiff] = []
        for d in early:
            out += self.on_diff(d)
        return out

    def on_diff(self, ev: DepthUpdate) -> list[BookDiff]:
        if self.snapshot_id is None:
            self.held[ev.prev_final_update_id] = ev
            return []
        if ev.final_update_id <= self.last_u and self.last_u != self.snapshot_id:
            return []  # already applied or older than the book
        if ev.final_update_id < self.snapshot_id:
            return []
        first = self.last_u == self.snapshot_id and ev.first_update_id <= self.last_u <= ev.final_update_id
        if not first and ev.prev_final_update_id != self.last_u:
            self.held[ev.prev_final_update_id] = ev
            if len(self.held) <= self.MAX_HELD:
                return []
            ev = self.held.pop(min(self.held))
        out = [_diff(ev)]
        self.last_u = ev.final_update_id
        while self.last_u in self.held:
            nxt = self.held.pop(self.last_u)
            out.append(_diff(nxt))
            self.last_u = nxt.final_update_id
        return out


def item_symbol(item: MarketInput) -> str:
    return item.snapshot.symbol if isinstance(item, BookReset) else item.symbol


def _to_inputs(ev: object, chains: dict[str, _DiffChain]) -> list[MarketInput]:
    if isinstance(ev, DepthSnapshot):
        chain = chains.setdefault(ev.symbol, _DiffChain())
        return [BookReset(ev), *chain.on_snapshot(ev.last_update_id)]
    if isinstance(ev, DepthUpdate):
        return list(chains.setdefault(ev.symbol, _DiffChain()).on_diff(ev))
    if isinstance(ev, BookTicker):
        known = chains.get(ev.symbol)
        if known is not None and known.snapshot_id is not None:
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
