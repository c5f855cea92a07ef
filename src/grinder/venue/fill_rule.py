"""The fill rule: when a market event reaches one of our resting orders, and how a queue moves.

One definition, used by the venue's matching and its vectorised fast path and by the backtester's
quiet-row scan (`grinder.backtest.scan`). `grinder.backtest.reference` stays an independent
re-implementation on purpose: it is the oracle these are checked against (ADR-210).

Touch model (REFERENCE_GRID): a buy at p fills once the ask (or a trade) is at or below p, a sell
once the bid (or a trade) is at or above p. Queue model: a quote whose bid reaches a buy's level (ask
reaches a sell's level) also matters, since it moves our queue position (ADR-011).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from grinder.core.enums import Side

if TYPE_CHECKING:
    from grinder.venue.book import MarketState
    from grinder.venue.orders import Order

# Highest resting buy / lowest resting sell when none rests: no price reaches them.
NO_BUY = -(1 << 62)
NO_SELL = 1 << 62
UNKNOWN_AHEAD = -1  # queue position not yet known (L1 only, order placed behind the touch)


def quote_columns(bid: Any, ask: Any, queue_model: bool) -> tuple[Any, Any]:
    """(what is compared with the highest buy, what with the lowest sell) of a quote: the ask and the
    bid under the touch model, the bid and the ask under the queue model."""
    return (bid, ask) if queue_model else (ask, bid)


def reaches(buy_side: Any, sell_side: Any, max_buy: Any, min_sell: Any) -> Any:
    """True (elementwise for arrays) where a price reaches the highest resting buy or the lowest sell."""
    return (buy_side <= max_buy) | (sell_side >= min_sell)


def ahead_on_resting(m: MarketState, o: Order) -> int:
    """Queue rule (ADR-011): the lots ahead of an order that starts resting at its price. Behind the
    touch: the L2 level's quantity (UNKNOWN_AHEAD without an L2 book); joining the touch: its
    displayed quantity; improving it (or no quote yet): nothing."""
    if o.side is Side.BUY:
        touch, touch_lots, levels = m.bid, m.bid_lots, m.bids
    else:
        touch, touch_lots, levels = m.ask, m.ask_lots, m.asks
    edge = o.sign * (o.price - touch)  # > 0 improves the touch, < 0 rests behind it
    if m.has_l2 and edge < 0:
        return levels.get(o.price, 0)
    if not m.has_quote or edge > 0:
        return 0
    return touch_lots if edge == 0 else UNKNOWN_AHEAD


def observe_level(o: Order, level_lots: int) -> None:
    """Queue rule (ADR-011): the displayed quantity at our level is now `level_lots`. A decrease not
    explained by trades already seen at the level is cancellations spread evenly over the queue, so
    the queue ahead shrinks in proportion; the queue ahead never exceeds what is displayed."""
    if o.ahead == UNKNOWN_AHEAD:
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


def first_true(mask_of: Callable[[int, int], npt.NDArray[np.bool_]], start: int, end: int) -> int:
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
