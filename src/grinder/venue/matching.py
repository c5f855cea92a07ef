"""Matching of our orders: resting orders against public quotes, trades and depth (the touch or the
queue fill model of `grinder.venue.fill_rule`), taker fills at placement, and what a fill does to
the order, the account and the user-data stream."""

from __future__ import annotations

from decimal import Decimal

from grinder.core.enums import ExecutionType, MarginType, OrderStatus, OrderType, PositionSide, Side
from grinder.core.events import AccountUpdate
from grinder.venue.account import ZERO, money
from grinder.venue.book import MarketState, side_levels
from grinder.venue.config import VenueConfig
from grinder.venue.emission import UserEvents
from grinder.venue.fill_rule import UNKNOWN_AHEAD, ahead_on_resting, observe_level
from grinder.venue.margin import Ledger
from grinder.venue.orders import ER_REDUCE_ONLY, Order, order_update, track_im
from grinder.venue.views import TradeView


class Matcher:
    """Fills our orders and books each fill (order state, account, trade list, user events)."""

    def __init__(self, config: VenueConfig, ledger: Ledger, events: UserEvents) -> None:
        self.config = config
        self.queue_model = config.fill_model == "queue"
        self.ledger = ledger
        self.events = events
        self.priority = 0  # time priority of the next order to rest

    def match_touch(
        self, m: MarketState, ask_like: int, bid_like: int, t: int, sweep: tuple[int, int] | None = None
    ) -> None:
        """REFERENCE_GRID rule: a buy at p fills fully at p once ask/trade ≤ p; a sell once bid/trade ≥ p.

        `sweep`: the match a public trade belongs to; orders that came to rest during that match are
        not filled by its later prints (the matching engine ran the whole sweep before our order)."""
        if ask_like <= m.max_buy:
            for o in [o for o in m.buys if o.price >= ask_like]:
                if sweep is None or o.sweep != sweep:
                    self.fill(m, o, o.remaining, o.price, True, t)
        if bid_like >= m.min_sell:
            for o in [o for o in m.sells if o.price <= bid_like]:
                if sweep is None or o.sweep != sweep:
                    self.fill(m, o, o.remaining, o.price, True, t)

    def match_quote_queue(self, m: MarketState, t: int) -> None:
        bid, ask = m.bid, m.ask
        for o in [o for o in m.buys if o.price >= bid]:
            if o.status.is_open:
                if ask <= o.price:  # the market sold through our level: filled as maker at our price
                    self.fill(m, o, o.remaining, o.price, True, t)
                elif bid < o.price:  # everyone displayed at our price has gone: we are the best bid
                    o.ahead, o.level_lots, o.traded_at_level = 0, 0, 0
                else:
                    observe_level(o, m.bid_lots)
        for o in [o for o in m.sells if o.price <= ask]:
            if o.status.is_open:
                if bid >= o.price:
                    self.fill(m, o, o.remaining, o.price, True, t)
                elif ask > o.price:
                    o.ahead, o.level_lots, o.traded_at_level = 0, 0, 0
                else:
                    observe_level(o, m.ask_lots)

    def match_trade_queue(
        self, m: MarketState, p: int, qty: int, aggressor: Side, t: int, sweep: tuple[int, int]
    ) -> None:
        if p <= m.max_buy:
            consumed_by_ours = 0
            for o in [o for o in m.buys if o.price >= p]:
                if not o.status.is_open or o.sweep == sweep:
                    continue
                if o.price > p:  # traded through our level
                    self.fill(m, o, o.remaining, o.price, True, t)
                elif aggressor is Side.SELL:
                    consumed_by_ours += self.consume_queue(m, o, qty, consumed_by_ours, t)
        if p >= m.min_sell:
            consumed_by_ours = 0
            for o in [o for o in m.sells if o.price <= p]:
                if not o.status.is_open or o.sweep == sweep:
                    continue
                if o.price < p:
                    self.fill(m, o, o.remaining, o.price, True, t)
                elif aggressor is Side.BUY:
                    consumed_by_ours += self.consume_queue(m, o, qty, consumed_by_ours, t)

    def consume_queue(self, m: MarketState, o: Order, qty: int, consumed_by_ours: int, t: int) -> int:
        """A trade of `qty` at our level: it eats the queue ahead first, then our earlier orders, then us."""
        if o.ahead == UNKNOWN_AHEAD:
            # Level never displayed to us (L1 only): assume the trade ate queue that was ahead of us.
            return 0
        fill = min(max(0, qty - o.ahead - consumed_by_ours), o.remaining)
        o.ahead = max(0, o.ahead - qty)
        o.traded_at_level += qty
        if fill > 0:
            return self.fill(m, o, fill, o.price, True, t)
        return 0

    def after_l2_change(
        self, m: MarketState, bid_prices: set[int] | None, ask_prices: set[int] | None, t: int
    ) -> None:
        if t >= m.top_ms:  # the book is at least as new as the last ticker: it defines the touch
            bb, ba = m.best_l2_bid(), m.best_l2_ask()
            if bb is not None and ba is not None and bb < ba:
                m.bid, m.bid_lots, m.ask, m.ask_lots = bb, m.bids[bb], ba, m.asks[ba]
                m.has_quote = True
                m.top_ms = t
        if not (m.buys or m.sells):
            return
        if self.queue_model:
            for o in m.buys:
                if bid_prices is None or o.price in bid_prices:
                    observe_level(o, m.bids.get(o.price, 0))
            for o in m.sells:
                if ask_prices is None or o.price in ask_prices:
                    observe_level(o, m.asks.get(o.price, 0))
            self.match_quote_queue(m, t)
        elif m.bids and m.asks:
            self.match_touch(m, m.ask, m.bid, t)

    def crosses(self, m: MarketState, o: Order) -> bool:
        if o.otype is OrderType.MARKET:
            return True
        if not m.has_quote:
            return False
        return o.price >= m.ask if o.side is Side.BUY else o.price <= m.bid

    def fillable(self, m: MarketState, o: Order) -> int:
        """Lots a taker order could fill now (L1 only: unlimited at the touch, see ADR-012)."""
        if not m.has_quote:
            return 0
        if not m.has_l2:
            return o.remaining
        total = 0
        for p, q in side_levels(m, o.side):
            if o.otype is OrderType.LIMIT and (p > o.price if o.side is Side.BUY else p < o.price):
                break
            total += q
        return total

    def take(self, m: MarketState, o: Order, t: int) -> None:
        """Take liquidity: walk L2 levels when known, else fill everything at the L1 touch price."""
        if not m.has_quote:
            return
        limit = o.price if o.otype is OrderType.LIMIT else None
        if not m.has_l2:
            px = m.ask if o.side is Side.BUY else m.bid
            if limit is not None and (px > limit if o.side is Side.BUY else px < limit):
                return
            filled = self.fill(m, o, o.remaining, px, False, t)
            if o.side is Side.BUY:
                m.ask_lots = max(0, m.ask_lots - filled)
            else:
                m.bid_lots = max(0, m.bid_lots - filled)
            return
        # L2 depth walk: touch first, then deeper levels, each at its own price, as far as the limit
        buy = o.side is Side.BUY
        m.own_l2()  # the walk below writes levels: never into a book the venue only reads
        book, put = (m.asks, m.put_ask) if buy else (m.bids, m.put_bid)
        levels = side_levels(m, o.side)
        k = 0
        while k < len(levels):
            p, q = levels[k]
            if not o.status.is_open or o.remaining <= 0:
                break
            if limit is not None and (p > limit if buy else p < limit):
                break
            filled = self.fill(m, o, min(q, o.remaining), p, False, t) if q > 0 else 0
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

    def rest(self, m: MarketState, o: Order) -> None:
        """Put an order in the book behind the displayed quantity at its price (ADR-011)."""
        self.priority += 1
        o.priority = self.priority
        o.traded_at_level = 0
        sweep = m.sweep
        o.sweep = sweep if sweep is not None and sweep[0] == o.update_ms else None
        o.ahead = ahead_on_resting(m, o)
        if o.side is Side.BUY:
            m.buys.append(o)
            m.buys.sort(key=lambda x: (-x.price, x.priority))
        else:
            m.sells.append(o)
            m.sells.sort(key=lambda x: (x.price, x.priority))
        o.level_lots = max(o.ahead, 0)
        m.refresh_extremes()

    def unrest(self, m: MarketState, o: Order) -> None:
        book = m.buys if o.side is Side.BUY else m.sells
        if o in book:
            book.remove(o)
            m.refresh_extremes()
        gone = m.open_by_cid.pop(o.cid, None)
        if gone is not None:
            track_im(m, gone, -1)

    def fill(self, m: MarketState, o: Order, lots: int, price: int, maker: bool, t: int) -> int:
        """Execute `lots` of `o` at `price`; update the account; emit ACCOUNT_UPDATE then TRADE."""
        pos = self.ledger.position(o.symbol, o.pside)
        if o.closing:
            lots = min(lots, pos.closable_lots(o.sign))
            if lots <= 0:
                self.expire(m, o, ER_REDUCE_ONLY, t)
                return 0
        if lots <= 0:
            return 0
        notional = Decimal(price * lots) * m.unit
        fee = money(notional * (self.config.maker_fee if maker else self.config.taker_fee))
        realized, closed = pos.apply_fill(o.sign * lots, price, m.unit)
        opened = lots - closed
        if m.margin_type is MarginType.ISOLATED:
            self.ledger.isolated_transfer(m, pos, price, opened, closed, lots)
        pos.accumulated_realized += realized
        if pos.lots != 0 and opened > 0:  # only the opening part of the fee moves the break-even price
            pos.open_fees += fee * opened / lots
        pos.update_ms = t
        self.ledger.wallet += realized - fee
        trade_id = m.next_trade_id
        m.next_trade_id += 1
        tracked = m.open_by_cid.get(o.cid) is o
        if tracked:
            track_im(m, o, -1)
        o.executed += lots
        if tracked:
            track_im(m, o, 1)
        o.quote_units += price * lots
        o.update_ms = t
        o.status = OrderStatus.FILLED if o.executed >= o.orig else OrderStatus.PARTIALLY_FILLED
        self.ledger.update_ms = t
        if realized != 0:
            self.ledger.add_income(o.symbol, "REALIZED_PNL", realized, t, trade_id)
        if fee != 0:
            self.ledger.add_income(o.symbol, "COMMISSION", -fee, t, trade_id)
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
                commission_asset=self.ledger.asset,
                realized_pnl=realized,
                is_maker=maker,
                is_buyer=o.side is Side.BUY,
                time_ms=t,
            )
        )
        self.events.pending.append(
            AccountUpdate(
                reason="ORDER",
                balances=(self.ledger.balance_change(ZERO),),
                positions=(self.ledger.position_change(m, pos),),
                event_time_ms=t,
                transaction_time_ms=t,
            )
        )
        self.events.pending.append(
            order_update(
                o,
                ExecutionType.TRADE,
                t,
                m.rules,
                self.events.asset,
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
            self.unrest(m, o)
        if closed > 0:
            self.expire_stale_reduce_only(m, o.pside, t)
        return lots

    def expire_stale_reduce_only(self, m: MarketState, pside: PositionSide, t: int) -> None:
        """Reduce-only / closing orders that can no longer reduce anything expire (er 4)."""
        for o in [o for o in m.open_by_cid.values() if o.closing and o.pside is pside]:
            if self.ledger.position(o.symbol, pside).closable_lots(o.sign) == 0:
                self.expire(m, o, ER_REDUCE_ONLY, t)

    def expire(self, m: MarketState, o: Order, reason: int, t: int) -> None:
        o.status = OrderStatus.EXPIRED
        o.expiry_reason = reason
        o.update_ms = t
        self.unrest(m, o)
        self.events.emit_order(o, ExecutionType.EXPIRED, t)

    def cancel(self, m: MarketState, o: Order, now_ms: int) -> None:
        o.status = OrderStatus.CANCELED
        o.update_ms = now_ms
        self.unrest(m, o)
        self.events.emit_order(o, ExecutionType.CANCELED, now_ms)
