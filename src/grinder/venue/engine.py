"""`Venue`: the one deterministic model of Binance USDⓈ-M matching and accounts.

Market events move per-symbol book state; our orders rest in that book with a queue position
(or under the REFERENCE_GRID touch rule) and fill as maker, or take liquidity at placement as taker.
One USDT account spans all symbols: positions, fees, funding, margin, liquidation estimate. Every
change to our orders and account is emitted as the user-data events Binance would send. Pure: no
I/O, no clock reads (every call carries `now_ms` or an event time), randomness only from the seed.
"""

from __future__ import annotations

import functools
import heapq
import random
import string
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from grinder.core.commands import AmendOrder, PlaceOrder
from grinder.core.enums import (
    ExecutionType,
    MarginType,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from grinder.core.events import (
    AccountUpdate,
    BalanceChange,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    MarkPrice,
    OrderUpdate,
    PositionChange,
    Trade,
)
from grinder.core.ids import is_valid_client_order_id
from grinder.core.rules import OrderRuleError, SymbolRules
from grinder.venue import errors as E
from grinder.venue.account import (
    ZERO,
    Position,
    liquidation_price,
    maint_margin,
    margin_type_wire,
    money,
    unrealized_pnl,
)
from grinder.venue.conditional import ConditionalOrders
from grinder.venue.config import VenueConfig
from grinder.venue.errors import VenueReject
from grinder.venue.views import BalanceView, IncomeView, OrderView, PositionView, TradeView

_NO_BUY = -1
_NO_SELL = 1 << 62
_UNKNOWN = -1  # queue position not yet known (L1 only, order placed behind the touch)
_CID_ALPHABET = string.ascii_letters + string.digits
_MAX_MODIFY = 10_000

# Expiry reasons (`er`, protocol sheet §4.1).
ER_IOC = 2
ER_REDUCE_ONLY = 4
ER_MARKET = 9
ER_FOK = 10
ER_GTX = 11

UserEvent = OrderUpdate | AccountUpdate


class _Order:
    """A live or finished order of ours (mutable inside the venue; handed out as `OrderView`)."""

    __slots__ = (
        "ahead",
        "cid",
        "closing",
        "executed",
        "expiry_reason",
        "level_lots",
        "modify_count",
        "order_id",
        "orig",
        "otype",
        "price",
        "priority",
        "pside",
        "quote_units",
        "reduce_only",
        "side",
        "sign",
        "status",
        "sweep",
        "symbol",
        "tif",
        "time_ms",
        "traded_at_level",
        "update_ms",
    )

    def __init__(
        self,
        order_id: int,
        symbol: str,
        cid: str,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        price: int,
        qty: int,
        reduce_only: bool,
        pside: PositionSide,
        now_ms: int,
    ) -> None:
        self.order_id = order_id
        self.symbol = symbol
        self.cid = cid
        self.side = side
        self.sign = side.sign
        self.otype = otype
        self.tif = tif
        self.price = price
        self.orig = qty
        self.executed = 0
        self.quote_units = 0  # Σ fill price_ticks × lots
        self.reduce_only = reduce_only
        self.pside = pside
        # Hedge-mode closes (SELL LONG / BUY SHORT) behave like reduce-only orders.
        self.closing = (
            reduce_only
            or (pside is PositionSide.LONG and side is Side.SELL)
            or (pside is PositionSide.SHORT and side is Side.BUY)
        )
        self.status = OrderStatus.NEW
        self.time_ms = now_ms
        self.update_ms = now_ms
        self.ahead = 0
        self.level_lots = 0
        self.traded_at_level = 0
        self.modify_count = 0
        self.expiry_reason = 0
        self.priority = 0
        self.sweep: tuple[int, int] | None = None  # the taker sweep in progress when it rested

    @property
    def remaining(self) -> int:
        return self.orig - self.executed


class _Market:
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
        self.mark: Decimal | None = None
        self.funding_rate = ZERO
        self.next_funding_ms = 0  # 0 = unknown until the first mark price event
        self.last_funding_ms = 0
        # historical rates to settle by (time, rate, mark or None), next first; see set_funding_rates
        self.funding_plan: list[tuple[int, Decimal, Decimal | None]] = []
        self.funding_settled: list[int] = []  # funding times settled with a known rate
        self.buys: list[_Order] = []  # resting, best first (price desc, then time priority)
        self.sells: list[_Order] = []  # resting, best first (price asc, then time priority)
        self.max_buy = _NO_BUY
        self.min_sell = _NO_SELL
        self.next_order_id = 1
        self.next_trade_id = 1
        self.orders: dict[int, _Order] = {}
        self.open_by_cid: dict[str, _Order] = {}
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
        self.orders_by_cid: dict[str, _Order] = {}  # latest order per client id, finished included
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
        self.bids, self.asks = bids, asks
        self.bid_heap = [-p for p in bids]
        self.ask_heap = list(asks)
        heapq.heapify(self.bid_heap)
        heapq.heapify(self.ask_heap)

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

    def best_l2_bid(self) -> int | None:
        """Highest price in `bids` (None when empty)."""
        heap, book = self.bid_heap, self.bids
        while heap:
            p = -heap[0]
            if p in book:
                return p
            heapq.heappop(heap)
        return None

    def best_l2_ask(self) -> int | None:
        """Lowest price in `asks` (None when empty)."""
        heap, book = self.ask_heap, self.asks
        while heap:
            p = heap[0]
            if p in book:
                return p
            heapq.heappop(heap)
        return None

    def refresh_extremes(self) -> None:
        self.max_buy = self.buys[0].price if self.buys else _NO_BUY
        self.min_sell = self.sells[0].price if self.sells else _NO_SELL


class Venue:
    """Deterministic Binance USDⓈ-M matching engine and account for many symbols (see docs/venue.md).

    Market data: `on_book_ticker`, `on_trade`, `on_depth_snapshot`, `on_depth_update`,
    `on_mark_price` (events in exchange time order), or the vectorised `apply_quotes` /
    `apply_trades` fast path. Orders: wire-level `new_order` / `modify_order` / `cancel_order`
    (Decimal inputs, Binance validation) or integer `place` / `amend`. Rejections raise
    `VenueReject(code, msg)`. User-data events accumulate until `drain_events()`.
    """

    def __init__(self, config: VenueConfig, rules: Mapping[str, SymbolRules]) -> None:
        if not rules:
            raise ValueError("Venue needs the SymbolRules of at least one symbol")
        self.config = config
        self._queue_model = config.fill_model == "queue"
        self._markets: dict[str, _Market] = {
            sym: _Market(r, config.default_leverage) for sym, r in sorted(rules.items())
        }
        for sym, r in rules.items():
            if sym != r.symbol:
                raise ValueError(f"rules mapping key {sym!r} does not match SymbolRules.symbol {r.symbol!r}")
        self._rng = random.Random(config.seed)
        self._asset = config.asset
        self._wallet = money(config.initial_balance)
        self._dual = config.dual_side_position
        self._positions: dict[tuple[str, PositionSide], Position] = {}
        self._events: list[UserEvent] = []
        self._income: list[IncomeView] = []
        self._next_tran_id = 1
        self._priority = 0
        self._update_ms = 0
        # Latency-delayed commands: (arrival_ms, seq, action).
        self._pending: list[tuple[int, int, Callable[[int], None]]] = []
        self._pending_seq = 0
        self._next_due_ms = _NO_SELL
        self.late_rejects: list[tuple[int, str, int, VenueReject]] = []  # (time, symbol, order id, reject)
        self.conditional = ConditionalOrders(self)  # algo orders, triggered from on_trade / on_mark_price

    # ================================================================ market data
    def _market(self, symbol: str) -> _Market:
        m = self._markets.get(symbol)
        if m is None:
            raise VenueReject(-1121, E.MSG_BAD_SYMBOL)
        return m

    def on_book_ticker(self, ev: BookTicker) -> None:
        """Best bid/ask update: matches resting orders the new quote reaches."""
        m = self._markets.get(ev.symbol)
        if m is None:
            raise VenueReject(-1121, E.MSG_BAD_SYMBOL)
        t = ev.transaction_time_ms
        if t >= self._next_due_ms:
            self._run_due(t)
        m.bid = ev.bid_ticks
        m.bid_lots = ev.bid_lots
        m.ask = ev.ask_ticks
        m.ask_lots = ev.ask_lots
        m.has_quote = True
        m.top_ms = t
        if self._queue_model:
            if ev.bid_ticks <= m.max_buy or ev.ask_ticks >= m.min_sell:
                self._match_quote_queue(m, t)
        elif ev.ask_ticks <= m.max_buy or ev.bid_ticks >= m.min_sell:
            self._match_touch(m, ev.ask_ticks, ev.bid_ticks, t)

    def on_trade(self, ev: Trade) -> None:
        """A public trade: consumes queue ahead of our orders at its price; fills orders it trades through."""
        m = self._markets.get(ev.symbol)
        if m is None:
            raise VenueReject(-1121, E.MSG_BAD_SYMBOL)
        t = ev.trade_time_ms
        if t >= self._next_due_ms:
            self._run_due(t)
        p = ev.price_ticks
        sweep = (t, 1 if ev.buyer_is_maker else -1)
        m.sweep = sweep
        if p <= m.max_buy or p >= m.min_sell:
            if self._queue_model:
                self._match_trade_queue(m, p, ev.qty_lots, ev.aggressor, t, sweep)
            else:
                self._match_touch(m, p, p, t, sweep)
        if self.conditional.orders:
            self.conditional.on_price(ev.symbol, t, last=m.rules.tick_size * p)

    def on_depth_snapshot(self, ev: DepthSnapshot) -> None:
        """Replace the L2 book; our orders' queue positions are re-observed at their levels."""
        m = self._market(ev.symbol)
        t = ev.transaction_time_ms
        if t >= self._next_due_ms:
            self._run_due(t)
        m.has_l2 = True
        m.set_l2({p: q for p, q in ev.bids if q > 0}, {p: q for p, q in ev.asks if q > 0})
        self._after_l2_change(m, None, None, t)  # every level may have changed

    def on_depth_update(self, ev: DepthUpdate) -> None:
        """Apply a depth diff (absolute quantities; 0 removes a level)."""
        m = self._market(ev.symbol)
        t = ev.transaction_time_ms
        if t >= self._next_due_ms:
            self._run_due(t)
        m.has_l2 = True
        for p, q in ev.bids:
            if q > 0:
                m.put_bid(p, q)
            else:
                m.bids.pop(p, None)
        for p, q in ev.asks:
            if q > 0:
                m.put_ask(p, q)
            else:
                m.asks.pop(p, None)
        self._after_l2_change(m, {p for p, _ in ev.bids}, {p for p, _ in ev.asks}, t)

    def drop_l2(self, symbol: str) -> None:
        """Forget the L2 book (its sync broke): until the next snapshot, the book ticker is the market."""
        m = self._market(symbol)
        m.has_l2 = False
        m.set_l2({}, {})

    def on_mark_price(self, ev: MarkPrice) -> None:
        """Mark price and funding rate; funding settles at the announced funding time."""
        m = self._market(ev.symbol)
        t = ev.event_time_ms
        if t >= self._next_due_ms:
            self._run_due(t)
        m.mark = ev.mark_price
        if m.funding_plan:
            return  # historical rates decide the times and rates (set_funding_rates)
        m.funding_rate = ev.funding_rate
        announced = ev.next_funding_time_ms
        if announced <= 0 and m.next_funding_ms == 0:
            # No funding time on the stream: Binance's default grid, 00/08/16 UTC (epoch-aligned).
            interval = self.config.funding_interval_ms
            announced = (t // interval + 1) * interval
        if announced > m.last_funding_ms and announced > 0 and announced != m.next_funding_ms:
            m.next_funding_ms = announced
            self._recompute_due()
        if self.conditional.orders:
            self.conditional.on_price(ev.symbol, t, mark=ev.mark_price)

    def set_funding_rates(
        self, symbol: str, rates: Sequence[tuple[int, Decimal, Decimal | None]], after_ms: int
    ) -> None:
        """Settle funding of `symbol` at these historical (time, rate, mark) points after `after_ms`
        (Binance's fundingRate history), instead of the rates announced by mark-price events. The
        mark price used is the point's, else the last mark event's, else the L1 mid (ADR-121)."""
        m = self._market(symbol)
        m.funding_plan = sorted(p for p in rates if p[0] > after_ms)
        m.next_funding_ms = m.funding_plan[0][0] if m.funding_plan else 0
        self._recompute_due()

    def funding_settled(self, symbol: str) -> list[int]:
        """Funding times of `symbol` settled with a known rate (a payment of 0 when flat included)."""
        return list(self._market(symbol).funding_settled)

    def advance_to(self, now_ms: int) -> None:
        """Move venue time: releases latency-delayed commands and settles funding due by `now_ms`."""
        if now_ms >= self._next_due_ms:
            self._run_due(now_ms)

    # ---------------------------------------------------------------- vectorised fast path
    def apply_quotes(
        self,
        symbol: str,
        bid_ticks: npt.NDArray[np.int64],
        bid_lots: npt.NDArray[np.int64],
        ask_ticks: npt.NDArray[np.int64],
        ask_lots: npt.NDArray[np.int64],
        times_ms: npt.NDArray[np.int64],
        start: int = 0,
        end: int | None = None,
    ) -> int:
        """Fast-forward over quotes that cannot change any of our orders.

        Scans quotes `start, start+1, ...` (arrays of equal length, times ascending) and returns the
        index `k` of the first quote that touches a resting order of `symbol` (fill model "touch":
        ask ≤ highest resting buy or bid ≥ lowest resting sell; "queue": additionally any quote whose
        bid reaches a resting buy's level or whose ask reaches a resting sell's level, since those
        move queue positions), or at which a latency-delayed command or a funding settlement falls
        due, or `len(arrays)` if none. Quotes `start..k-1` are applied as the last quote (the
        venue's L1 equals quote k-1 afterwards) — exactly what calling `on_book_ticker` on each would
        have done, because none of them reaches an order. The caller processes quote `k` itself with
        `on_book_ticker` (and any orders its strategy sends), then calls again with `start=k+1`.
        `end` bounds the scan (e.g. at the time of the next touching trade of a merged stream).
        Only valid while the caller's own strategy would also do nothing on the skipped quotes.
        Once an L2 book has been fed for `symbol`, nothing is skipped (returns `start`).
        """
        m = self._market(symbol)
        if m.has_l2:
            # With an L2 book every ticker also decides, by its time, whether it or the book defines
            # the touch: the caller processes each quote (no fast-forward).
            return start
        end = len(bid_ticks) if end is None else max(start, min(end, len(bid_ticks)))
        if self._next_due_ms < _NO_SELL:
            end = min(end, int(np.searchsorted(times_ms, self._next_due_ms, side="left")))
            end = max(end, start)
        hit = end
        if m.buys or m.sells:
            mb, ms = m.max_buy, m.min_sell
            if self._queue_model:
                hit = _first_true(lambda i, j: (bid_ticks[i:j] <= mb) | (ask_ticks[i:j] >= ms), start, end)
            else:
                hit = _first_true(lambda i, j: (ask_ticks[i:j] <= mb) | (bid_ticks[i:j] >= ms), start, end)
        if hit > start:
            k = hit - 1
            m.bid = int(bid_ticks[k])
            m.bid_lots = int(bid_lots[k])
            m.ask = int(ask_ticks[k])
            m.ask_lots = int(ask_lots[k])
            m.has_quote = True
        return hit

    def apply_trades(
        self,
        symbol: str,
        price_ticks: npt.NDArray[np.int64],
        times_ms: npt.NDArray[np.int64],
        start: int = 0,
        end: int | None = None,
    ) -> int:
        """Trade counterpart of `apply_quotes`: returns the index of the first trade priced at or through
        a resting order (price ≤ highest buy or ≥ lowest sell), or at which something falls due; trades
        before it cannot change our orders and are skipped. The caller sends trade `k` to `on_trade`."""
        m = self._market(symbol)
        end = len(price_ticks) if end is None else max(start, min(end, len(price_ticks)))
        if self._next_due_ms < _NO_SELL:
            end = max(start, min(end, int(np.searchsorted(times_ms, self._next_due_ms, side="left"))))
        hit = end
        if m.buys or m.sells:
            mb, ms = m.max_buy, m.min_sell
            hit = _first_true(lambda i, j: (price_ticks[i:j] <= mb) | (price_ticks[i:j] >= ms), start, end)
        return hit

    # ---------------------------------------------------------------- matching: resting orders
    def _match_touch(
        self, m: _Market, ask_like: int, bid_like: int, t: int, sweep: tuple[int, int] | None = None
    ) -> None:
        """REFERENCE_GRID rule: a buy at p fills fully at p once ask/trade ≤ p; a sell once bid/trade ≥ p.

        `sweep`: the match a public trade belongs to; orders that came to rest during that match are
        not filled by its later prints (the matching engine ran the whole sweep before our order)."""
        if ask_like <= m.max_buy:
            for o in [o for o in m.buys if o.price >= ask_like]:
                if sweep is None or o.sweep != sweep:
                    self._fill(m, o, o.remaining, o.price, True, t)
        if bid_like >= m.min_sell:
            for o in [o for o in m.sells if o.price <= bid_like]:
                if sweep is None or o.sweep != sweep:
                    self._fill(m, o, o.remaining, o.price, True, t)

    def _match_quote_queue(self, m: _Market, t: int) -> None:
        bid, ask = m.bid, m.ask
        for o in [o for o in m.buys if o.price >= bid]:
            if o.status.is_open:
                if ask <= o.price:  # the market sold through our level: filled as maker at our price
                    self._fill(m, o, o.remaining, o.price, True, t)
                elif bid < o.price:  # everyone displayed at our price has gone: we are the best bid
                    o.ahead, o.level_lots, o.traded_at_level = 0, 0, 0
                else:
                    _observe_level(o, m.bid_lots)
        for o in [o for o in m.sells if o.price <= ask]:
            if o.status.is_open:
                if bid >= o.price:
                    self._fill(m, o, o.remaining, o.price, True, t)
                elif ask > o.price:
                    o.ahead, o.level_lots, o.traded_at_level = 0, 0, 0
                else:
                    _observe_level(o, m.ask_lots)

    def _match_trade_queue(
        self, m: _Market, p: int, qty: int, aggressor: Side, t: int, sweep: tuple[int, int]
    ) -> None:
        if p <= m.max_buy:
            consumed_by_ours = 0
            for o in [o for o in m.buys if o.price >= p]:
                if not o.status.is_open or o.sweep == sweep:
                    continue
                if o.price > p:  # traded through our level
                    self._fill(m, o, o.remaining, o.price, True, t)
                elif aggressor is Side.SELL:
                    consumed_by_ours += self._consume_queue(m, o, qty, consumed_by_ours, t)
        if p >= m.min_sell:
            consumed_by_ours = 0
            for o in [o for o in m.sells if o.price <= p]:
                if not o.status.is_open or o.sweep == sweep:
                    continue
                if o.price < p:
                    self._fill(m, o, o.remaining, o.price, True, t)
                elif aggressor is Side.BUY:
                    consumed_by_ours += self._consume_queue(m, o, qty, consumed_by_ours, t)

    def _consume_queue(self, m: _Market, o: _Order, qty: int, consumed_by_ours: int, t: int) -> int:
        """A trade of `qty` at our level: it eats the queue ahead first, then our earlier orders, then us."""
        if o.ahead == _UNKNOWN:
            # Level never displayed to us (L1 only): assume the trade ate queue that was ahead of us.
            return 0
        fill = min(max(0, qty - o.ahead - consumed_by_ours), o.remaining)
        o.ahead = max(0, o.ahead - qty)
        o.traded_at_level += qty
        if fill > 0:
            return self._fill(m, o, fill, o.price, True, t)
        return 0

    def _after_l2_change(
        self, m: _Market, bid_prices: set[int] | None, ask_prices: set[int] | None, t: int
    ) -> None:
        if t >= m.top_ms:  # the book is at least as new as the last ticker: it defines the touch
            bb, ba = m.best_l2_bid(), m.best_l2_ask()
            if bb is not None and ba is not None and bb < ba:
                m.bid, m.bid_lots, m.ask, m.ask_lots = bb, m.bids[bb], ba, m.asks[ba]
                m.has_quote = True
                m.top_ms = t
        if not (m.buys or m.sells):
            return
        if self._queue_model:
            for o in m.buys:
                if bid_prices is None or o.price in bid_prices:
                    _observe_level(o, m.bids.get(o.price, 0))
            for o in m.sells:
                if ask_prices is None or o.price in ask_prices:
                    _observe_level(o, m.asks.get(o.price, 0))
            self._match_quote_queue(m, t)
        elif m.bids and m.asks:
            self._match_touch(m, m.ask, m.bid, t)

    @staticmethod
    def side_levels(m: _Market, side: Side) -> list[tuple[int, int]]:
        """What a taker of `side` can trade against, best first: the touch (bid/ask with its size)
        then the deeper L2 levels; levels of a book behind the ticker, through the touch, are skipped."""
        if side is Side.BUY:
            top, top_lots, book = m.ask, m.ask_lots, m.asks
            deeper = sorted(p for p in book if p > top)
        else:
            top, top_lots, book = m.bid, m.bid_lots, m.bids
            deeper = sorted((p for p in book if p < top), reverse=True)
        return [(top, top_lots), *((p, book[p]) for p in deeper)]

    # ================================================================ orders: wire level
    def new_order(
        self,
        *,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal | None,
        price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        reduce_only: bool = False,
        position_side: PositionSide = PositionSide.BOTH,
        client_order_id: str | None = None,
        now_ms: int,
    ) -> OrderView:
        """`POST /fapi/v1/order` with Binance's parameter, precision and filter checks (in that order)."""
        m = self._market(symbol)
        if reduce_only and self._dual:
            raise E.not_required("reduceOnly")
        if quantity is None:
            raise E.mandatory("quantity")
        if order_type is OrderType.LIMIT:
            if time_in_force is None:
                raise E.mandatory("timeInForce")
            if price is None:
                raise E.mandatory("price")
        elif price is not None:
            raise E.not_required("price")
        rules = m.rules
        try:
            rules.validate_order(
                side,
                order_type,
                quantity,
                price,
                mark_price=self._mark(m),
                reduce_only=reduce_only or _hedge_close(side, position_side),
            )
            lots = rules.qty_to_lots(quantity)
            ticks = rules.price_to_ticks(price) if price is not None else 0
        except OrderRuleError as exc:
            raise VenueReject(exc.code, exc.msg) from None
        except ValueError:
            raise VenueReject(-1111, "Precision is over the maximum defined for this asset.") from None
        tif = (
            time_in_force if order_type is OrderType.LIMIT and time_in_force is not None else TimeInForce.GTC
        )
        return self._submit(
            m,
            side,
            order_type,
            tif,
            ticks,
            lots,
            reduce_only,
            position_side,
            client_order_id,
            now_ms,
            validated=True,
        )

    def place(self, cmd: PlaceOrder, now_ms: int) -> OrderView:
        """Integer fast path of `new_order` (same checks and codes; prices/quantities already on the grid)."""
        m = self._market(cmd.symbol)
        if cmd.order_type is OrderType.LIMIT:
            if cmd.price_ticks is None:
                raise E.mandatory("price")
            if cmd.time_in_force is None:
                raise E.mandatory("timeInForce")
            tif = cmd.time_in_force
            ticks = cmd.price_ticks
        else:
            if cmd.price_ticks is not None:
                raise E.not_required("price")
            tif = TimeInForce.GTC
            ticks = 0
        return self._submit(
            m,
            cmd.side,
            cmd.order_type,
            tif,
            ticks,
            cmd.qty_lots,
            cmd.reduce_only,
            cmd.position_side,
            cmd.client_order_id or None,
            now_ms,
            validated=False,
        )

    def place_batch(self, cmds: Sequence[PlaceOrder], now_ms: int) -> list[OrderView | VenueReject]:
        """`POST /fapi/v1/batchOrders`: at most 5; each item is an order or its own rejection."""
        _check_batch(len(cmds), 5, "batchOrders")
        out: list[OrderView | VenueReject] = []
        for cmd in cmds:
            try:
                out.append(self.place(cmd, now_ms))
            except VenueReject as rej:
                out.append(rej)
        return out

    def new_order_batch(
        self, orders: Sequence[Mapping[str, Any]], now_ms: int
    ) -> list[OrderView | VenueReject]:
        """Wire-level batch: each mapping holds `new_order` keyword arguments (without now_ms)."""
        _check_batch(len(orders), 5, "batchOrders")
        out: list[OrderView | VenueReject] = []
        for kwargs in orders:
            try:
                out.append(self.new_order(**kwargs, now_ms=now_ms))
            except VenueReject as rej:
                out.append(rej)
        return out

    def _validate_ints(
        self, m: _Market, side: Side, otype: OrderType, ticks: int, lots: int, reduce_only: bool
    ) -> None:
        """Filter checks on integers; anything not obviously fine is re-checked by SymbolRules.validate_order
        so the error code and message are Binance's."""
        mark = self._mark(m)
        if (
            otype is OrderType.LIMIT
            and m.fast_ok
            and lots >= m.min_lots
            and (m.max_lots == 0 or lots <= m.max_lots)
        ):
            ok = ticks >= max(1, m.min_price_t) and (m.max_price_t == 0 or ticks <= m.max_price_t)
            ok = ok and (reduce_only or ticks * lots >= m.rules.min_notional_units)
            if ok and mark is not None:
                r = m.rules
                if side is Side.BUY and r.multiplier_up > 0:
                    ok = ticks <= int((mark * r.multiplier_up / r.tick_size).to_integral_value(ROUND_FLOOR))
                elif side is Side.SELL and r.multiplier_down > 0:
                    ok = ticks >= int(
                        (mark * r.multiplier_down / r.tick_size).to_integral_value(ROUND_CEILING)
                    )
            if ok:
                return
        try:
            m.rules.validate_ticks(
                side,
                otype,
                lots,
                ticks if otype is OrderType.LIMIT else None,
                mark_price=mark,
                reduce_only=reduce_only,
            )
        except OrderRuleError as exc:
            raise VenueReject(exc.code, exc.msg) from None

    # ---------------------------------------------------------------- placement
    def _submit(
        self,
        m: _Market,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        ticks: int,
        lots: int,
        reduce_only: bool,
        pside: PositionSide,
        cid: str | None,
        now_ms: int,
        *,
        validated: bool,
    ) -> OrderView:
        if now_ms >= self._next_due_ms:
            self._run_due(now_ms)
        if reduce_only and self._dual:
            raise E.not_required("reduceOnly")
        if cid is None:
            cid = "".join(self._rng.choice(_CID_ALPHABET) for _ in range(22))
        elif not is_valid_client_order_id(cid):
            raise VenueReject(-4015, E.MSG_BAD_CID)
        if not validated:
            self._validate_ints(m, side, otype, ticks, lots, reduce_only or _hedge_close(side, pside))
        self._check_position_mode(pside, reduce_only)
        o = _Order(
            m.next_order_id, m.rules.symbol, cid, side, otype, tif, ticks, lots, reduce_only, pside, now_ms
        )
        latency = self.config.order_latency_ms
        if latency > 0:
            m.next_order_id += 1
            self._schedule(now_ms + latency, lambda at: self._arrive(m, o, at))
            return _view(o, m)
        self._accept(m, o, now_ms)
        return _view(o, m)

    def _arrive(self, m: _Market, o: _Order, at: int) -> None:
        o.time_ms = o.update_ms = at
        try:
            self._accept(m, o, at, order_id_assigned=True)
        except VenueReject as rej:
            o.status = OrderStatus.EXPIRED if rej.code in (-5021, -5022) else OrderStatus.REJECTED
            o.expiry_reason = {-5021: ER_FOK, -5022: ER_GTX}.get(rej.code, 0)
            m.orders[o.order_id] = o
            m.orders_by_cid[o.cid] = o
            self.late_rejects.append((at, o.symbol, o.order_id, rej))
            self._emit_order(o, ExecutionType.EXPIRED, at)

    def _check_position_mode(self, pside: PositionSide, reduce_only: bool) -> None:
        if self._dual:
            if pside is PositionSide.BOTH:
                raise VenueReject(-4061, E.MSG_POSITION_SIDE)
            if reduce_only:
                raise E.not_required("reduceOnly")
        elif pside is not PositionSide.BOTH:
            raise VenueReject(-4061, E.MSG_POSITION_SIDE)

    def _accept(self, m: _Market, o: _Order, now_ms: int, *, order_id_assigned: bool = False) -> None:
        """Stateful checks at the matching engine, then NEW, taker fills, and rest / expire by TIF."""
        if o.cid in m.open_by_cid:
            raise VenueReject(-4116, E.MSG_DUPLICATE_CID)
        if len(m.open_by_cid) >= m.rules.max_num_orders:
            raise VenueReject(-2025, E.MSG_MAX_ORDERS)
        if o.closing and self._position(o.symbol, o.pside).closable_lots(o.sign) == 0:
            raise VenueReject(-2022, E.MSG_REDUCE_ONLY)
        crosses = self._crosses(m, o)
        if o.tif is TimeInForce.GTX and crosses:
            raise VenueReject(-5022, E.MSG_GTX)
        if o.tif is TimeInForce.FOK and (not crosses or self._fillable(m, o) < o.orig):
            raise VenueReject(-5021, E.MSG_FOK)
        if o.otype is OrderType.MARKET and m.has_quote:
            mark = self._mark(m)
            if mark is not None:
                best = m.ask if o.side is Side.BUY else m.bid
                try:
                    m.rules.check_market_percent_price(o.side, m.rules.ticks_to_price(best), mark)
                except OrderRuleError as exc:
                    raise VenueReject(exc.code, exc.msg) from None
        self._check_margin(m, o)
        if not order_id_assigned:
            o.order_id = m.next_order_id
            m.next_order_id += 1
        m.orders[o.order_id] = o
        m.orders_by_cid[o.cid] = o
        m.open_by_cid[o.cid] = o
        _track_im(m, o, 1)
        self._emit_order(o, ExecutionType.NEW, now_ms)
        if crosses:
            self._take(m, o, now_ms)
        if not o.status.is_open:
            return
        if o.otype is OrderType.MARKET:
            self._expire(m, o, ER_MARKET, now_ms)
        elif o.tif is TimeInForce.IOC or o.tif is TimeInForce.FOK:
            self._expire(m, o, ER_IOC, now_ms)
        else:
            self._rest(m, o)

    def _crosses(self, m: _Market, o: _Order) -> bool:
        if o.otype is OrderType.MARKET:
            return True
        if not m.has_quote:
            return False
        return o.price >= m.ask if o.side is Side.BUY else o.price <= m.bid

    def _fillable(self, m: _Market, o: _Order) -> int:
        """Lots a taker order could fill now (L1 only: unlimited at the touch, see ADR-012)."""
        if not m.has_quote:
            return 0
        if not m.has_l2:
            return o.remaining
        total = 0
        for p, q in self.side_levels(m, o.side):
            if o.otype is OrderType.LIMIT and (p > o.price if o.side is Side.BUY else p < o.price):
                break
            total += q
        return total

    def _take(self, m: _Market, o: _Order, t: int) -> None:
        """Take liquidity: walk L2 levels when known, else fill everything at the L1 touch price."""
        if not m.has_quote:
            return
        limit = o.price if o.otype is OrderType.LIMIT else None
        if not m.has_l2:
            px = m.ask if o.side is Side.BUY else m.bid
            if limit is not None and (px > limit if o.side is Side.BUY else px < limit):
                return
            filled = self._fill(m, o, o.remaining, px, False, t)
            if o.side is Side.BUY:
                m.ask_lots = max(0, m.ask_lots - filled)
            else:
                m.bid_lots = max(0, m.bid_lots - filled)
            return
        # L2 depth walk: touch first, then deeper levels, each at its own price, as far as the limit
        buy = o.side is Side.BUY
        book, put = (m.asks, m.put_ask) if buy else (m.bids, m.put_bid)
        levels = self.side_levels(m, o.side)
        k = 0
        while k < len(levels):
            p, q = levels[k]
            if not o.status.is_open or o.remaining <= 0:
                break
            if limit is not None and (p > limit if buy else p < limit):
                break
            filled = self._fill(m, o, min(q, o.remaining), p, False, t) if q > 0 else 0
            if filled <= 0 and q > 0:
                break
            left = q - filled
            if left > 0:
                put(p, left)
                levels[k] = (p, left)
                break
            book.pop(p, None)
            k += 1
        top = levels[k] if k < len(levels) else (levels[-1][0], 0)
        if buy:
            m.ask, m.ask_lots = top
        else:
            m.bid, m.bid_lots = top

    def _rest(self, m: _Market, o: _Order) -> None:
        """Put an order in the book behind the displayed quantity at its price (ADR-011)."""
        self._priority += 1
        o.priority = self._priority
        o.traded_at_level = 0
        sweep = m.sweep
        o.sweep = sweep if sweep is not None and sweep[0] == o.update_ms else None
        if o.side is Side.BUY:
            if m.has_l2 and o.price < m.bid:
                o.ahead = m.bids.get(o.price, 0)
            elif not m.has_quote or o.price > m.bid:
                o.ahead = 0
            elif o.price == m.bid:
                o.ahead = m.bid_lots
            else:
                o.ahead = _UNKNOWN
            m.buys.append(o)
            m.buys.sort(key=lambda x: (-x.price, x.priority))
        else:
            if m.has_l2 and o.price > m.ask:
                o.ahead = m.asks.get(o.price, 0)
            elif not m.has_quote or o.price < m.ask:
                o.ahead = 0
            elif o.price == m.ask:
                o.ahead = m.ask_lots
            else:
                o.ahead = _UNKNOWN
            m.sells.append(o)
            m.sells.sort(key=lambda x: (x.price, x.priority))
        o.level_lots = max(o.ahead, 0)
        m.refresh_extremes()

    def _unrest(self, m: _Market, o: _Order) -> None:
        book = m.buys if o.side is Side.BUY else m.sells
        if o in book:
            book.remove(o)
            m.refresh_extremes()
        gone = m.open_by_cid.pop(o.cid, None)
        if gone is not None:
            _track_im(m, gone, -1)

    # ---------------------------------------------------------------- fills
    def _fill(self, m: _Market, o: _Order, lots: int, price: int, maker: bool, t: int) -> int:
        """Execute `lots` of `o` at `price`; update the account; emit ACCOUNT_UPDATE then TRADE."""
        pos = self._position(o.symbol, o.pside)
        if o.closing:
            lots = min(lots, pos.closable_lots(o.sign))
            if lots <= 0:
                self._expire(m, o, ER_REDUCE_ONLY, t)
                return 0
        if lots <= 0:
            return 0
        notional = Decimal(price * lots) * m.unit
        fee = money(notional * (self.config.maker_fee if maker else self.config.taker_fee))
        realized, closed = pos.apply_fill(o.sign * lots, price, m.unit)
        opened = lots - closed
        if m.margin_type is MarginType.ISOLATED:
            self._isolated_transfer(m, pos, price, opened, closed, lots)
        pos.accumulated_realized += realized
        if pos.lots != 0 and opened > 0:  # only the opening part of the fee moves the break-even price
            pos.open_fees += fee * opened / lots
        pos.update_ms = t
        self._wallet += realized - fee
        trade_id = m.next_trade_id
        m.next_trade_id += 1
        tracked = m.open_by_cid.get(o.cid) is o
        if tracked:
            _track_im(m, o, -1)
        o.executed += lots
        if tracked:
            _track_im(m, o, 1)
        o.quote_units += price * lots
        o.update_ms = t
        o.status = OrderStatus.FILLED if o.executed >= o.orig else OrderStatus.PARTIALLY_FILLED
        self._update_ms = t
        if realized != 0:
            self._add_income(o.symbol, "REALIZED_PNL", realized, t, trade_id)
        if fee != 0:
            self._add_income(o.symbol, "COMMISSION", -fee, t, trade_id)
        m.trades.append(
            TradeView(
                symbol=o.symbol,
                trade_id=trade_id,
                order_id=o.order_id,
                side=o.side,
                position_side=o.pside,
                price_ticks=price,
                qty_lots=lots,
                quote_qty=notional,
                commission=fee,
                commission_asset=self._asset,
                realized_pnl=realized,
                is_maker=maker,
                is_buyer=o.side is Side.BUY,
                time_ms=t,
            )
        )
        self._events.append(
            AccountUpdate(
                reason="ORDER",
                balances=(self._balance_change(ZERO),),
                positions=(self._position_change(m, pos),),
                event_time_ms=t,
                transaction_time_ms=t,
            )
        )
        self._events.append(
            self._order_update(
                o,
                ExecutionType.TRADE,
                t,
                last_fill_lots=lots,
                last_fill_price_ticks=price,
                commission=fee,
                realized_pnl=realized,
                is_maker=maker,
                trade_id=trade_id,
                expiry_reason=0,
            )
        )
        if o.status is OrderStatus.FILLED:
            self._unrest(m, o)
        if closed > 0:
            self._expire_stale_reduce_only(m, o.pside, t)
        return lots

    def _isolated_transfer(
        self, m: _Market, pos: Position, price: int, opened: int, closed: int, lots: int
    ) -> None:
        """Isolated margin: opening moves notional/leverage into the position's wallet; closing releases
        its share. Realized PnL and fees settle in the wallet balance (ADR-014)."""
        before = abs(pos.lots) + closed - opened  # size before this fill
        if closed > 0 and before > 0:
            release = money(pos.isolated_wallet * closed / before)
            pos.isolated_wallet -= release
        if pos.lots == 0:
            pos.isolated_wallet = ZERO
        if opened > 0:
            pos.isolated_wallet += money(Decimal(price * opened) * m.unit / m.leverage)

    def _expire_stale_reduce_only(self, m: _Market, pside: PositionSide, t: int) -> None:
        """Reduce-only / closing orders that can no longer reduce anything expire (er 4)."""
        for o in [o for o in m.open_by_cid.values() if o.closing and o.pside is pside]:
            if self._position(o.symbol, pside).closable_lots(o.sign) == 0:
                self._expire(m, o, ER_REDUCE_ONLY, t)

    def _expire(self, m: _Market, o: _Order, reason: int, t: int) -> None:
        o.status = OrderStatus.EXPIRED
        o.expiry_reason = reason
        o.update_ms = t
        self._unrest(m, o)
        self._emit_order(o, ExecutionType.EXPIRED, t)

    # ================================================================ modify / cancel / queries
    def modify_order(
        self,
        *,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        order_id: int | None = None,
        client_order_id: str | None = None,
        now_ms: int,
    ) -> OrderView:
        """`PUT /fapi/v1/order`: new price/quantity for a resting LIMIT order (loses queue priority)."""
        m = self._market(symbol)
        o = self._find(m, order_id, client_order_id, -2013, E.MSG_NO_SUCH_ORDER)
        try:
            m.rules.validate_order(
                side, OrderType.LIMIT, quantity, price, mark_price=self._mark(m), reduce_only=True
            )
            ticks, lots = m.rules.price_to_ticks(price), m.rules.qty_to_lots(quantity)
        except OrderRuleError as exc:
            raise VenueReject(exc.code, exc.msg) from None
        except ValueError:
            raise VenueReject(-1111, "Precision is over the maximum defined for this asset.") from None
        return self._amend(m, o, side, ticks, lots, now_ms, validated=True)

    def amend(self, cmd: AmendOrder, now_ms: int) -> OrderView:
        """Integer fast path of `modify_order`, by client order id."""
        m = self._market(cmd.symbol)
        o = self._find(m, None, cmd.client_order_id, -2013, E.MSG_NO_SUCH_ORDER)
        return self._amend(m, o, cmd.side, cmd.price_ticks, cmd.qty_lots, now_ms, validated=False)

    def _amend(
        self, m: _Market, o: _Order, side: Side, ticks: int, lots: int, now_ms: int, *, validated: bool
    ) -> OrderView:
        if now_ms >= self._next_due_ms:
            self._run_due(now_ms)
        if o.otype is not OrderType.LIMIT:
            raise VenueReject(-5025, E.MSG_MODIFY_LIMIT_ONLY)
        if side is not o.side:
            raise VenueReject(-2010, f"NEW_ORDER_REJECTED: side {side.value} does not match the order's side")
        if not validated:
            self._validate_ints(m, side, OrderType.LIMIT, ticks, lots, True)
        latency = self.config.order_latency_ms
        if latency > 0:
            self._schedule(
                now_ms + latency,
                lambda at: self._late(m, o, at, lambda: self._do_amend(m, o, ticks, lots, at)),
            )
            return _view(o, m)
        self._do_amend(m, o, ticks, lots, now_ms)
        return _view(o, m)

    def _do_amend(self, m: _Market, o: _Order, ticks: int, lots: int, now_ms: int) -> None:
        if not o.status.is_open:
            raise VenueReject(-2013, E.MSG_NO_SUCH_ORDER)
        if o.modify_count >= _MAX_MODIFY:
            raise VenueReject(-5026, E.MSG_MODIFY_TOO_MANY)
        if ticks == o.price and lots == o.orig:
            raise VenueReject(-5027, E.MSG_MODIFY_NO_CHANGE)
        crosses = m.has_quote and (ticks >= m.ask if o.side is Side.BUY else ticks <= m.bid)
        if (o.executed > 0 and lots <= o.executed) or (o.tif is TimeInForce.GTX and crosses):
            self._cancel(m, o, now_ms)
            return
        old_price, old_orig = o.price, o.orig
        before = self._open_order_im(m)
        tracked = m.open_by_cid.get(o.cid) is o
        if tracked:
            _track_im(m, o, -1)
        o.price, o.orig = ticks, lots
        if tracked:
            _track_im(m, o, 1)
        try:
            self._check_margin(m, o, before=before)
        except VenueReject:
            if tracked:
                _track_im(m, o, -1)
            o.price, o.orig = old_price, old_orig
            if tracked:
                _track_im(m, o, 1)
            raise
        self._unrest(m, o)
        m.open_by_cid[o.cid] = o
        _track_im(m, o, 1)
        o.modify_count += 1
        o.update_ms = now_ms
        self._emit_order(o, ExecutionType.AMENDMENT, now_ms)
        if crosses:
            self._take(m, o, now_ms)
        if o.status.is_open:
            self._rest(m, o)

    def cancel_order(
        self, *, symbol: str, order_id: int | None = None, client_order_id: str | None = None, now_ms: int
    ) -> OrderView:
        """`DELETE /fapi/v1/order`: -2011 when the order is unknown or no longer open."""
        m = self._market(symbol)
        if now_ms >= self._next_due_ms:
            self._run_due(now_ms)
        o = self._find(m, order_id, client_order_id, -2011, E.MSG_UNKNOWN_ORDER)
        if not o.status.is_open:
            raise VenueReject(-2011, E.MSG_UNKNOWN_ORDER)
        latency = self.config.order_latency_ms
        if latency > 0:
            self._schedule(
                now_ms + latency, lambda at: self._late(m, o, at, lambda: self._cancel_open(m, o, at))
            )
            return _view(o, m)
        self._cancel(m, o, now_ms)
        return _view(o, m)

    def cancel_batch(
        self,
        symbol: str,
        *,
        order_ids: Sequence[int] = (),
        client_order_ids: Sequence[str] = (),
        now_ms: int,
    ) -> list[OrderView | VenueReject]:
        """`DELETE /fapi/v1/batchOrders`: at most 10 ids; each item an order or its own rejection."""
        keys: list[tuple[int | None, str | None]] = [(i, None) for i in order_ids]
        keys += [(None, c) for c in client_order_ids]
        _check_batch(len(keys), 10, "orderIdList")
        out: list[OrderView | VenueReject] = []
        for oid, cid in keys:
            try:
                out.append(self.cancel_order(symbol=symbol, order_id=oid, client_order_id=cid, now_ms=now_ms))
            except VenueReject as rej:
                out.append(rej)
        return out

    def cancel_all(self, symbol: str, now_ms: int) -> list[OrderView]:
        """`DELETE /fapi/v1/allOpenOrders`: cancels every open order of the symbol (oldest first)."""
        m = self._market(symbol)
        if now_ms >= self._next_due_ms:
            self._run_due(now_ms)
        victims = sorted(m.open_by_cid.values(), key=lambda o: o.order_id)
        latency = self.config.order_latency_ms
        out = []
        for o in victims:
            if latency > 0:
                self._schedule(now_ms + latency, functools.partial(self._late_cancel, m, o))
            else:
                self._cancel(m, o, now_ms)
            out.append(_view(o, m))
        return out

    def _late_cancel(self, m: _Market, o: _Order, at: int) -> None:
        self._late(m, o, at, lambda: self._cancel_open(m, o, at))

    def _cancel_open(self, m: _Market, o: _Order, at: int) -> None:
        if not o.status.is_open:
            raise VenueReject(-2011, E.MSG_UNKNOWN_ORDER)
        self._cancel(m, o, at)

    def _late(self, m: _Market, o: _Order, at: int, action: Callable[[], None]) -> None:
        try:
            action()
        except VenueReject as rej:
            self.late_rejects.append((at, o.symbol, o.order_id, rej))

    def _cancel(self, m: _Market, o: _Order, now_ms: int) -> None:
        o.status = OrderStatus.CANCELED
        o.update_ms = now_ms
        self._unrest(m, o)
        self._emit_order(o, ExecutionType.CANCELED, now_ms)

    def get_order(
        self, *, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> OrderView:
        """`GET /fapi/v1/order` (finished orders included); -2013 when unknown."""
        m = self._market(symbol)
        return _view(self._find(m, order_id, client_order_id, -2013, E.MSG_NO_SUCH_ORDER), m)

    def _find(self, m: _Market, order_id: int | None, cid: str | None, code: int, msg: str) -> _Order:
        if order_id is not None:
            o = m.orders.get(order_id)
        elif cid is not None:
            o = m.orders_by_cid.get(cid)
        else:
            raise VenueReject(-1102, "Either orderId or origClientOrderId must be sent.")
        if o is None:
            raise VenueReject(code, msg)
        return o

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        out = []
        for sym in [symbol] if symbol is not None else list(self._markets):
            m = self._market(sym)
            out += [_view(o, m) for o in sorted(m.open_by_cid.values(), key=lambda o: o.order_id)]
        return out

    def resting_bounds(self, symbol: str, no_buy: int, no_sell: int) -> tuple[int, int]:
        """(highest price of our open buys or `no_buy`, lowest of our open sells or `no_sell`), in ticks:
        what a quiet-event scan must not reach (cheaper than building `open_orders` views)."""
        top, low = no_buy, no_sell
        for o in self._market(symbol).open_by_cid.values():
            if o.side is Side.BUY:
                if o.price > top:
                    top = o.price
            elif o.price < low:
                low = o.price
        return top, low

    def all_orders(self, symbol: str) -> list[OrderView]:
        m = self._market(symbol)
        return [_view(o, m) for o in sorted(m.orders.values(), key=lambda o: o.order_id)]

    def user_trades(self, symbol: str) -> list[TradeView]:
        return list(self._market(symbol).trades)

    def queue_ahead(self, symbol: str, order_id: int) -> int | None:
        """Lots queued ahead of a resting order (None when unknown or not resting): for tests and analysis."""
        o = self._market(symbol).orders.get(order_id)
        if o is None or not o.status.is_open or o.ahead == _UNKNOWN:
            return None
        return o.ahead

    # ================================================================ account
    def _position(self, symbol: str, pside: PositionSide) -> Position:
        key = (symbol, pside)
        pos = self._positions.get(key)
        if pos is None:
            pos = self._positions[key] = Position(symbol, pside)
        return pos

    def _mark(self, m: _Market) -> Decimal | None:
        """Mark price; before the first mark event the L1 mid stands in (ADR-014)."""
        if m.mark is not None:
            return m.mark
        if m.has_quote and m.bid > 0 and m.ask > 0:
            return (Decimal(m.bid + m.ask) / 2) * m.rules.tick_size
        return None

    def _unrealized(self, m: _Market, pos: Position) -> Decimal:
        mark = self._mark(m)
        if pos.lots == 0 or mark is None:
            return ZERO
        return unrealized_pnl(pos.lots, pos.cost, mark, m.rules.tick_size, m.rules.step_size)

    def _position_notional(self, m: _Market, pos: Position) -> Decimal:
        mark = self._mark(m)
        if mark is None:
            mark = pos.entry_ticks() * m.rules.tick_size
        return pos.lots * m.rules.step_size * mark

    def _open_order_im(
        self, m: _Market, exclude: _Order | None = None, extra: _Order | None = None
    ) -> Decimal:
        """Initial margin of the symbol's open orders: the notional that would increase exposure,
        / leverage; one-way takes the larger side, hedge adds LONG buys and SHORT sells (ADR-014).
        From the running sums (`_track_im`); the same integers and Decimal steps as `_open_order_im_scan`."""
        if m.im_other or exclude is not None or (extra is not None and extra.otype is not OrderType.LIMIT):
            return self._open_order_im_scan(m, exclude, extra)
        if not m.open_by_cid and extra is None:
            return ZERO
        buy_lots, buy_units = m.im_buy_lots, m.im_buy_units
        sell_lots, sell_units = m.im_sell_lots, m.im_sell_units
        open_units = m.im_open_units
        if extra is not None:
            rem = extra.orig - extra.executed
            units = extra.price * rem
            if extra.sign > 0:
                buy_lots += rem
                buy_units += units
            else:
                sell_lots += rem
                sell_units += units
            if not extra.closing:
                open_units += units
        if self._dual:
            return Decimal(open_units) * m.unit / m.leverage
        pos = self._positions.get((m.rules.symbol, PositionSide.BOTH))
        lots = pos.lots if pos is not None else 0
        need_buy = Decimal(buy_units) * max(0, buy_lots - max(0, -lots)) / buy_lots if buy_lots != 0 else ZERO
        need_sell = (
            Decimal(sell_units) * max(0, sell_lots - max(0, lots)) / sell_lots if sell_lots != 0 else ZERO
        )
        return max(need_buy, need_sell) * m.unit / m.leverage

    def _open_order_im_scan(
        self, m: _Market, exclude: _Order | None = None, extra: _Order | None = None
    ) -> Decimal:
        """`_open_order_im` by a scan over the open orders (non-LIMIT orders open; the test oracle)."""
        orders = [o for o in m.open_by_cid.values() if o is not exclude]
        if extra is not None:
            orders.append(extra)
        if not orders:
            return ZERO
        if self._dual:
            units = sum(_order_px(o, m) * o.remaining for o in orders if not o.closing)
            return Decimal(units) * m.unit / m.leverage
        pos = self._positions.get((m.rules.symbol, PositionSide.BOTH))
        lots = pos.lots if pos is not None else 0
        need = []
        for sign, room in ((1, max(0, -lots)), (-1, max(0, lots))):
            side_orders = [o for o in orders if o.sign == sign]
            side_lots = sum(o.remaining for o in side_orders)
            if side_lots == 0:
                need.append(ZERO)
                continue
            side_units = sum(_order_px(o, m) * o.remaining for o in side_orders)
            need.append(Decimal(side_units) * max(0, side_lots - room) / side_lots)
        return max(need) * m.unit / m.leverage

    def _check_margin(self, m: _Market, o: _Order, *, before: Decimal | None = None) -> None:
        """-2019 when the order's extra initial margin exceeds the available balance. For a new order
        `o` is not yet open; for an amendment `o` already carries its new values and `before` is the
        symbol's open-order margin computed with the old ones."""
        amending = before is not None
        if before is None:
            before = self._open_order_im(m)
            after = self._open_order_im(m, extra=o)
        else:
            after = self._open_order_im(m)
        extra = after - before
        if extra <= 0:
            return
        available = self.balance().available_balance
        if amending:  # the balance already counts the amended order
            available += extra
        if extra > available:
            raise VenueReject(-2019, E.MSG_MARGIN)

    def balance(self) -> BalanceView:
        """Wallet, unrealized PnL, margin balance, available balance and initial/maintenance margins."""
        iso_wallets = ZERO
        cross_upnl = ZERO
        upnl = ZERO
        pos_im = ZERO
        maint = ZERO
        order_im = ZERO
        cfg = self.config
        for m in self._markets.values():
            order_im += self._open_order_im(m)
        for (sym, _), pos in self._positions.items():
            if pos.lots == 0:
                continue
            m = self._markets[sym]
            u = self._unrealized(m, pos)
            upnl += u
            notional = self._position_notional(m, pos)
            maint += maint_margin(notional, cfg.maint_margin_ratio, cfg.maint_amount)
            if m.margin_type is MarginType.ISOLATED:
                iso_wallets += pos.isolated_wallet
            else:
                cross_upnl += u
                pos_im += abs(notional) / m.leverage
        cross_wallet = self._wallet - iso_wallets
        available = cross_wallet + cross_upnl - pos_im - order_im
        return BalanceView(
            asset=self._asset,
            wallet_balance=self._wallet,
            cross_wallet_balance=cross_wallet,
            unrealized_pnl=upnl,
            cross_unrealized_pnl=cross_upnl,
            margin_balance=self._wallet + upnl,
            available_balance=money(available),
            max_withdraw_amount=money(max(ZERO, min(available, cross_wallet - pos_im - order_im))),
            position_initial_margin=money(pos_im + iso_wallets),
            open_order_initial_margin=money(order_im),
            initial_margin=money(pos_im + iso_wallets + order_im),
            maint_margin=money(maint),
            update_time_ms=self._update_ms,
        )

    def positions(self, symbol: str | None = None) -> list[PositionView]:
        """`positionRisk` rows: one BOTH row per symbol (one-way) or LONG and SHORT rows (hedge)."""
        sides = (PositionSide.LONG, PositionSide.SHORT) if self._dual else (PositionSide.BOTH,)
        symbols = [symbol] if symbol is not None else list(self._markets)
        return [self._position_view(self._market(s), self._position(s, ps)) for s in symbols for ps in sides]

    def _position_view(self, m: _Market, pos: Position) -> PositionView:
        cfg = self.config
        tick = m.rules.tick_size
        mark = self._mark(m) or ZERO
        u = self._unrealized(m, pos)
        notional = self._position_notional(m, pos) if pos.lots else ZERO
        entry = pos.entry_ticks() * tick
        qty = abs(pos.lots) * m.rules.step_size
        isolated = m.margin_type is MarginType.ISOLATED
        if pos.lots == 0:
            liq = ZERO
        elif isolated:
            liq = liquidation_price(
                wallet_balance=pos.isolated_wallet,
                side=1 if pos.lots > 0 else -1,
                qty=qty,
                entry_price=entry,
                maint_margin_ratio=cfg.maint_margin_ratio,
                maint_amount=cfg.maint_amount,
            )
        else:
            others_mm, others_u = ZERO, ZERO
            iso = ZERO
            for (sym, _), other in self._positions.items():
                om = self._markets[sym]
                if om.margin_type is MarginType.ISOLATED:
                    iso += other.isolated_wallet
                    continue
                if other is pos or other.lots == 0:
                    continue
                others_mm += maint_margin(
                    self._position_notional(om, other), cfg.maint_margin_ratio, cfg.maint_amount
                )
                others_u += self._unrealized(om, other)
            liq = liquidation_price(
                wallet_balance=self._wallet - iso,
                side=1 if pos.lots > 0 else -1,
                qty=qty,
                entry_price=entry,
                maint_margin_ratio=cfg.maint_margin_ratio,
                maint_amount=cfg.maint_amount,
                other_maint_margin=others_mm,
                other_unrealized=others_u,
            )
        bep = entry
        if pos.lots:
            bep = entry + (1 if pos.lots > 0 else -1) * pos.open_fees / qty
        pos_im = abs(notional) / m.leverage
        order_im = self._open_order_im(m)
        return PositionView(
            symbol=pos.symbol,
            position_side=pos.position_side,
            amount_lots=pos.lots,
            entry_price=_clean(entry),
            break_even_price=_clean(bep),
            mark_price=mark,
            unrealized_pnl=u,
            liquidation_price=_clean(liq),
            leverage=m.leverage,
            margin_type=m.margin_type,
            isolated_margin=(pos.isolated_wallet + u) if isolated else ZERO,
            isolated_wallet=pos.isolated_wallet if isolated else ZERO,
            notional=money(notional),
            initial_margin=money(pos_im + order_im),
            maint_margin=money(maint_margin(notional, cfg.maint_margin_ratio, cfg.maint_amount)),
            position_initial_margin=money(pos_im),
            open_order_initial_margin=money(order_im),
            max_notional_value=Decimal(0),
            accumulated_realized=pos.accumulated_realized,
            update_time_ms=pos.update_ms,
        )

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """`POST /fapi/v1/leverage` (1..125); returns the leverage now in force."""
        m = self._market(symbol)
        if not 1 <= leverage <= 125:
            raise VenueReject(-4028, f"Leverage {leverage} is not valid")
        m.leverage = leverage
        return leverage

    def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        """`POST /fapi/v1/marginType`: refused with open orders (-4047) or a position (-4048)."""
        m = self._market(symbol)
        if m.margin_type is margin_type:
            raise VenueReject(-4046, E.MSG_NO_MARGIN_TYPE_CHANGE)
        if m.open_by_cid:
            raise VenueReject(-4047, E.MSG_MARGIN_TYPE_OPEN_ORDERS)
        if any(p.lots for (s, _), p in self._positions.items() if s == symbol):
            raise VenueReject(-4048, E.MSG_MARGIN_TYPE_POSITION)
        m.margin_type = margin_type

    def set_dual_side(self, dual: bool) -> None:
        """`POST /fapi/v1/positionSide/dual`: refused with open orders (-4067) or positions (-4068)."""
        if dual == self._dual:
            raise VenueReject(-4059, E.MSG_NO_POSITION_SIDE_CHANGE)
        if any(m.open_by_cid for m in self._markets.values()):
            raise VenueReject(-4067, E.MSG_POSITION_SIDE_OPEN_ORDERS)
        if any(p.lots for p in self._positions.values()):
            raise VenueReject(-4068, E.MSG_POSITION_SIDE_POSITION)
        self._dual = dual

    @property
    def dual_side_position(self) -> bool:
        return self._dual

    def leverage(self, symbol: str) -> int:
        return self._market(symbol).leverage

    def margin_type(self, symbol: str) -> MarginType:
        return self._market(symbol).margin_type

    def commission_rates(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) commission rates as fractions."""
        self._market(symbol)
        return self.config.maker_fee, self.config.taker_fee

    def income(self, symbol: str | None = None) -> list[IncomeView]:
        """Income history rows (REALIZED_PNL, COMMISSION, FUNDING_FEE), oldest first."""
        return [i for i in self._income if symbol is None or i.symbol == symbol]

    def mark_price(self, symbol: str) -> Decimal | None:
        return self._market(symbol).mark

    def funding_rate(self, symbol: str) -> Decimal:
        return self._market(symbol).funding_rate

    def next_funding_time(self, symbol: str) -> int:
        return self._market(symbol).next_funding_ms

    def best_bid_ask(self, symbol: str) -> tuple[int, int, int, int] | None:
        """(bid_ticks, bid_lots, ask_ticks, ask_lots) of the last quote, None before the first."""
        m = self._market(symbol)
        if not m.has_quote:
            return None
        return m.bid, m.bid_lots, m.ask, m.ask_lots

    def depth(self, symbol: str, limit: int = 1000) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best-first, asks best-first) of the L2 book, or the L1 quote when no L2 was fed."""
        m = self._market(symbol)
        if m.has_l2:
            return self.side_levels(m, Side.SELL)[:limit], self.side_levels(m, Side.BUY)[:limit]
        if not m.has_quote:
            return [], []
        return [(m.bid, m.bid_lots)], [(m.ask, m.ask_lots)]

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._markets)

    def rules(self, symbol: str) -> SymbolRules:
        return self._market(symbol).rules

    def drain_events(self, now_ms: int | None = None) -> list[OrderUpdate | AccountUpdate]:
        """User-data events since the last drain, in emission order. With `feed_latency_ms` > 0 and
        `now_ms` given, only events with E + latency ≤ now_ms are released (the rest stay queued)."""
        lat = self.config.feed_latency_ms
        if lat <= 0 or now_ms is None:
            out, self._events = self._events, []
            return out
        cut = 0
        for ev in self._events:
            if ev.event_time_ms + lat > now_ms:
                break
            cut += 1
        out, self._events = self._events[:cut], self._events[cut:]
        return out

    def next_due_ms(self) -> int | None:
        """When the venue next acts on its own: a latency-delayed command reaching the matching engine
        or a funding settlement (None: nothing scheduled)."""
        return self._next_due_ms if self._next_due_ms < _NO_SELL else None

    def next_release_ms(self) -> int | None:
        """When `drain_events` will next release something held back by `feed_latency_ms` (None: nothing
        held). Events leave in emission order, so that is the first held event's E + latency."""
        if not self._events:
            return None
        return self._events[0].event_time_ms + self.config.feed_latency_ms

    # ================================================================ time: latency queue and funding
    def _schedule(self, at: int, action: Callable[[int], None]) -> None:
        self._pending_seq += 1
        heapq.heappush(self._pending, (at, self._pending_seq, action))
        self._recompute_due()

    def _recompute_due(self) -> None:
        due = self._pending[0][0] if self._pending else _NO_SELL
        for m in self._markets.values():
            if m.next_funding_ms and m.next_funding_ms < due:
                due = m.next_funding_ms
        self._next_due_ms = due

    def _run_due(self, t: int) -> None:
        """Run latency-delayed commands and funding settlements due at or before `t`, in time order."""
        while True:
            funding_m = None
            for m in self._markets.values():
                if (
                    m.next_funding_ms
                    and m.next_funding_ms <= t
                    and (funding_m is None or m.next_funding_ms < funding_m.next_funding_ms)
                ):
                    funding_m = m
            pending_at = self._pending[0][0] if self._pending and self._pending[0][0] <= t else None
            if funding_m is None and pending_at is None:
                break
            if funding_m is not None and (pending_at is None or funding_m.next_funding_ms <= pending_at):
                self._settle_funding(funding_m)
            else:
                at, _, action = heapq.heappop(self._pending)
                action(at)
        self._recompute_due()

    def _settle_funding(self, m: _Market) -> None:
        """Funding = position × mark × rate; longs pay when the rate is positive (protocol sheet §9)."""
        at = m.next_funding_ms
        m.last_funding_ms = at
        if m.funding_plan:
            _, m.funding_rate, plan_mark = m.funding_plan.pop(0)
            m.next_funding_ms = m.funding_plan[0][0] if m.funding_plan else 0
            mark = plan_mark if plan_mark is not None else self._mark(m)
        else:
            m.next_funding_ms = at + self.config.funding_interval_ms
            mark = self._mark(m)
        if mark is None:
            return
        m.funding_settled.append(at)
        if m.funding_rate == 0:
            return
        sym = m.rules.symbol
        changed = []
        total = ZERO
        for ps in (PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT):
            pos = self._positions.get((sym, ps))
            if pos is None or pos.lots == 0:
                continue
            fee = money(-(pos.lots * m.rules.step_size * mark * m.funding_rate))
            if fee == 0:
                continue
            self._wallet += fee
            total += fee
            if m.margin_type is MarginType.ISOLATED:
                pos.isolated_wallet += fee
                changed.append(pos)
            self._add_income(sym, "FUNDING_FEE", fee, at, 0)
        if total == 0 and not changed:
            return
        self._update_ms = at
        self._events.append(
            AccountUpdate(
                reason="FUNDING_FEE",
                balances=(self._balance_change(total),),
                positions=tuple(self._position_change(m, p) for p in changed),
                event_time_ms=at,
                transaction_time_ms=at,
            )
        )

    # ================================================================ event helpers
    def _add_income(self, symbol: str, kind: str, amount: Decimal, t: int, trade_id: int) -> None:
        self._income.append(
            IncomeView(
                symbol=symbol,
                income_type=kind,
                income=amount,
                asset=self._asset,
                info=str(trade_id) if trade_id else kind,
                time_ms=t,
                tran_id=self._next_tran_id,
                trade_id=trade_id,
            )
        )
        self._next_tran_id += 1

    def _balance_change(self, change: Decimal) -> BalanceChange:
        iso = sum(
            (
                p.isolated_wallet
                for (s, _), p in self._positions.items()
                if self._markets[s].margin_type is MarginType.ISOLATED
            ),
            ZERO,
        )
        return BalanceChange(
            asset=self._asset,
            wallet_balance=self._wallet,
            cross_wallet_balance=self._wallet - iso,
            balance_change=change,
        )

    def _position_change(self, m: _Market, pos: Position) -> PositionChange:
        entry = pos.entry_ticks() * m.rules.tick_size
        bep = entry
        if pos.lots:
            bep = entry + (1 if pos.lots > 0 else -1) * pos.open_fees / (abs(pos.lots) * m.rules.step_size)
        isolated = m.margin_type is MarginType.ISOLATED
        return PositionChange(
            symbol=pos.symbol,
            position_side=pos.position_side,
            amount_lots=pos.lots,
            entry_price=_clean(entry),
            break_even_price=_clean(bep),
            accumulated_realized=pos.accumulated_realized,
            unrealized_pnl=self._unrealized(m, pos),
            margin_type=margin_type_wire(m.margin_type),
            isolated_wallet=pos.isolated_wallet if isolated else ZERO,
        )

    def _emit_order(self, o: _Order, x: ExecutionType, t: int) -> None:
        self._events.append(self._order_update(o, x, t, expiry_reason=o.expiry_reason))

    def _order_update(
        self,
        o: _Order,
        x: ExecutionType,
        t: int,
        *,
        expiry_reason: int,
        last_fill_lots: int = 0,
        last_fill_price_ticks: int = 0,
        commission: Decimal = ZERO,
        realized_pnl: Decimal = ZERO,
        is_maker: bool = False,
        trade_id: int = 0,
    ) -> OrderUpdate:
        """The ORDER_TRADE_UPDATE for `o` as it stands now; fill fields default to "no fill"."""
        return OrderUpdate(
            symbol=o.symbol,
            order_id=o.order_id,
            client_order_id=o.cid,
            side=o.side,
            order_type=o.otype,
            time_in_force=o.tif,
            position_side=o.pside,
            reduce_only=o.reduce_only,
            price_ticks=o.price,
            orig_qty_lots=o.orig,
            execution_type=x,
            status=o.status,
            last_fill_lots=last_fill_lots,
            last_fill_price_ticks=last_fill_price_ticks,
            cum_filled_lots=o.executed,
            avg_price=_avg_price(o, self._markets[o.symbol].rules),
            commission=commission,
            commission_asset=self._asset,
            realized_pnl=realized_pnl,
            is_maker=is_maker,
            trade_id=trade_id,
            event_time_ms=t,
            transaction_time_ms=t,
            expiry_reason=expiry_reason,
        )


# ==================================================================== module helpers
def _hedge_close(side: Side, pside: PositionSide) -> bool:
    """SELL LONG / BUY SHORT: a hedge-mode close, which behaves like reduce-only (MIN_NOTIONAL exempt)."""
    return (pside is PositionSide.LONG and side is Side.SELL) or (
        pside is PositionSide.SHORT and side is Side.BUY
    )


def _observe_level(o: _Order, level_lots: int) -> None:
    """Queue rule (ADR-011): the displayed quantity at our level is now `level_lots`. A decrease not
    explained by trades already seen at the level is cancellations spread evenly over the queue, so
    the queue ahead shrinks in proportion; the queue ahead never exceeds what is displayed."""
    if o.ahead == _UNKNOWN:
        o.ahead = level_lots
    else:
        old = o.level_lots
        if 0 < level_lots < old:
            cancelled = old - level_lots - o.traded_at_level
            if cancelled > 0:
                o.ahead -= o.ahead * cancelled // old
        o.ahead = max(0, min(o.ahead, level_lots))
    o.level_lots = level_lots
    o.traded_at_level = 0


def _first_true(mask_of: Callable[[int, int], npt.NDArray[np.bool_]], start: int, end: int) -> int:
    """Index of the first True of a lazily computed boolean mask over [start, end), or `end`.
    Scans in growing chunks so a touch close to `start` costs little and a long quiet run is one
    pass of numpy over large blocks."""
    i = start
    chunk = 256
    while i < end:
        j = min(end, i + chunk)
        mask = mask_of(i, j)
        k = int(mask.argmax())
        if mask[k]:
            return i + k
        i = j
        chunk = min(chunk * 4, 1 << 17)
    return end


def _check_batch(n: int, limit: int, name: str) -> None:
    if n == 0 or n > limit:
        raise VenueReject(
            -1130, f"Data sent for parameter '{name}' is not valid: send 1 to {limit} items (got {n})."
        )


def _track_im(m: _Market, o: _Order, k: int) -> None:
    """Add (k=1) or remove (k=-1) an open order's share of the market's open-order margin sums."""
    if o.otype is not OrderType.LIMIT:
        m.im_other += k
        return
    rem = o.orig - o.executed
    units = o.price * rem
    if o.sign > 0:
        m.im_buy_lots += k * rem
        m.im_buy_units += k * units
    else:
        m.im_sell_lots += k * rem
        m.im_sell_units += k * units
    if not o.closing:
        m.im_open_units += k * units


def _order_px(o: _Order, m: _Market) -> int:
    """Price used for an order's margin: its limit, or the touch it would take for MARKET."""
    if o.otype is OrderType.LIMIT:
        return o.price
    return (m.ask if o.side is Side.BUY else m.bid) if m.has_quote else 0


def _avg_price(o: _Order, rules: SymbolRules) -> Decimal:
    if o.executed == 0:
        return ZERO
    return _clean(Decimal(o.quote_units) / o.executed * rules.tick_size)


def _clean(value: Decimal) -> Decimal:
    """Money/price for display: at most 8 decimals, no exponent noise."""
    return money(value) if value != 0 else ZERO


def _view(o: _Order, m: _Market) -> OrderView:
    return OrderView(
        order_id=o.order_id,
        symbol=o.symbol,
        status=o.status,
        client_order_id=o.cid,
        price_ticks=o.price,
        avg_price=_avg_price(o, m.rules),
        orig_qty_lots=o.orig,
        executed_lots=o.executed,
        cum_quote=Decimal(o.quote_units) * m.unit,
        time_in_force=o.tif,
        order_type=o.otype,
        reduce_only=o.reduce_only,
        side=o.side,
        position_side=o.pside,
        time_ms=o.time_ms,
        update_time_ms=o.update_ms,
        orig_type=o.otype,
        expiry_reason=o.expiry_reason,
        modify_count=o.modify_count,
    )
