"""Grid policy: anchor, level prices, sizes, position cap and post-only filtering, in integer ticks/lots.

All arithmetic is integer: spacings and skews are exact fractions of basis points, so a level is
`floor(anchor × spacing_bps × i / 10000)` ticks from the anchor, exactly as REFERENCE_GRID.md
writes it. Nothing here reads time or market features; `GridStrategy` decides the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        "_min_lots",
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
        # SymbolRules.min_lots_for_notional per price, memoised: grid prices repeat
        self._min_lots: dict[int, int] = {}
        self._offsets: dict[tuple[int, int, int], tuple[int, ...]] = {}
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
    def skewed_center(self, anchor_ticks: int, position_lots: int, step_ticks: int = 0) -> int:
        """The anchor shifted against the position: long → lower, short → higher (0 shift at flat).

        With `step_ticks` > 0 (the whole-level lattice) the shift is rounded to the nearest whole
        number of steps, so a fill moves the grid by whole levels or not at all: every order still on
        the lattice keeps its price and queue place (a fractional shift re-priced the whole grid on
        every fill)."""
        if self.skew_bps == 0 or position_lots == 0:
            return anchor_ticks
        pos = min(abs(position_lots), self.max_position_lots)
        shift = (anchor_ticks * self.skew_bps.numerator * pos) // (
            self.skew_bps.denominator * BPS * self.max_position_lots
        )
        if step_ticks > 0:
            shift = (2 * shift + step_ticks) // (2 * step_ticks) * step_ticks
        return anchor_ticks - shift if position_lots > 0 else anchor_ticks + shift

    def min_lots(self, price_ticks: int) -> int:
        """`SymbolRules.min_lots_for_notional` (MIN_NOTIONAL and minQty), memoised per price."""
        lots = self._min_lots.get(price_ticks)
        if lots is None:
            if len(self._min_lots) >= 4096:
                self._min_lots.clear()
            lots = self._min_lots[price_ticks] = self.rules.min_lots_for_notional(price_ticks)
        return lots

    def base_lots(self, price_ticks: int) -> int:
        """Size of one level at this price: configured lots or notional, at least MIN_NOTIONAL/minQty."""
        lots = -(-self._notional_units // price_ticks) if self._notional_units > 0 else self.qty_lots
        m = self.min_lots(price_ticks)
        return lots if lots > m else m

    def offsets(self, anchor_ticks: int, spacing_bps: Fraction) -> tuple[int, ...]:
        """(d_1, ..., d_levels) for this anchor and spacing (cached: they change only on a re-anchor).

        With `whole_levels` the offsets are (s, 2s, ...) for one step s per spacing, fixed the first
        time the spacing is used: every level of every anchor then lies on one lattice, so moving
        the anchor by whole steps keeps most orders' prices (ADR-170).
        """
        whole = self.cfg.whole_levels
        key = (0 if whole else anchor_ticks, spacing_bps.numerator, spacing_bps.denominator)
        out = self._offsets.get(key)
        if out is not None and whole:
            # a trend moved the price: re-fix the step once it is 2 % off the spacing in bps
            now = level_offset(anchor_ticks, spacing_bps, 1, self.cfg.min_spacing_ticks)
            if abs(now - out[0]) * 50 > out[0]:
                out = None
        if out is None:
            if len(self._offsets) >= 8:
                self._offsets.clear()
            m = self.cfg.min_spacing_ticks
            if whole:
                step = max(1, level_offset(anchor_ticks, spacing_bps, 1, m))
                out = tuple(step * i for i in range(1, self.cfg.levels + 1))
            else:
                out = tuple(
                    level_offset(anchor_ticks, spacing_bps, i, m) for i in range(1, self.cfg.levels + 1)
                )
            self._offsets[key] = out
        return out

    def moved_anchor(self, anchor_ticks: int, mid2: int, spacing_bps: Fraction, band: Fraction) -> int:
        """The anchor for this mid (in half ticks): unchanged while |mid - anchor| <= band × step;
        beyond it, the mid itself, or with `whole_levels` the anchor moved by the nearest whole
        number of steps (at least one)."""
        d2 = mid2 - 2 * anchor_ticks
        step = self.offsets(anchor_ticks, spacing_bps)[0]
        if abs(d2) <= (2 * step * band.numerator) // band.denominator:
            return anchor_ticks
        if not self.cfg.whole_levels or step <= 0:
            return mid2 // 2
        n = max(1, (abs(d2) + step) // (2 * step))
        return anchor_ticks + n * step if d2 > 0 else anchor_ticks - n * step

    def price_allowed(self, price_ticks: int) -> bool:
        return self._min_ticks_price <= price_ticks <= self._max_ticks

    # ----------------------------------------------------------------- the grid
    def build(
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
        max_levels: int = 99,
        skew_step_ticks: int = 0,
        resting: Mapping[tuple[Side, int], int] | None = None,
    ) -> GridBuild:
        """Desired quotes for this state. A side whose spacing is None is not quoted (paused). Only
        the `max_levels` nearest levels of a side are new; further ones only where `resting` has them.

        Position cap: every side is filled inside-out while the lots on that side (take-profits
        first) keep `position ± all of them` within ±max_position, so even if every resting order
        of one side fills the cap holds. `resting`: (side, price) -> lots of the last answer's quotes;
        size skew keeps such a level's size while it fits the room, so a fill does not cost one
        quantity amend per order left on the shrinking side (ADR-310). Post-only: a buy must be < best
        ask and a sell > best bid; a crossing level is withheld (not moved). `buy_max_ticks` /
        `sell_min_ticks` are the PERCENT_PRICE bounds from the mark price (none by default). A grid
        level never crosses one of our own take-profits (that would be a self-trade).
        """
        max_pos = self.max_position_lots
        buy_room = max_pos - position_lots
        sell_room = max_pos + position_lots
        tp_quotes: list[DesiredQuote] = []
        # touch bounds: (highest buy + 1, lowest sell - 1) and withheld bounds (lowest crossing buy,
        # highest crossing sell); the quiet band is built from them.
        ask_lo, bid_hi, ask_hi, bid_lo = INT_MIN, INT_MAX, INT_MAX, INT_MIN
        tp_sell_min, tp_buy_max = INT_MAX, INT_MIN
        if take_profits:
            tb = self._take_profit_quotes(
                take_profits, position_lots, bid_ticks, ask_ticks, buy_max_ticks, sell_min_ticks, tp_quotes
            )
            buy_used, sell_used, ask_lo, bid_hi, ask_hi, bid_lo = tb
            buy_room -= buy_used
            sell_room -= sell_used
            for q in tp_quotes:
                if q.side is Side.SELL:
                    tp_sell_min = min(tp_sell_min, q.price_ticks)
                else:
                    tp_buy_max = max(tp_buy_max, q.price_ticks)
        center = self.skewed_center(anchor_ticks, position_lots, skew_step_ticks)
        # size_skew: the side that grows the position is scaled by (max - |pos|) / max
        held = min(abs(position_lots), max_pos)
        shrink_buy = self.cfg.size_skew and position_lots > 0
        shrink_sell = self.cfg.size_skew and position_lots < 0
        quotes: list[DesiredQuote] = []
        if buy_spacing_bps is not None:
            top, crossed = self._quote_side(
                True,
                center,
                self.offsets(anchor_ticks, buy_spacing_bps),
                buy_room,
                ask_ticks,
                min(buy_max_ticks, tp_sell_min - 1),
                max_pos - held if shrink_buy else -1,
                quotes,
                resting,
                max_levels,
            )
            if top != INT_MIN:
                ask_lo = max(ask_lo, top + 1)
            ask_hi = min(ask_hi, crossed)
        if sell_spacing_bps is not None:
            top, crossed = self._quote_side(
                False,
                center,
                self.offsets(anchor_ticks, sell_spacing_bps),
                sell_room,
                bid_ticks,
                max(sell_min_ticks, tp_buy_max + 1),
                max_pos - held if shrink_sell else -1,
                quotes,
                resting,
                max_levels,
            )
            if top != INT_MAX:
                bid_hi = min(bid_hi, top - 1)
            bid_lo = max(bid_lo, crossed)
        quotes.extend(tp_quotes)
        return GridBuild(tuple(quotes), ask_lo, bid_hi, ask_hi, bid_lo)

    def _quote_side(
        self,
        is_buy: bool,
        center: int,
        offsets: tuple[int, ...],
        room: int,
        touch: int,
        limit: int,
        keep_num: int,
        out: list[DesiredQuote],
        resting: Mapping[tuple[Side, int], int] | None = None,
        max_levels: int = 99,
    ) -> tuple[int, int]:
        """Append one side's levels to `out`; returns (innermost quoted price, innermost withheld price).

        `touch` is the best ask (buys) or best bid (sells); `limit` the furthest-in price allowed
        (PERCENT_PRICE and our own take-profits); `keep_num` ≥ 0 scales sizes by keep_num / max, except
        that a level quoted in `resting` keeps its (larger, never above the unscaled) size while the
        room allows it. Levels beyond `max_levels` (a thinned grid) are quoted only where `resting`
        has them: thinning places no new outer level but cancels none that still rests (ADR-313).
        """
        symbol, post_only = self.symbol, self.cfg.post_only
        lo_px, hi_px, max_lots = self._min_ticks_price, self._max_ticks, self._max_qty_lots
        max_pos = self.max_position_lots
        side, tags = (Side.BUY, _BUY_TAGS) if is_buy else (Side.SELL, _SELL_TAGS)
        quoted = INT_MIN if is_buy else INT_MAX
        withheld = INT_MAX if is_buy else INT_MIN
        for i, d in enumerate(offsets):
            if is_buy:
                p = center - d
                if p > limit:
                    continue
            else:
                p = center + d
                if p < limit:
                    continue
            if p < lo_px or p > hi_px:
                continue
            if i >= max_levels and (resting is None or (side, p) not in resting):
                continue  # thinned: no new outer level
            lots = self.base_lots(p)
            if keep_num >= 0:
                if keep_num == 0:
                    break  # at the cap: nothing on the growing side
                # scaled down, but never below one minimum order: a single small fill must not
                # empty the side (the room check below still keeps the cap)
                scaled = max(lots * keep_num // max_pos, self.min_lots(p))
                # a level already quoted keeps its size while it fits the room: shrinking it would
                # change no price that rests, for one write per order (ADR-310)
                # (and leaves the levels further out their scaled size)
                kept = resting.get((side, p), 0) if resting else 0
                spare = room - (len(offsets) - i - 1) * scaled
                lots = kept if scaled < kept <= min(lots, spare) else scaled
            if lots > max_lots:
                lots = max_lots
            if lots > room:
                break  # the cap: outer levels would exceed it too
            if post_only and (p >= touch if is_buy else p <= touch):
                # would cross the book: withheld while the book stays through it
                if (is_buy and p < withheld) or (not is_buy and p > withheld):
                    withheld = p
                continue
            room -= lots
            if (is_buy and p > quoted) or (not is_buy and p < quoted):
                quoted = p
            out.append(DesiredQuote(symbol, side, p, lots, tags[i], post_only))
        return quoted, withheld

    def _take_profit_quotes(
        self,
        take_profits: tuple[TakeProfit, ...],
        position_lots: int,
        bid_ticks: int,
        ask_ticks: int,
        buy_max_ticks: int,
        sell_min_ticks: int,
        out: list[DesiredQuote],
    ) -> tuple[int, int, int, int, int, int]:
        """Take-profits that may rest: only on the reducing side, at most |position| lots in total.

        Returns (buy lots used, sell lots used, ask_lo, bid_hi, ask_hi, bid_lo) (bounds as in build).
        """
        post_only = self.cfg.post_only
        max_pos = self.max_position_lots
        ask_lo, bid_hi, ask_hi, bid_lo = INT_MIN, INT_MAX, INT_MAX, INT_MIN
        buy_budget = min(max(-position_lots, 0), max_pos - position_lots)
        sell_budget = min(max(position_lots, 0), max_pos + position_lots)
        buy_used = sell_used = 0
        for tp in take_profits:
            p, lots = tp.price_ticks, tp.qty_lots
            if not self.price_allowed(p) or lots < self.min_lots(p):
                continue
            if tp.side is Side.BUY:
                if buy_used + lots > buy_budget or p > buy_max_ticks:
                    continue
                if post_only and p >= ask_ticks:
                    ask_hi = min(ask_hi, p)
                    continue
                buy_used += lots
                ask_lo = max(ask_lo, p + 1)
            else:
                if sell_used + lots > sell_budget or p < sell_min_ticks:
                    continue
                if post_only and p <= bid_ticks:
                    bid_lo = max(bid_lo, p)
                    continue
                sell_used += lots
                bid_hi = min(bid_hi, p - 1)
            out.append(DesiredQuote(self.symbol, tp.side, p, lots, tp.tag, post_only))
        return buy_used, sell_used, ask_lo, bid_hi, ask_hi, bid_lo


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
