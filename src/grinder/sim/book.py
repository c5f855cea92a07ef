"""One symbol's L2 order book and its update-id sequence: the single source of U/u/pu, lastUpdateId and u.

Every change to the book goes through `apply`, which numbers it; REST depth, bookTicker and every
depth stream read their ids from here, so a client syncing by protocol sheet §5.3 sees one chain.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, Level


class SymbolBook:
    """Price level → quantity (ticks → lots) per side, with a cached best bid/ask."""

    __slots__ = ("_best_ask", "_best_bid", "asks", "bids", "last_update_id", "symbol")

    def __init__(self, symbol: str, first_update_id: int = 1_000_000) -> None:
        self.symbol = symbol
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last_update_id = first_update_id
        self._best_bid = 0
        self._best_ask = 0

    # ------------------------------------------------------------------ reads
    @property
    def best_bid(self) -> tuple[int, int]:
        """(ticks, lots) of the best bid; (0, 0) when the side is empty."""
        return (self._best_bid, self.bids.get(self._best_bid, 0)) if self._best_bid else (0, 0)

    @property
    def best_ask(self) -> tuple[int, int]:
        return (self._best_ask, self.asks.get(self._best_ask, 0)) if self._best_ask else (0, 0)

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best `depth` levels per side, best first."""
        bids = tuple(heapq.nlargest(depth, self.bids.items()))
        asks = tuple(heapq.nsmallest(depth, self.asks.items()))
        return bids, asks

    def snapshot(self, depth: int, event_time_ms: int, transaction_time_ms: int) -> DepthSnapshot:
        bids, asks = self.top(depth)
        return DepthSnapshot(
            symbol=self.symbol,
            last_update_id=self.last_update_id,
            bids=bids,
            asks=asks,
            event_time_ms=event_time_ms,
            transaction_time_ms=transaction_time_ms,
        )

    def book_ticker(self, event_time_ms: int, transaction_time_ms: int) -> BookTicker:
        bid, bid_lots = self.best_bid
        ask, ask_lots = self.best_ask
        return BookTicker(
            symbol=self.symbol,
            bid_ticks=bid,
            bid_lots=bid_lots,
            ask_ticks=ask,
            ask_lots=ask_lots,
            update_id=self.last_update_id,
            event_time_ms=event_time_ms,
            transaction_time_ms=transaction_time_ms,
        )

    # ------------------------------------------------------------------ writes
    def load(self, snapshot: DepthSnapshot) -> None:
        """Replace the whole book (start of a replay, or the synthetic market's first book)."""
        self.bids = {p: q for p, q in snapshot.bids if q > 0}
        self.asks = {p: q for p, q in snapshot.asks if q > 0}
        self.last_update_id = snapshot.last_update_id
        self._best_bid = max(self.bids, default=0)
        self._best_ask = min(self.asks, default=0)

    def apply(
        self,
        bids: Iterable[Level],
        asks: Iterable[Level],
        event_time_ms: int,
        transaction_time_ms: int,
        ids: tuple[int, int] | None = None,
    ) -> DepthUpdate:
        """Apply absolute level quantities (0 deletes) and number the change.

        `ids` = (U, u) from a recording; None assigns the next ids (one per changed level).
        """
        bid_list = list(bids)
        ask_list = list(asks)
        prev = self.last_update_id
        if ids is None:
            first, final = prev + 1, prev + max(1, len(bid_list) + len(ask_list))
        else:
            first, final = ids
        for price, qty in bid_list:
            self._set(self.bids, price, qty, is_bid=True)
        for price, qty in ask_list:
            self._set(self.asks, price, qty, is_bid=False)
        self.last_update_id = final
        return DepthUpdate(
            symbol=self.symbol,
            first_update_id=first,
            final_update_id=final,
            prev_final_update_id=prev,
            bids=tuple(bid_list),
            asks=tuple(ask_list),
            event_time_ms=event_time_ms,
            transaction_time_ms=transaction_time_ms,
        )

    def _set(self, side: dict[int, int], price: int, qty: int, *, is_bid: bool) -> None:
        if qty > 0:
            side[price] = qty
            if is_bid:
                if price > self._best_bid:
                    self._best_bid = price
            elif self._best_ask == 0 or price < self._best_ask:
                self._best_ask = price
            return
        if side.pop(price, None) is None:
            return
        if is_bid and price == self._best_bid:
            self._best_bid = max(side, default=0)
        elif not is_bid and price == self._best_ask:
            self._best_ask = min(side, default=0)
