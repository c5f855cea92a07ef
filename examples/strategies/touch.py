"""The smallest useful strategy: one bid and one ask `offset` ticks behind the touch, capped inventory.

    grinder backtest --strategy examples.strategies.touch:make \
        --data ../shared/data/binance_usdm_capture/btcusdt_20240808.gz
"""

from __future__ import annotations

from decimal import Decimal

from grinder.api import BookTicker, DesiredQuote, Fill, MarketEvent, QuoteSet, Side, StrategyContext


class Touch:
    def __init__(self, ctx: StrategyContext) -> None:
        params = ctx.config or {}
        self.symbol, self.rules = ctx.symbol, ctx.rules
        self.offset = int(params.get("offset_ticks", 20))  # [strategy.params] offset_ticks = 20
        self.notional = Decimal(str(params.get("order_notional", "110")))
        self.max_orders = int(params.get("max_position_orders", 3))
        self.bid = self.ask = 0

    def on_event(self, ev: MarketEvent) -> None:
        if isinstance(ev, BookTicker):
            self.bid, self.ask = ev.bid_ticks, ev.ask_ticks

    def on_fill(self, fill: Fill) -> None:
        pass  # the position arrives with every desired_quotes call

    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        if self.bid <= self.offset:
            return QuoteSet(self.symbol, reason="NO_BOOK")
        size = max(self.rules.min_lots_for_notional(self.ask),
                   self.rules.ceil_lots(self.notional / self.rules.ticks_to_price(self.ask)))
        cap = self.max_orders * size
        quotes = []
        if position_lots + size <= cap:
            quotes.append(DesiredQuote(self.symbol, Side.BUY, self.bid - self.offset, size, "b1", True))
        if position_lots - size >= -cap:
            quotes.append(DesiredQuote(self.symbol, Side.SELL, self.ask + self.offset, size, "s1", True))
        return QuoteSet(self.symbol, tuple(quotes), reason="QUOTING")


def make(ctx: StrategyContext) -> Touch:
    return Touch(ctx)
