"""Local L2 order book of one symbol, kept in sync by the USDⓈ-M algorithm (protocol sheet §5.3).

Diffs are buffered until a REST snapshot arrives; diffs with `u < lastUpdateId` are dropped; the
first applied diff must satisfy `U ≤ lastUpdateId ≤ u`; every later diff must have
`pu == previous u`. Any break discards the book and asks for a new snapshot. An out-of-sync book
is never served: its accessors raise `BookNotSynced`. Prices are ticks, quantities lots.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from grinder.binance import metrics
from grinder.binance.errors import BookNotSynced
from grinder.core.events import DepthSnapshot, DepthUpdate, Level

log = logging.getLogger(__name__)


class BookState(StrEnum):
    AWAITING_SNAPSHOT = "awaiting_snapshot"  # buffering diffs; a REST snapshot is needed
    AWAITING_FIRST_DIFF = "awaiting_first_diff"  # snapshot applied; next diff must span it
    SYNCED = "synced"


class _Side:
    """One side of the book: level map plus a lazy heap for the best price."""

    __slots__ = ("_heap", "_sign", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.levels: dict[int, int] = {}
        self._heap: list[int] = []
        self._sign = -1 if is_bid else 1

    def clear(self) -> None:
        self.levels.clear()
        self._heap.clear()

    def set(self, price: int, qty: int) -> None:
        levels = self.levels
        if qty:
            if price not in levels:
                heapq.heappush(self._heap, self._sign * price)
            levels[price] = qty
        else:
            levels.pop(price, None)  # removing an unknown level is normal

    def apply(self, changes: tuple[Level, ...]) -> None:
        """`set` for a batch of levels, inlined: this loop is the book's hot path."""
        levels, heap, sign, push = self.levels, self._heap, self._sign, heapq.heappush
        for price, qty in changes:
            if qty:
                if price not in levels:
                    push(heap, sign * price)
                levels[price] = qty
            else:
                levels.pop(price, None)

    def best(self) -> Level | None:
        heap, levels, sign = self._heap, self.levels, self._sign
        while heap:
            price = sign * heap[0]
            qty = levels.get(price)
            if qty:
                return price, qty
            heapq.heappop(heap)
        return None

    def compact(self) -> None:
        if len(self._heap) > 4 * len(self.levels) + 64:
            self._heap = [self._sign * p for p in self.levels]
            heapq.heapify(self._heap)

    def top(self, n: int) -> list[Level]:
        prices = heapq.nlargest(n, self.levels) if self._sign < 0 else heapq.nsmallest(n, self.levels)
        return [(p, self.levels[p]) for p in prices]


