"""`Venue`: the one deterministic model of Binance USDⓈ-M matching and accounts (the façade).

Market events move per-symbol book state; our orders rest in that book with a queue position
(or under the REFERENCE_GRID touch rule) and fill as maker, or take liquidity at placement as taker.
One USDT account spans all symbols: positions, fees, funding, margin, liquidation estimate. Every
change to our orders and account is emitted as the user-data events Binance would send. Pure: no
I/O, no clock reads (every call carries `now_ms` or an event time), randomness only from the seed.

The jobs live in their own modules (ADR-210): `book` (per-symbol state), `fill_rule` (when an event
reaches an order), `matching` (fills), `order_entry` (requests and checks), `margin` (account,
margin, funding), `scheduling` (latency queue, funding times), `emission` (user-data events).
This class feeds market data in, and keeps the public API its callers use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import MarginType, Side
from grinder.core.events import (
    AccountUpdate,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from grinder.core.rules import SymbolRules
from grinder.venue.book import L2Side, MarketState, market_of, side_levels
from grinder.venue.conditional import ConditionalOrders
from grinder.venue.config import VenueConfig
from grinder.venue.emission import UserEvents
from grinder.venue.errors import VenueReject
from grinder.venue.fill_rule import UNKNOWN_AHEAD, first_true, quote_columns, reaches
from grinder.venue.margin import Ledger
from grinder.venue.matching import Matcher
from grinder.venue.order_entry import OrderEntry
from grinder.venue.orders import order_view
from grinder.venue.scheduling import NEVER, Scheduler
from grinder.venue.views import IncomeView, OrderView, TradeView


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
        self._markets: dict[str, MarketState] = {
            sym: MarketState(r, config.default_leverage) for sym, r in sorted(rules.items())
        }
        for sym, r in rules.items():
            if sym != r.symbol:
                raise ValueError(f"rules mapping key {sym!r} does not match SymbolRules.symbol {r.symbol!r}")
        self.events = UserEvents(self._markets, config.asset, config.feed_latency_ms)
        self.ledger = Ledger(config, self._markets, self.events)
        self.matcher = Matcher(config, self.ledger, self.events)
        self._next_due_ms = NEVER  # `sched.next_due_ms`, copied here for the per-event check
        self.sched = Scheduler(self._markets, self.ledger, self._set_next_due)
        self.orders = OrderEntry(config, self.matcher, self.sched)
        self.late_rejects = self.orders.late_rejects  # (time, symbol, order id, reject)
        self.conditional = ConditionalOrders(self)  # algo orders, triggered from on_trade / on_mark_price
        # The order API is the order-entry component's (bound once: no extra call on the way in).
        o = self.orders
        self.new_order = o.new_order
        self.place = o.place
        self.place_batch = o.place_batch
        self.new_order_batch = o.new_order_batch
        self.modify_order = o.modify_order
        self.amend = o.amend
        self.cancel_order = o.cancel_order
        self.cancel_batch = o.cancel_batch
        self.cancel_all = o.cancel_all
        self.get_order = o.get_order
        self.balance = self.ledger.balance
        self.positions = self.ledger.position_views
        self.set_leverage = self.ledger.set_leverage
        self.set_margin_type = self.ledger.set_margin_type
        self.set_dual_side = self.ledger.set_dual_side

    def execute(self, cmd: Command, now_ms: int) -> CommandResult:
        """Run one order command and phrase the answer as the live connector would: the one
        command-to-venue path of PAPER mode (`PaperPort.submit`) and of the backtester."""
        try:
            if isinstance(cmd, PlaceOrder):
                view = self.orders.place(cmd, now_ms)
            elif isinstance(cmd, CancelOrder):
                view = self.orders.cancel_order(
                    symbol=cmd.symbol, client_order_id=cmd.client_order_id, now_ms=now_ms
                )
            elif isinstance(cmd, AmendOrder):
                view = self.orders.amend(cmd, now_ms)
            else:  # pragma: no cover - Command is a closed union
                raise TypeError(f"unknown command {type(cmd).__name__}")
        except VenueReject as exc:
            return CommandResult(cmd, Outcome.REJECTED, code=exc.code, reason=exc.msg)
        return CommandResult(cmd, Outcome.ACCEPTED, order_id=view.order_id, status=view.status)

    def _set_next_due(self, due_ms: int) -> None:
        self._next_due_ms = due_ms

    # ================================================================ market data
    def _market(self, symbol: str) -> MarketState:
        return market_of(self._markets, symbol)

    def _market_at(self, symbol: str, t: int) -> MarketState:
        """The market an event at venue time `t` is for, after what fell due by `t` (latency, funding)."""
        m = market_of(self._markets, symbol)
        if t >= self._next_due_ms:
            self.sched.run_due(t)
        return m

    def on_book_ticker(self, ev: BookTicker) -> None:
        """Best bid/ask update: matches resting orders the new quote reaches."""
        t = ev.transaction_time_ms
        m = self._market_at(ev.symbol, t)
        m.bid = ev.bid_ticks
        m.bid_lots = ev.bid_lots
        m.ask = ev.ask_ticks
        m.ask_lots = ev.ask_lots
        m.has_quote = True
        m.top_ms = t
        # `fill_rule.reaches(*quote_columns(...))`, written out: this is the per-event hot path.
        if self._queue_model:
            if ev.bid_ticks <= m.max_buy or ev.ask_ticks >= m.min_sell:
                self.matcher.match_quote_queue(m, t)
        elif ev.ask_ticks <= m.max_buy or ev.bid_ticks >= m.min_sell:
            self.matcher.match_touch(m, ev.ask_ticks, ev.bid_ticks, t)

    def on_trade(self, ev: Trade) -> None:
        """A public trade: consumes queue ahead of our orders at its price; fills orders it trades through."""
        t = ev.trade_time_ms
        m = self._market_at(ev.symbol, t)
        p = ev.price_ticks
        sweep = (t, 1 if ev.buyer_is_maker else -1)
        m.sweep = sweep
        if p <= m.max_buy or p >= m.min_sell:
            if self._queue_model:
                self.matcher.match_trade_queue(m, p, ev.qty_lots, ev.aggressor, t, sweep)
            else:
                self.matcher.match_touch(m, p, p, t, sweep)
        if self.conditional.orders:
            self.conditional.on_price(ev.symbol, t, last=m.rules.tick_size * p)

    def on_depth_snapshot(self, ev: DepthSnapshot, shared: tuple[L2Side, L2Side] | None = None) -> None:
        """Replace the L2 book; our orders' queue positions are re-observed at their levels.

        `shared`: the (bids, asks) sides of a book that already holds this snapshot and will apply
        every later diff before it is given here (the backtester's live book sync, ADR-320); the
        venue then reads its levels instead of keeping a copy."""
        t = ev.transaction_time_ms
        m = self._market_at(ev.symbol, t)
        m.has_l2 = True
        if shared is None:
            m.set_l2({p: q for p, q in ev.bids if q > 0}, {p: q for p, q in ev.asks if q > 0})
        else:
            m.share_l2(*shared)
        self.matcher.after_l2_change(m, None, None, t)  # every level may have changed

    def on_depth_update(self, ev: DepthUpdate) -> None:
        """Apply a depth diff (absolute quantities; 0 removes a level); with shared levels
        (`on_depth_snapshot`) their owner has applied it already."""
        t = ev.transaction_time_ms
        m = self._market_at(ev.symbol, t)
        m.has_l2 = True
        if m.l2_shared is None:
            m.apply_diff(ev.bids, ev.asks)
        if m.buys or m.sells:  # the changed prices matter only to our resting orders' queues
            self.matcher.after_l2_change(m, {p for p, _ in ev.bids}, {p for p, _ in ev.asks}, t)
        else:
            self.matcher.after_l2_change(m, None, None, t)

    def drop_l2(self, symbol: str) -> None:
        """Forget the L2 book (its sync broke): until the next snapshot, the book ticker is the market."""
        m = self._market(symbol)
        m.has_l2 = False
        m.set_l2({}, {})

    def on_mark_price(self, ev: MarkPrice) -> None:
        """Mark price and funding rate; funding settles at the announced funding time."""
        t = ev.event_time_ms
        m = self._market_at(ev.symbol, t)
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
            self.sched.recompute_due()
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
        self.sched.recompute_due()

    def funding_settled(self, symbol: str) -> list[int]:
        """Funding times of `symbol` settled with a known rate (a payment of 0 when flat included)."""
        return list(self._market(symbol).funding_settled)

    def advance_to(self, now_ms: int) -> None:
        """Move venue time: releases latency-delayed commands and settles funding due by `now_ms`."""
        if now_ms >= self._next_due_ms:
            self.sched.run_due(now_ms)

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
        if self.sched.next_due_ms < NEVER:
            end = min(end, int(times_ms.searchsorted(self.sched.next_due_ms, side="left")))
            end = max(end, start)
        hit = end
        if m.buys or m.sells:
            mb, ms = m.max_buy, m.min_sell
            buy_col, sell_col = quote_columns(bid_ticks, ask_ticks, self._queue_model)
            hit = first_true(lambda i, j: reaches(buy_col[i:j], sell_col[i:j], mb, ms), start, end)
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
        if self.sched.next_due_ms < NEVER:
            end = max(start, min(end, int(times_ms.searchsorted(self.sched.next_due_ms, side="left"))))
        hit = end
        if m.buys or m.sells:
            mb, ms = m.max_buy, m.min_sell
            hit = first_true(lambda i, j: reaches(price_ticks[i:j], price_ticks[i:j], mb, ms), start, end)
        return hit

    # ================================================================ queries

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        out = []
        for sym in [symbol] if symbol is not None else list(self._markets):
            m = self._market(sym)
            out += [order_view(o, m) for o in sorted(m.open_by_cid.values(), key=lambda o: o.order_id)]
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
        return [order_view(o, m) for o in sorted(m.orders.values(), key=lambda o: o.order_id)]

    def user_trades(self, symbol: str) -> list[TradeView]:
        return list(self._market(symbol).trades)

    def queue_ahead(self, symbol: str, order_id: int) -> int | None:
        """Lots queued ahead of a resting order (None when unknown or not resting): for tests and analysis."""
        o = self._market(symbol).orders.get(order_id)
        if o is None or not o.status.is_open or o.ahead == UNKNOWN_AHEAD:
            return None
        return o.ahead

    @property
    def dual_side_position(self) -> bool:
        return self.ledger.dual

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
        return [i for i in self.ledger.income_rows if symbol is None or i.symbol == symbol]

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
            return side_levels(m, Side.SELL)[:limit], side_levels(m, Side.BUY)[:limit]
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
        return self.events.drain(now_ms)

    def next_due_ms(self) -> int | None:
        """When the venue next acts on its own: a latency-delayed command reaching the matching engine
        or a funding settlement (None: nothing scheduled)."""
        return self.sched.next_due_ms if self.sched.next_due_ms < NEVER else None

    def next_release_ms(self) -> int | None:
        """When `drain_events` will next release something held back by `feed_latency_ms` (None: nothing
        held). Events leave in emission order, so that is the first held event's E + latency."""
        return self.events.next_release_ms()
