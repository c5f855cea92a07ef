"""What a strategy is given (its context) and answers with: desired quotes, the quote set, the
optional quiet band.

Plain frozen values in ticks and lots, shared by every strategy (the grid and plug-ins alike) and
by the execution layer that turns them into orders. `grinder.api` is the public door to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from grinder.core.enums import Side
from grinder.core.rules import SymbolRules

INT_MAX = (1 << 63) - 1
INT_MIN = -(1 << 63)


class DesiredQuote(msgspec.Struct, frozen=True, gc=False):
    """One order the strategy wants resting: LIMIT, GTX when post_only, in ticks and lots.

    `level` names the slot ("b1".."b99" buys, "s1".."s99" sells, "tp1".. take-profits for the grid);
    it is a valid client-order-id level tag (grinder.core.ids: [A-Za-z0-9.:/-]{1,6}).
    """

    symbol: str
    side: Side
    price_ticks: int
    qty_lots: int
    level: str
    post_only: bool


class QuoteSet(msgspec.Struct, frozen=True, gc=False):
    """Everything the strategy wants resting for one symbol, with its mode and why.

    `mode` is the strategy's own label for its state, shown in /status and the reports (the grid
    uses BASE / WIDEN / TIGHTEN / PAUSE; a mode ending in "PAUSE" counts as paused time in a
    backtest). `reason` is a stable code ("QUOTING", "NO_BOOK", "PAUSE:<cause>", ...);
    `anchor_ticks` the price the quotes hang from (0 when the strategy has none).
    """

    symbol: str
    quotes: tuple[DesiredQuote, ...] = ()
    mode: str = ""
    reason: str = ""
    anchor_ticks: int = 0


class QuietBand(msgspec.Struct, frozen=True, gc=False):
    """The market region in which a strategy's `desired_quotes` cannot change its answer.

    Claim: let S be the QuoteSet returned by `desired_quotes(position_lots, t0)` together with this
    band. For any sequence of BookTicker and Trade events fed to `on_event`, where after every event
    the last book (bid, ask) satisfies `contains(bid, ask, now_ms)` and `now_ms` is the time passed
    to the next `desired_quotes`, and with no other event (DepthUpdate, MarkPrice), no `on_fill`
    and the same `position_lots`, every `desired_quotes(position_lots, now_ms)` returns S.

    `contains` is: mid2_lo <= bid+ask <= mid2_hi, bid_lo <= bid <= bid_hi, ask_lo <= ask <= ask_hi,
    ask-bid <= spread_max and now_ms < until_ms (all integers: ticks, half-ticks for mid2, ms).

    If `must_feed_events` is False the strategy reads no market features, so in-band events may
    also be skipped entirely (not passed to `on_event`) with identical later output, provided the
    last skipped BookTicker is passed to `on_event` before the next event that is processed (the
    strategy's book must be current when it decides again): this is what a vectorised backtester
    relies on. If True, in-band events must still reach `on_event` (feature state), but
    `desired_quotes` and the order diff can be skipped for them.

    If `covers_depth` is True, DepthUpdate events may also arrive in such a sequence (the claim
    holds with them): the strategy's decisions read nothing of the L2 book, so a depth diff changes
    no answer while the book ticker stays in the band. A caller then need not ask again on one.

    An empty band (mid2_lo > mid2_hi) means "recompute on the next event".
    """

    mid2_lo: int
    mid2_hi: int
    bid_lo: int
    bid_hi: int
    ask_lo: int
    ask_hi: int
    spread_max: int
    until_ms: int
    position_lots: int
    must_feed_events: bool
    covers_depth: bool = False

    def contains(self, bid_ticks: int, ask_ticks: int, now_ms: int) -> bool:
        m2 = bid_ticks + ask_ticks
        return (
            self.mid2_lo <= m2 <= self.mid2_hi
            and self.bid_lo <= bid_ticks <= self.bid_hi
            and self.ask_lo <= ask_ticks <= self.ask_hi
            and ask_ticks - bid_ticks <= self.spread_max
            and now_ms < self.until_ms
        )

    @property
    def is_empty(self) -> bool:
        return self.mid2_lo > self.mid2_hi


EMPTY_BAND = QuietBand(1, 0, INT_MIN, INT_MAX, INT_MIN, INT_MAX, INT_MAX, INT_MIN, 0, True)


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What a strategy factory gets for one symbol (`grinder.api.StrategyFactory`).

    `config` is the strategy's own settings: for a plug-in the `[strategy.params]` table (a plain
    mapping of TOML values, empty when absent); for the built-in grid its `StrategyConfig` (or a
    mapping symbol -> StrategyConfig).
    """

    symbol: str
    rules: SymbolRules
    config: Any = None