class LocalOrderBook:
    """The book of one symbol. Feed it every depth diff (`on_diff`) and snapshots (`apply_snapshot`).

    `on_apply`, if given, is called with the snapshot when it is loaded and with every diff the
    book applies (buffered ones included, in order): a consumer that mirrors the book (the backtest
    venue) sees exactly the changes the sync accepted.
    """

    def __init__(
        self,
        symbol: str,
        *,
        max_buffer: int = 10_000,
        on_apply: Callable[[DepthSnapshot | DepthUpdate], None] | None = None,
    ) -> None:
        self.symbol = symbol
        self._on_apply = on_apply
        self._bids = _Side(True)
        self._asks = _Side(False)
        self._buffer: deque[DepthUpdate] = deque(maxlen=max_buffer)
        self.state = BookState.AWAITING_SNAPSHOT
        self.last_update_id = 0  # `u` of the last applied diff (or the snapshot's lastUpdateId)
        self.snapshot_update_id = 0
        self.event_time_ms = 0
        self.transaction_time_ms = 0
        self.resyncs = 0
        self._applied = 0
        metrics.BOOK_SYNCED.labels(symbol).set(0)

    # ----------------------------------------------------------------- state
    @property
    def is_synced(self) -> bool:
        return self.state is BookState.SYNCED

    @property
    def needs_snapshot(self) -> bool:
        return self.state is BookState.AWAITING_SNAPSHOT

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def invalidate(self, reason: str) -> None:
        """Discard the book; it serves nothing until a new snapshot lines up with the diffs."""
        if self.state is not BookState.AWAITING_SNAPSHOT or self._bids.levels:
            self.resyncs += 1
            metrics.BOOK_RESYNCS_TOTAL.labels(self.symbol, reason).inc()
            log.warning(
                "book_resync symbol=%s reason=%s last_update_id=%d", self.symbol, reason, self.last_update_id
            )
        self.state = BookState.AWAITING_SNAPSHOT
        self._bids.clear()
        self._asks.clear()
        metrics.BOOK_SYNCED.labels(self.symbol).set(0)

    # ----------------------------------------------------------------- input
    def on_diff(self, ev: DepthUpdate) -> bool:
        """Feed one depth diff. Returns True if the book (still) needs a snapshot."""
        state = self.state
        if state is BookState.SYNCED:
            if ev.prev_final_update_id == self.last_update_id:
                self._apply(ev)
                return False
            if ev.final_update_id <= self.last_update_id:
                return False  # a repeat of something already applied (e.g. after reconnect)
            self.invalidate("gap")
            self._buffer.append(ev)
            return True
        if state is BookState.AWAITING_FIRST_DIFF:
            self._first_diff(ev)
            return self.state is BookState.AWAITING_SNAPSHOT
        self._buffer.append(ev)
        return True

    def apply_snapshot(self, snap: DepthSnapshot) -> bool:
        """Load a REST snapshot and replay the buffer. Returns True when the book is in sync (or will
        be with the next diff); False when the snapshot is older than the buffered diffs (fetch again).
        """
        if snap.symbol != self.symbol:
            raise ValueError(f"snapshot of {snap.symbol} given to the book of {self.symbol}")
        self._bids.clear()
        self._asks.clear()
        self._bids.apply(snap.bids)
        self._asks.apply(snap.asks)
        self.last_update_id = snap.last_update_id
        self.snapshot_update_id = snap.last_update_id
        self.event_time_ms = snap.event_time_ms
        self.transaction_time_ms = snap.transaction_time_ms
        self.state = BookState.AWAITING_FIRST_DIFF
        if self._on_apply is not None:
            self._on_apply(snap)
        buffered = list(self._buffer)
        self._buffer.clear()
        for ev in buffered:
            if self.state is BookState.AWAITING_SNAPSHOT:
                self._buffer.append(ev)  # keep buffering for the next snapshot
            else:
                self.on_diff(ev)
        return self.state is not BookState.AWAITING_SNAPSHOT

    def _first_diff(self, ev: DepthUpdate) -> None:
        lid = self.snapshot_update_id
        if ev.final_update_id < lid:
            return  # older than the snapshot: drop
        if ev.first_update_id <= lid <= ev.final_update_id:
            self._apply(ev)
            self.state = BookState.SYNCED
            metrics.BOOK_SYNCED.labels(self.symbol).set(1)
            log.info("book_synced symbol=%s update_id=%d", self.symbol, ev.final_update_id)
            return
        # The snapshot is older than the first diff we have: the gap cannot be bridged.
        self.invalidate("snapshot_too_old")
        self._buffer.append(ev)

    def _apply(self, ev: DepthUpdate) -> None:
        bids, asks = self._bids, self._asks
        bids.apply(ev.bids)
        asks.apply(ev.asks)
        self.last_update_id = ev.final_update_id
        self.event_time_ms = ev.event_time_ms
        self.transaction_time_ms = ev.transaction_time_ms
        self._applied += 1
        if not self._applied & 1023:
            bids.compact()
            asks.compact()
        if self._on_apply is not None:
            self._on_apply(ev)

    # ----------------------------------------------------------------- output (synced only)
    def _check(self) -> None:
        if self.state is not BookState.SYNCED:
            raise BookNotSynced(
                f"order book of {self.symbol} is not in sync ({self.state.value}); "
                "wait for is_synced before reading it"
            )

    def best_bid(self) -> Level | None:
        """(price_ticks, qty_lots) of the best bid; None if the side is empty. Raises if not synced."""
        self._check()
        return self._bids.best()

    def best_ask(self) -> Level | None:
        self._check()
        return self._asks.best()

    def bids(self, depth: int = 20) -> list[Level]:
        """Best `depth` bid levels, best first."""
        self._check()
        return self._bids.top(depth)

    def asks(self, depth: int = 20) -> list[Level]:
        self._check()
        return self._asks.top(depth)

    def sides(self) -> tuple[_Side, _Side]:
        """The (bids, asks) sides themselves, whatever the sync state: `levels` (price ticks -> lots)
        and `best()`, updated in place by every diff and emptied on a resync. For a consumer that
        reads the book without a copy of its own (the backtest venue, ADR-320); never write to them."""
        return self._bids, self._asks

    def levels(self) -> tuple[dict[int, int], dict[int, int]]:
        """Copies of every (price ticks -> lots) level per side, whatever the sync state (for tests
        and for comparing books; trading code reads `best_bid` / `bids`, which refuse a stale book)."""
        return dict(self._bids.levels), dict(self._asks.levels)
