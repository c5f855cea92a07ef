"""The trading pipeline's per-symbol state (`grinder.execution.pipeline`): what it keeps between
events for one symbol, and how a strategy factory's product becomes that state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from grinder.api import QuietBandStrategy, Strategy, StrategyContext, StrategyFactory, WritePressureAware
from grinder.core.enums import Side
from grinder.core.events import BookTicker, Fill
from grinder.core.quotes import QuietBand
from grinder.core.rules import SymbolRules
from grinder.execution.refusal import RefusalBand

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)
NO_REACH = (INT_MAX, INT_MIN)


@dataclass(slots=True)
class SymbolState:
    """What the pipeline keeps per symbol: the strategy and its quiet band, the book and position
    it last saw, the last plan's inputs, and where the market reached our orders lately."""

    rules: SymbolRules
    strategy: Strategy
    band_of: Callable[[], QuietBand] | None = None  # QuietBandStrategy.quiet_band (else: plan every event)
    thin: Callable[[int], None] | None = None  # WritePressureAware.set_write_pressure
    position_lots: int = 0
    bid_ticks: int | None = None
    ask_ticks: int | None = None
    mark_ticks: int | None = None
    last_trade_ticks: int | None = None
    band: QuietBand | None = None
    dirty: bool = True  # plan on the next event regardless of the quiet band
    planned_under_kill: bool = False  # kill-switch state of the last plan
    # Inputs of the last plan when risk refused every command of it (see `_plan`), else None.
    blocked_inputs: tuple[Any, ...] | None = None
    # Where that refused plan would be refused again unchanged (grinder.execution.refusal), or None.
    refused: RefusalBand | None = None
    mode: str = ""
    quote_reason: str = ""
    entry_price: Decimal = Decimal(0)  # from ACCOUNT_UPDATE, for unrealized PnL
    account_amount_lots: int = 0
    pressure: int = 0  # write-budget pressure the last plan was made under
    # Where the market reached our orders lately ([lowest ask or trade at or under our highest buy,
    # highest bid or trade at or over our lowest sell]) in this and the previous crossed_hold_ms
    # bucket of the clock: those orders may be filling and are left alone (ADR-170). Only events
    # that reach an order count, so a backtest that skips quiet events sees the same holds.
    reach_bucket: int = INT_MIN
    reach_now: tuple[int, int] = (INT_MAX, INT_MIN)
    reach_prev: tuple[int, int] = (INT_MAX, INT_MIN)
    fill_buy_from: int = INT_MAX  # lowest price of our buy fills not yet followed by a newer book
    fill_sell_to: int = INT_MIN
    fill_ms: int = 0
    orders_version: int = -1  # OrderManager.version the bounds below were taken at
    top_buy: int = INT_MIN  # our highest buy, lowest sell (working or amending to)
    low_sell: int = INT_MAX
    book_ms: int = 0  # transaction time of the last BookTicker (0: none seen, e.g. an L2-only feed)

    def reach(self, lo: int, hi: int, now_ms: int, hold_ms: int) -> None:
        """The market quoted or printed down to `lo` and up to `hi` at `now_ms`."""
        if lo > self.top_buy and hi < self.low_sell:
            return
        self.roll(now_ms, hold_ms)
        r_lo, r_hi = self.reach_now
        self.reach_now = (
            min(r_lo, lo) if lo <= self.top_buy else r_lo,
            max(r_hi, hi) if hi >= self.low_sell else r_hi,
        )

    def roll(self, now_ms: int, hold_ms: int) -> None:
        bucket = now_ms // hold_ms if hold_ms > 0 else now_ms
        if bucket == self.reach_bucket:
            return
        self.reach_prev = self.reach_now if bucket == self.reach_bucket + 1 else (INT_MAX, INT_MIN)
        self.reach_now = (INT_MAX, INT_MIN)
        self.reach_bucket = bucket

    def crossed(self, now_ms: int, hold_ms: int) -> tuple[int, int, int, int]:
        """(buys at or above this and sells at or below this were reached by the book or a trade
        within the last hold; no maker buy at or above this nor maker sell at or below this until a
        book newer than our last fill there arrives)."""
        self.roll(now_ms, hold_ms)
        a, b = self.reach_now, self.reach_prev
        return min(a[0], b[0]), max(a[1], b[1]), self.fill_buy_from, self.fill_sell_to

    def on_own_fill(self, fill: Fill) -> None:
        """Our fill at a price says the market was there, possibly before our book shows it."""
        if fill.side is Side.BUY:
            self.fill_buy_from = min(self.fill_buy_from, fill.price_ticks)
        else:
            self.fill_sell_to = max(self.fill_sell_to, fill.price_ticks)
        self.fill_ms = max(self.fill_ms, fill.time_ms)

    def on_book(self, ev: BookTicker) -> None:
        if ev.transaction_time_ms >= self.fill_ms:  # the book is newer than our fills: it is the truth
            self.fill_buy_from, self.fill_sell_to, self.fill_ms = INT_MAX, INT_MIN, 0
            self.dirty = True  # what the fill held back may go now

    @property
    def reference_ticks(self) -> int | None:
        """Last BookTicker mid, else the strategy's book mid (L2-only feeds), else mark, else last trade."""
        if self.bid_ticks is not None and self.ask_ticks is not None:
            return (self.bid_ticks + self.ask_ticks) // 2
        mid2 = getattr(getattr(self.strategy, "features", None), "mid2", 0)
        if isinstance(mid2, int) and mid2 > 0:
            return mid2 // 2
        if self.mark_ticks is not None:
            return self.mark_ticks
        return self.last_trade_ticks


def build_symbol_state(make: StrategyFactory, symbol: str, rules: SymbolRules, config: Any) -> SymbolState:
    strategy = make(StrategyContext(symbol, rules, config))
    if not isinstance(strategy, Strategy):
        raise TypeError(
            f"the strategy factory returned a {type(strategy).__name__} for {symbol}, which is not a "
            "grinder.api.Strategy: it needs on_event, on_fill and desired_quotes"
        )
    return SymbolState(
        rules=rules,
        strategy=strategy,
        band_of=strategy.quiet_band if isinstance(strategy, QuietBandStrategy) else None,
        thin=strategy.set_write_pressure if isinstance(strategy, WritePressureAware) else None,
    )
