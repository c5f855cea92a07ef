"""The smallest useful strategy: one bid and one ask `offset` ticks behind the touch, capped inventory.

    grinder backtest --strategy examples.strategies.touch:make \
        --data ../shared/data/binance_usdm_capture/btcusdt_20240808.gz
"""

from __future__ import annotations

from decimal import Decimal

from grinder.api import BookTicker, DesiredQuote, Fill, MarketEvent, QuoteSet, Side, StrategyContext

PARAMS = {"offset_ticks": 20, "order_notional": "110", "max_position_orders": 3}  # [strategy.params]


def _param(key: str, value: object) -> Decimal:
    """One [strategy.params] value, refused when a typo or a wrong type would silently change it."""
    try:
        ok = key in PARAMS and isinstance(value, int | float | str) and not isinstance(value, bool)
        number = Decimal(str(value)) if ok else Decimal(0)
        whole = key == "order_notional" or (not isinstance(value, str) and number == int(number))
        if ok and whole and 0 < number < 10**12:
            return number
    except (ArithmeticError, ValueError):
        pass
    raise ValueError(f"[strategy.params] {key} = {value!r} is refused: accepted are offset_ticks and "
                     "max_position_orders (whole numbers > 0), order_notional (a decimal > 0)")


class Touch:
    def __init__(self, ctx: StrategyContext) -> None:
        p = {key: _param(key, value) for key, value in {**PARAMS, **(ctx.config or {})}.items()}
        self.symbol, self.rules = ctx.symbol, ctx.rules
        self.offset, self.max_orders = int(p["offset_ticks"]), int(p["max_position_orders"])
        self.notional = p["order_notional"]
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
