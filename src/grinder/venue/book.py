"""Per-symbol state of the venue: symbol rules, the L1/L2 book with lazy best-price heaps, our
resting orders (best first) and the counters and margin sums kept per symbol."""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Protocol

from grinder.core.enums import MarginType, Side
from grinder.core.errors import ErrorCode
from grinder.core.rules import SymbolRules
from grinder.venue import errors as E
from grinder.venue.account import ZERO
from grinder.venue.errors import VenueReject
from grinder.venue.fill_rule import NO_BUY, NO_SELL
from grinder.venue.orders import Order
from grinder.venue.views import TradeView


class L2Side(Protocol):
    """One side of a depth book kept by its owner (the backtester's live book sync, ADR-320): its
    levels (price ticks -> lots, no zero entries) and its best level."""

    levels: dict[int, int]

    def best(self) -> tuple[int, int] | None: ...


class MarketState:
    """Per-symbol state: rules, L1/L2 book, mark/funding, our resting orders and counters."""

    __slots__ = (
        "ask",
        "ask_heap",
        "ask_lots",
        "asks",
        "bid",
        "bid_heap",
        "bid_lots",
        "bids",
        "buys",
        "down_floor",
        "fast_ok",
        "funding_plan",
        "funding_rate",
        "funding_settled",
        "has_l2",
        "has_quote",
        "im_buy_lots",
        "im_buy_units",
        "im_open_units",
        "im_other",
        "im_sell_lots",
        "im_sell_units",
        "l2_shared",
        "last_funding_ms",
        "leverage",
        "margin_type",
        "mark",
        "max_buy",
        "max_lots",
        "max_price_t",
        "min_lots",
        "min_price_t",
        "min_sell",
        "next_funding_ms",
        "next_order_id",
        "next_trade_id",
        "open_by_cid",
        "orders",
        "orders_by_cid",
        "rules",
        "sells",
        "sweep",
        "top_ms",
        "trades",
        "unit",
    )

    def __init__(self, rules: SymbolRules, leverage: int) -> None:
        self.rules = rules
        self.unit = rules.tick_size * rules.step_size
        self.bid = 0
        self.bid_lots = 0
        self.ask = 0
        self.ask_lots = 0
        self.has_quote = False
        self.has_l2 = False
        self.top_ms = 0  # exchange time of the source of bid/ask (a book ticker or the L2 book)
        # (trade time, aggressor sign) of the last public trade: prints sharing both are one match
        self.sweep: tuple[int, int] | None = None
        # L2 levels (price ticks -> lots) with lazy-deletion heaps over their prices: every key of
        # `bids` has at least one entry -p in `bid_heap` (asks: p in `ask_heap`); entries whose price
        # left the dict are dropped when they reach the top. Best bid/ask in O(log n), not O(n).
        # The levels mirror the synced depth book exactly (only our own taker fills take from them);
        # `bid`/`ask` come from the newest of the book ticker and the book, and levels through them
        # (a book behind the ticker) are not traded against (`side_levels`).
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_heap: list[int] = []
        self.ask_heap: list[int] = []
        # While not None, `bids`/`asks` are the `levels` of these sides of a book kept elsewhere (the
        # backtester's live book sync, ADR-320): its owner applies every diff and the heaps above
        # are unused. The first write of our own (a taker fill) takes a private copy (`own_l2`).
        self.l2_shared: tuple[L2Side, L2Side] | None = None
        self.mark: Decimal | None = None
        self.funding_rate = ZERO
        self.next_funding_ms = 0  # 0 = unknown until the first mark price event
        self.last_funding_ms = 0
        # historical rates to settle by (time, rate, mark or None), next first; see set_funding_rates
        self.funding_plan: list[tuple[int, Decimal, Decimal | None]] = []
        self.funding_settled: list[int] = []  # funding times settled with a known rate
        self.buys: list[Order] = []  # resting, best first (price desc, then time priority)
        self.sells: list[Order] = []  # resting, best first (price asc, then time priority)
        self.max_buy = NO_BUY
        self.min_sell = NO_SELL
        self.next_order_id = 1
        self.next_trade_id = 1
        self.orders: dict[int, Order] = {}
        self.open_by_cid: dict[str, Order] = {}
        # Running sums over the open LIMIT orders in `open_by_cid` for the open-order margin
        # (`_track_im` keeps them; Σ remaining lots and Σ price × remaining per side, Σ price ×
        # remaining of non-closing orders) and the count of open non-LIMIT orders (priced at the
        # touch, so those fall back to a full scan).
        self.im_buy_lots = 0
        self.im_buy_units = 0
        self.im_sell_lots = 0
        self.im_sell_units = 0
        self.im_open_units = 0
        self.im_other = 0
        self.orders_by_cid: dict[str, Order] = {}  # latest order per client id, finished included
        self.trades: list[TradeView] = []
        self.leverage = leverage
        self.margin_type = MarginType.CROSSED
        # Integer filter bounds for the fast validation path (None-like 0 = not enforced).
        tick, step = rules.tick_size, rules.step_size
        self.min_price_t = int(rules.min_price / tick)
        self.max_price_t = int(rules.max_price / tick) if rules.max_price > 0 else 0
        self.fast_ok = rules.min_qty % step == 0 and rules.max_qty % step == 0
        self.min_lots = max(1, int(rules.min_qty / step))
        self.max_lots = int(rules.max_qty / step) if rules.max_qty > 0 else 0

    def set_l2(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        self.l2_shared = None
        self.bids, self.asks = bids, asks
        self.bid_heap = [-p for p in bids]
        self.ask_heap = list(asks)
        heapq.heapify(self.bid_heap)
        heapq.heapify(self.ask_heap)

    def share_l2(self, bids: L2Side, asks: L2Side) -> None:
        """Read the L2 levels from a book kept elsewhere, which applies every diff itself (ADR-320)."""
        self.l2_shared = (bids, asks)
        self.bids, self.asks = bids.levels, asks.levels
        self.bid_heap, self.ask_heap = [], []

    def own_l2(self) -> None:
        """Before the venue writes a level itself: a private copy of shared levels (no-op if owned)."""
        if self.l2_shared is not None:
            self.set_l2(dict(self.bids), dict(self.asks))

    def put_bid(self, p: int, q: int) -> None:
        if p not in self.bids:
            heapq.heappush(self.bid_heap, -p)
            if len(self.bid_heap) > 2 * len(self.bids) + 64:  # mostly stale entries: rebuild
                self.bid_heap = [-x for x in self.bids]
                self.bid_heap.append(-p)
                heapq.heapify(self.bid_heap)
        self.bids[p] = q

    def put_ask(self, p: int, q: int) -> None:
        if p not in self.asks:
            heapq.heappush(self.ask_heap, p)
            if len(self.ask_heap) > 2 * len(self.asks) + 64:
                self.ask_heap = list(self.asks)
                self.ask_heap.append(p)
                heapq.heapify(self.ask_heap)
        self.asks[p] = q

    def apply_diff(self, bids: tuple[tuple[int, int], ...], asks: tuple[tuple[int, int], ...]) -> None:
        """A depth diff's levels (absolute lots; 0 removes the level): `put_bid` / `put_ask` or a pop
        for each, written out (this loop runs for every level of every diff)."""
        book, heap, push = self.bids, self.bid_heap, heapq.heappush
        for p, q in bids:
            if q > 0:
                if p not in book:
                    push(heap, -p)
                    if len(heap) > 2 * len(book) + 64:  # mostly stale entries: rebuild
                        heap = [-x for x in book]
                        heap.append(-p)
                        heapq.heapify(heap)
                        self.bid_heap = heap
                book[p] = q
            else:
                book.pop(p, None)
        book, heap = self.asks, self.ask_heap
        for p, q in asks:
            if q > 0:
                if p not in book:
                    push(heap, p)
                    if len(heap) > 2 * len(book) + 64:
                        heap = list(book)
                        heap.append(p)
                        heapq.heapify(heap)
                        self.ask_heap = heap
                book[p] = q
            else:
                book.pop(p, None)

    def best_l2_bid(self) -> int | None:
        """Highest price in `bids` (None when empty)."""
        if self.l2_shared is not None:
            best = self.l2_shared[0].best()
            return None if best is None else best[0]
        heap, book = self.bid_heap, self.bids
        while heap:
            p = -heap[0]
            if p in book:
                return p
            heapq.heappop(heap)
        return None

    def best_l2_ask(self) -> int | None:
        """Lowest price in `asks` (None when empty)."""
        if self.l2_shared is not None:
            best = self.l2_shared[1].best()
            return None if best is None else best[0]
        heap, book = self.ask_heap, self.asks
        while heap:
            p = heap[0]
            if p in book:
                return p
            heapq.heappop(heap)
        return None

    def refresh_extremes(self) -> None:
        self.max_buy = self.buys[0].price if self.buys else NO_BUY
        self.min_sell = self.sells[0].price if self.sells else NO_SELL


def side_levels(m: MarketState, side: Side) -> list[tuple[int, int]]:
    """What a taker of `side` can trade against, best first: the touch (bid/ask with its size)
    then the deeper L2 levels; levels of a book behind the ticker, through the touch, are skipped."""
    if side is Side.BUY:
        top, top_lots, book = m.ask, m.ask_lots, m.asks
        deeper = sorted(p for p in book if p > top)
    else:
        top, top_lots, book = m.bid, m.bid_lots, m.bids
        deeper = sorted((p for p in book if p < top), reverse=True)
    return [(top, top_lots), *((p, book[p]) for p in deeper)]


def market_of(markets: dict[str, MarketState], symbol: str) -> MarketState:
    """The state of `symbol`; -1121 for a symbol the venue does not list."""
    m = markets.get(symbol)
    if m is None:
        raise VenueReject(ErrorCode.BAD_SYMBOL, E.MSG_BAD_SYMBOL)
    return m
