"""Grid policy: anchor, level prices, sizes, position cap and post-only filtering, in integer ticks/lots.

All arithmetic is integer: spacings and skews are exact fractions of basis points, so a level is
`floor(anchor × spacing_bps × i / 10000)` ticks from the anchor, exactly as REFERENCE_GRID.md
writes it. Nothing here reads time or market features; `GridStrategy` decides the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction

from grinder.core.enums import Side
from grinder.core.rules import SymbolRules
from grinder.strategy.config import GridConfig
from grinder.strategy.types import INT_MAX, INT_MIN, DesiredQuote

BPS = 10_000
_BUY_TAGS = tuple(f"b{i}" for i in range(1, 100))
_SELL_TAGS = tuple(f"s{i}" for i in range(1, 100))


def frac(value: Decimal | float | int) -> Fraction:
    """An exact fraction of a config number (Decimal and int exactly; float by its binary value)."""
    return Fraction(value)


def level_offset(anchor_ticks: int, spacing_bps: Fraction, i: int, min_ticks: int = 0) -> int:
    """Distance in ticks of level `i` from the anchor: floor(anchor × spacing_bps × i / 10000)."""
    d = (anchor_ticks * spacing_bps.numerator * i) // (spacing_bps.denominator * BPS)
    return max(d, i * min_ticks)


@dataclass(frozen=True, slots=True)
class TakeProfit:
    """An open take-profit: the opposite side of a grid fill, one spacing away from the fill price."""

    tag: str
    side: Side
    price_ticks: int
    qty_lots: int


@dataclass(slots=True)
class GridBuild:
    """The quotes of one grid computation and the book bounds under which they stay valid."""

    quotes: tuple[DesiredQuote, ...]
    ask_lo: int  # best ask must stay >= this (one above the highest buy): post-only
    bid_hi: int  # best bid must stay <= this (one below the lowest sell): post-only
    ask_hi: int  # best ask must stay <= this (keeps a withheld crossing buy withheld)
    bid_lo: int  # best bid must stay >= this (keeps a withheld crossing sell withheld)


class GridPolicy:
    """Turns (anchor, spacing, position, book) into the desired grid for one symbol."""

    __slots__ = (
        "_max_qty_lots",
        "_max_ticks",
        "_min_notional_units",
        "_min_qty_lots",
        "_min_ticks_price",
        "_notional_units",
        "_offsets",
        "base_spacing_bps",
        "cfg",
        "max_position_lots",
        "qty_lots",
        "reanchor_spacings",
        "rules",
        "skew_bps",
        "symbol",
    )

    def __init__(self, symbol: str, rules: SymbolRules, cfg: GridConfig) -> None:
        self.symbol = symbol
        self.rules = rules
        self.cfg = cfg
        self.qty_lots = _exact_lots(rules, cfg.order_qty, "order_qty")
        self.max_position_lots = _exact_lots(rules, cfg.max_position, "max_position")
        unit = rules.tick_size * rules.step_size
        self._notional_units = int((cfg.order_notional / unit).to_integral_value(rounding=ROUND_CEILING))
        # MIN_NOTIONAL in tick×step units and minQty in lots, so sizing is integer-only
        self._min_notional_units = int((rules.min_notional / unit).to_integral_value(rounding=ROUND_CEILING))
        self._min_qty_lots = max(1, rules.ceil_lots(rules.min_qty)) if rules.min_qty > 0 else 1
        self._offsets: dict[tuple[int, Fraction], tuple[int, ...]] = {}
        self._max_qty_lots = (
            int((rules.max_qty / rules.step_size).to_integral_value(rounding=ROUND_FLOOR))
            if rules.max_qty > 0
            else INT_MAX
        )
        self._min_ticks_price = max(1, int(rules.min_price / rules.tick_size))
        self._max_ticks = (
            int((rules.max_price / rules.tick_size).to_integral_value(rounding=ROUND_FLOOR))
            if rules.max_price > 0
            else INT_MAX
        )
        self.base_spacing_bps = frac(cfg.spacing_bps)
        self.reanchor_spacings = frac(cfg.reanchor_spacings)
        self.skew_bps = frac(cfg.anchor_skew_bps)

    # ----------------------------------------------------------------- pieces
    def reanchor_threshold2(self, anchor_ticks: int, spacing_bps: Fraction) -> int:
        """Re-anchor when |mid2 - 2A| exceeds this: floor(2 × d_1 × reanchor_spacings), half ticks."""
        k = self.reanchor_spacings
        return (2 * self.offsets(anchor_ticks, spacing_bps)[0] * k.numerator) // k.denominator

    def skewed_center(self, anchor_ticks: int, position_lots: int) -> int:
        """The anchor shifted against the position: long → lower, short → higher (0 shift at flat)."""
        if self.skew_bps == 0 or position_lots == 0:
            return anchor_ticks
        pos = min(abs(position_lots), self.max_position_lots)
        shift = (anchor_ticks * self.skew_bps.numerator * pos) // (
            self.skew_bps.denominator * BPS * self.max_position_lots
        )
        return anchor_ticks - shift if position_lots > 0 else anchor_ticks + shift

    def min_lots(self, price_ticks: int) -> int:
        """`SymbolRules.min_lots_for_notional` in integers only (the smallest valid size at this price)."""
        need = -(-self._min_notional_units // price_ticks)
        return need if need > self._min_qty_lots else self._min_qty_lots

    def base_lots(self, price_ticks: int) -> int:
        """Size of one level at this price: configured lots or notional, at least MIN_NOTIONAL/minQty."""
        lots = -(-self._notional_units // price_ticks) if self._notional_units > 0 else self.qty_lots
        m = self.min_lots(price_ticks)
        return lots if lots > m else m

    def offsets(self, anchor_ticks: int, spacing_bps: Fraction) -> tuple[int, ...]:
        """(d_1, ..., d_levels) for this anchor and spacing (cached: they change only on a re-anchor)."""
        key = (anchor_ticks, spacing_bps)
        out = self._offsets.get(key)
        if out is None:
            if len(self._offsets) >= 8:
                self._offsets.clear()
            m = self.cfg.min_spacing_ticks
            out = tuple(level_offset(anchor_ticks, spacing_bps, i, m) for i in range(1, self.cfg.levels + 1))
            self._offsets[key] = out
        return out

    def price_allowed(self, price_ticks: int) -> bool:
        return self._min_ticks_price <= price_ticks <= self._max_ticks

    # ----------------------------------------------------------------- the grid
    def build(  # noqa: C901 - one pass over both sides keeps the cap and the bounds together
        self,
        *,
        anchor_ticks: int,
        position_lots: int,
        bid_ticks: int,
        ask_ticks: int,
        buy_spacing_bps: Fraction | None,
        sell_spacing_bps: Fraction | None,
        take_profits: tuple[TakeProfit, ...] = (),
        buy_max_ticks: int = INT_MAX,
        sell_min_ticks: int = INT_MIN,
    ) -> GridBuild:
        """Desired quotes for this state. A side whose spacing is None is not quoted (paused).

        Position cap: every side is filled inside-out while the lots on that side (take-profits
        first) keep `position ± all of them` within ±max_position, so even if every resting order
        of one side fills the cap holds. Post-only: a buy must be < best ask and a sell > best bid;
        a crossing level is withheld (not moved). `buy_max_ticks` / `sell_min_ticks` are the
        PERCENT_PRICE bounds from the mark price (none by default).
        """
        cfg = self.cfg
        symbol = self.symbol
        post_only = cfg.post_only
        max_pos = self.max_position_lots
        quotes: list[DesiredQuote] = []
        ask_lo, bid_hi, ask_hi, bid_lo = INT_MIN, INT_MAX, INT_MAX, INT_MIN
        buy_room = max_pos - position_lots
        sell_room = max_pos + position_lots
        tp_quotes: list[DesiredQuote] = []
        # Take-profits only ever reduce the position: at most |position| lots, on the reducing side.
        tp_buy_budget = min(max(-position_lots, 0), buy_room)
        tp_sell_budget = min(max(position_lots, 0), sell_room)
        for tp in take_profits:
            p = tp.price_ticks
            if not self.price_allowed(p) or tp.qty_lots < self.min_lots(p):
                continue
            if tp.side is Side.BUY:
                if tp.qty_lots > tp_buy_budget or p > buy_max_ticks:
                    continue
                if post_only and p >= ask_ticks:
                    ask_hi = min(ask_hi, p)
                    continue
                tp_buy_budget -= tp.qty_lots
                buy_room -= tp.qty_lots
                ask_lo = max(ask_lo, p + 1)
            else:
                if tp.qty_lots > tp_sell_budget or p < sell_min_ticks:
                    continue
                if post_only and p <= bid_ticks:
                    bid_lo = max(bid_lo, p)
                    continue
                tp_sell_budget -= tp.qty_lots
                sell_room -= tp.qty_lots
                bid_hi = min(bid_hi, p - 1)
            tp_quotes.append(DesiredQuote(symbol, tp.side, p, tp.qty_lots, tp.tag, post_only))

        # A grid level never crosses one of our own take-profits (that would be a self-trade).
        tp_sell_min = min((q.price_ticks for q in tp_quotes if q.side is Side.SELL), default=INT_MAX)
        tp_buy_max = max((q.price_ticks for q in tp_quotes if q.side is Side.BUY), default=INT_MIN)
        center = self.skewed_center(anchor_ticks, position_lots)
        shrink = cfg.size_skew and position_lots != 0
        growing = Side.BUY if position_lots > 0 else Side.SELL
        held = min(abs(position_lots), max_pos)
        for side, spacing in ((Side.BUY, buy_spacing_bps), (Side.SELL, sell_spacing_bps)):
            if spacing is None:
                continue
            is_buy = side is Side.BUY
            room = buy_room if is_buy else sell_room
            tags = _BUY_TAGS if is_buy else _SELL_TAGS
            for i, d in enumerate(self.offsets(anchor_ticks, spacing)):
                p = center - d if is_buy else center + d
                if not self.price_allowed(p):
                    continue
                if is_buy:
                    if p > buy_max_ticks or p >= tp_sell_min:
                        continue
                elif p < sell_min_ticks or p <= tp_buy_max:
                    continue
                lots = self.base_lots(p)
                if shrink and side is growing:
                    lots = lots * (max_pos - held) // max_pos
                    if lots < self.min_lots(p):
                        break  # zero size on the growing side at (or near) the cap
                lots = min(lots, self._max_qty_lots)
                if lots > room:
                    break  # the cap: outer levels would exceed it too
                if post_only:
                    if is_buy and p >= ask_ticks:
                        ask_hi = min(ask_hi, p)
                        continue
                    if not is_buy and p <= bid_ticks:
                        bid_lo = max(bid_lo, p)
                        continue
                room -= lots
                if is_buy:
                    ask_lo = max(ask_lo, p + 1)
                else:
                    bid_hi = min(bid_hi, p - 1)
                quotes.append(DesiredQuote(symbol, side, p, lots, tags[i], post_only))
        quotes.extend(tp_quotes)
        return GridBuild(tuple(quotes), ask_lo, bid_hi, ask_hi, bid_lo)


def _exact_lots(rules: SymbolRules, qty: Decimal, key: str) -> int:
    try:
        lots = rules.qty_to_lots(qty)
    except ValueError:
        raise ValueError(
            f"[grid] {key} = {qty} is not a multiple of {rules.symbol} stepSize {rules.step_size}; "
            "round it to the step size"
        ) from None
    if lots <= 0:
        raise ValueError(f"[grid] {key} = {qty} is below one {rules.symbol} step ({rules.step_size})")
    return lots
