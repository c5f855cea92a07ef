"""`GridStrategy`: one symbol's strategy brain — features, controller, toxicity gate and grid policy.

Feed market events with `on_event`, our fills with `on_fill`, and ask `desired_quotes(position,
now_ms)` for the quote set to keep resting. Pure: no I/O, no clock reads; `now_ms` is the caller's
time (event time in a backtest). The answer is cached with its quiet band, so when nothing that
matters moved, `desired_quotes` is a handful of integer comparisons and returns the same object.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR
from fractions import Fraction

from grinder.core.enums import Side
from grinder.core.events import BookTicker, DepthUpdate, Fill, MarkPrice, Trade
from grinder.core.ids import parse_client_order_id
from grinder.core.quotes import StrategyContext
from grinder.core.rules import SymbolRules
from grinder.strategy import metrics
from grinder.strategy.config import SpacingMode, StrategyConfig
from grinder.strategy.controller import ModeController
from grinder.strategy.features import FeatureEngine, Features
from grinder.strategy.grid import GridPolicy, TakeProfit, level_offset
from grinder.strategy.toxicity import ToxicityGate
from grinder.strategy.types import INT_MAX, INT_MIN, ControllerMode, QuietBand, QuoteSet

log = logging.getLogger(__name__)

QUOTING = "QUOTING"
NO_BOOK = "NO_BOOK"
BOOK_CROSSED = "BOOK_CROSSED"


class GridStrategy:
    """The per-symbol strategy object used unchanged in backtest, paper and live."""

    __slots__ = (
        "_anchor",
        "_ask",
        "_ask_hi",
        "_ask_lo",
        "_bid",
        "_bid_hi",
        "_bid_lo",
        "_buy_max_ticks",
        "_dirty",
        "_eval_ms",
        "_feed",
        "_filled",
        "_floor",
        "_hi2",
        "_lo2",
        "_next_eval_ms",
        "_pressure",
        "_q_pos",
        "_qs",
        "_reanchor_metric",
        "_sell_min_ticks",
        "_skew_max",
        "_skewed",
        "_sp",
        "_sp_range",
        "_spacing",
        "_spread_max",
        "_tp_seq",
        "_tps",
        "_until_ms",
        "cfg",
        "controller",
        "features",
        "policy",
        "reanchors",
        "recomputes",
        "rules",
        "spacing_changes",
        "symbol",
        "toxicity",
    )

    def __init__(self, symbol: str, rules: SymbolRules, config: StrategyConfig | None = None) -> None:
        if rules.symbol and rules.symbol != symbol:
            raise ValueError(f"GridStrategy({symbol}) was given the symbol rules of {rules.symbol}")
        self.symbol = symbol
        self.rules = rules
        self.cfg = cfg = config or StrategyConfig()
        self.policy = GridPolicy(symbol, rules, cfg.grid)
        self.features = FeatureEngine(symbol, rules, cfg.features)
        self.controller = ModeController(cfg.controller, symbol)
        self.toxicity = ToxicityGate(cfg.toxicity, symbol)
        self._feed = cfg.uses_features
        self._eval_ms = cfg.controller.eval_interval_ms
        self._next_eval_ms = INT_MIN  # evaluate on the first recompute
        self._bid = 0
        self._ask = 0
        self._anchor = 0
        self._floor = Fraction(cfg.grid.fee_floor_bps)
        self._spacing = self.policy.base_spacing_bps  # before the mode factor
        if cfg.grid.spacing_mode is SpacingMode.ADAPTIVE and self._spacing < self._floor:
            self._spacing = self._floor
        elif self._spacing < self._floor:
            log.warning(
                "strategy_spacing_below_fees symbol=%s spacing_bps=%s fee_floor_bps=%s: every round trip "
                "pays more in fees than it earns; raise [grid] spacing_bps or use spacing_mode = ADAPTIVE",
                symbol,
                cfg.grid.spacing_bps,
                cfg.grid.fee_floor_bps,
            )
        self._sp = self._spacing  # with the mode factor: what the grid uses
        self._buy_max_ticks = INT_MAX
        self._sell_min_ticks = INT_MIN
        self._tps: dict[tuple[Side, int], TakeProfit] = {}
        self._tp_seq = 0
        self.reanchors = 0
        self.spacing_changes = 0
        self._sp_range = (self._spacing, self._spacing)  # narrowest and widest spacing quoted
        self._skew_max = 0  # widest anchor skew applied, in ticks
        self._skewed = 0  # recomputes that quoted a skewed grid
        self._reanchor_metric = metrics.REANCHORS.labels(symbol)
        self.recomputes = 0
        self._qs = QuoteSet(symbol, (), ControllerMode.BASE, NO_BOOK, 0)
        self._set_band_empty()
        self._q_pos = 0
        self._pressure = 0
        self._filled: set[tuple[Side, int]] = set()  # (side, price) of our fills since the last answer
        self._dirty = True

    # ----------------------------------------------------------------- inputs
    def on_event(self, ev: BookTicker | Trade | DepthUpdate | MarkPrice) -> None:
        """Market data for this symbol (events of another symbol are refused with ValueError)."""
        if ev.symbol != self.symbol:
            raise ValueError(f"GridStrategy({self.symbol}) got a {type(ev).__name__} for {ev.symbol}")
        if isinstance(ev, BookTicker):
            self._bid = ev.bid_ticks
            self._ask = ev.ask_ticks
            if self._feed:
                self.features.on_book_ticker(ev)
        elif isinstance(ev, Trade):
            if self._feed:
                self.features.on_trade(ev)
        elif isinstance(ev, MarkPrice):
            self._on_mark(ev)
        elif isinstance(ev, DepthUpdate) and self._feed:
            # Only feature state moves (L2 levels and OFI, which no decision reads; event time and
            # bar closes, read on the evaluation grid, where the band ends anyway): the answer
            # stands, so the band covers depth diffs (ADR-290).
            self.features.on_depth(ev)

    def _on_mark(self, ev: MarkPrice) -> None:
        r = self.rules
        if r.multiplier_up > 0 and ev.mark_price > 0:
            self._buy_max_ticks = int(
                (ev.mark_price * r.multiplier_up / r.tick_size).to_integral_value(rounding=ROUND_FLOOR)
            )
        if r.multiplier_down > 0 and ev.mark_price > 0:
            self._sell_min_ticks = int(
                (ev.mark_price * r.multiplier_down / r.tick_size).to_integral_value(rounding=ROUND_CEILING)
            )
        if self._feed:
            self.features.on_mark_price(ev)
        self._dirty = True

    def on_fill(self, fill: Fill) -> None:
        """One of our fills: ends the quiet band and, with take_profit on, books the take-profit."""
        if fill.symbol != self.symbol:
            raise ValueError(f"GridStrategy({self.symbol}) got a fill for {fill.symbol}")
        self._dirty = True
        self._filled.add((fill.side, fill.price_ticks))
        if not self.cfg.grid.take_profit or fill.qty_lots <= 0:
            return
        parsed = parse_client_order_id(fill.client_order_id)
        level = parsed.level if parsed is not None else ""
        tp = self._tps.get((fill.side, fill.price_ticks))
        if level.startswith("tp") or (not level and tp is not None):
            if tp is None:
                tp = next((t for t in self._tps.values() if t.tag == level), None)
            if tp is not None:
                left = tp.qty_lots - fill.qty_lots
                key = (tp.side, tp.price_ticks)
                if left > 0:
                    self._tps[key] = TakeProfit(tp.tag, tp.side, tp.price_ticks, left)
                else:
                    del self._tps[key]
            return
        if not level or level[0] not in "bs":
            return  # not a grid order of ours: no take-profit
        d = max(1, level_offset(fill.price_ticks, self._spacing_now(), 1, self.cfg.grid.min_spacing_ticks))
        side = fill.side.opposite
        price = fill.price_ticks + d if side is Side.SELL else fill.price_ticks - d
        key = (side, price)
        old = self._tps.get(key)
        if old is not None:
            self._tps[key] = TakeProfit(old.tag, side, price, old.qty_lots + fill.qty_lots)
        elif self.cfg.grid.max_take_profits > 0:
            if len(self._tps) >= self.cfg.grid.max_take_profits:
                oldest = next(iter(self._tps))
                log.info(
                    "strategy_take_profit_evicted symbol=%s side=%s price_ticks=%d qty_lots=%d "
                    "reason=MAX_TAKE_PROFITS",
                    self.symbol,
                    oldest[0].value,
                    oldest[1],
                    self._tps[oldest].qty_lots,
                )
                del self._tps[oldest]
            self._tps[key] = TakeProfit(self._next_tp_tag(), side, price, fill.qty_lots)

    def _next_tp_tag(self) -> str:
        used = {t.tag for t in self._tps.values()}
        while True:
            self._tp_seq = self._tp_seq % 9999 + 1
            tag = f"tp{self._tp_seq}"
            if tag not in used:
                return tag

    def warm_up(self, bars: list[tuple[float, float, float]], source: str) -> None:
        """Close history bars (high, low, close in ticks, oldest first) before live data, so NATR,
        the adaptive spacing and the controller are warm from the first minute (ADR-172)."""
        n = self.features.seed_bars(bars)
        self._dirty = True
        self._next_eval_ms = INT_MIN
        log.info(
            "strategy_warm_up symbol=%s bars=%d source=%s natr_bps=%.3f",
            self.symbol,
            n,
            source,
            self.features.natr_bps,
        )

    def set_write_pressure(self, pressure: int) -> None:
        """The account's write budget is running low (1) or nearly out (2): quote fewer levels
        (half, then one per side) and widen the re-anchor band, so the grid needs fewer writes
        (ADR-171). 0 restores the configured grid."""
        if pressure != self._pressure:
            self._pressure = pressure
            self._dirty = True

    # ----------------------------------------------------------------- output
    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        """The quote set to keep resting for this position at `now_ms` (same object while quiet)."""
        if not self._dirty and position_lots == self._q_pos and now_ms < self._until_ms:
            bid = self._bid
            ask = self._ask
            m2 = bid + ask
            if (
                self._lo2 <= m2 <= self._hi2
                and self._bid_lo <= bid <= self._bid_hi
                and self._ask_lo <= ask <= self._ask_hi
                and ask - bid <= self._spread_max
            ):
                return self._qs
        return self._recompute(position_lots, now_ms)

    def quiet_band(self) -> QuietBand:
        """The band of the last `desired_quotes` answer (see `QuietBand` for the exact claim)."""
        if self._dirty:
            return QuietBand(
                1, 0, INT_MIN, INT_MAX, INT_MIN, INT_MAX, INT_MAX, INT_MIN, self._q_pos, self._feed, True
            )
        return QuietBand(
            self._lo2,
            self._hi2,
            self._bid_lo,
            self._bid_hi,
            self._ask_lo,
            self._ask_hi,
            self._spread_max,
            self._until_ms,
            self._q_pos,
            self._feed,
            True,
        )

    @property
    def anchor_ticks(self) -> int:
        return self._anchor

    @property
    def mode(self) -> ControllerMode:
        return self.controller.mode

    @property
    def spacing_bps(self) -> Fraction:
        """Current spacing in bps (mode factor applied), as an exact fraction."""
        return self._spacing_now()

    @property
    def take_profits(self) -> tuple[TakeProfit, ...]:
        return tuple(self._tps.values())

    def stats(self) -> dict[str, float | int]:
        """Figures for reports: how the spacing adapted and how much the grid was skewed."""
        lo, hi = self._sp_range
        anchor = self._anchor or 1
        return {
            "spacing_bps_now": round(float(self._sp), 3),
            "spacing_bps_min": round(float(lo), 3),
            "spacing_bps_max": round(float(hi), 3),
            "spacing_changes": self.spacing_changes,
            "reanchors": self.reanchors,
            "skew_max_bps": round(self._skew_max * 10_000 / anchor, 3),
            "skewed_quote_pct": round(100.0 * self._skewed / max(1, self.recomputes), 2),
        }

    def snapshot(self) -> Features:
        return self.features.snapshot()

    # ----------------------------------------------------------------- internals
    def _spacing_now(self) -> Fraction:
        return self._sp

    def _last_quoted(
        self, position_lots: int, filled: set[tuple[Side, int]]
    ) -> dict[tuple[Side, int], int] | None:
        """(side, price) -> lots of the last answer's quotes, for size skew to keep (ADR-310) and a
        thinned grid to leave resting (ADR-313)."""
        if not ((self._pressure or (self.cfg.grid.size_skew and position_lots)) and self._qs.quotes):
            return None
        # a level filled since is a new order if quoted again: scaled size, and not outside a thinned grid
        return {
            (q.side, q.price_ticks): q.qty_lots
            for q in self._qs.quotes
            if (q.side, q.price_ticks) not in filled
        }

    def _set_band_empty(self) -> None:
        self._lo2, self._hi2 = 1, 0
        self._bid_lo, self._bid_hi, self._ask_lo, self._ask_hi = INT_MIN, INT_MAX, INT_MIN, INT_MAX
        self._spread_max = INT_MAX
        self._until_ms = INT_MIN

    def _evaluate(self, now_ms: int) -> None:
        """The slow path, on the event-time grid: adaptive spacing, controller, toxicity thresholds."""
        f = self.features
        natr = f.natr_bps
        if natr != natr and f.bars_closed >= 1 and f.prev_close:
            # Not yet natr_period bars: the mean true range of the bars seen so far (from the data
            # itself), so spacing adapts from the first closed bar instead of after 14 (ADR-172).
            natr = f.atr_ticks / f.prev_close * 10_000.0
        g = self.cfg.grid
        if g.spacing_mode is SpacingMode.ADAPTIVE and natr == natr:  # NaN until the first bar closes
            low = max(float(g.spacing_min_bps), float(self._floor))
            want = min(max(float(g.natr_multiple) * natr, low), max(float(g.spacing_max_bps), low))
            new = Fraction(round(want * 100), 100)
            cur = self._spacing
            if abs(new - cur) >= cur * Fraction(g.spacing_change_min_frac) and new != cur:
                log.info(
                    "strategy_spacing_change symbol=%s from_bps=%s to_bps=%s natr_bps=%.3f time_ms=%d",
                    self.symbol,
                    float(cur),
                    float(new),
                    natr,
                    now_ms,
                )
                self._spacing = new
                self.spacing_changes += 1
        self.controller.evaluate(now_ms, natr, f.spread_ema_bps)
        self._sp = self._spacing * self.controller.spacing_factor()
        if g.spacing_mode is SpacingMode.ADAPTIVE and self._sp < self._floor:
            self._sp = self._floor  # TIGHTEN never quotes a round trip that loses to fees
        lo, hi = self._sp_range
        if self._sp < lo or self._sp > hi:
            self._sp_range = (min(lo, self._sp), max(hi, self._sp))
        self.toxicity.evaluate(now_ms, f)

    def _recompute(self, position_lots: int, now_ms: int) -> QuoteSet:
        self.recomputes += 1
        self._dirty = False
        filled, self._filled = self._filled, set()
        self._q_pos = position_lots
        bid, ask = self._bid, self._ask
        if bid <= 0 or ask <= 0 or bid >= ask:
            reason = NO_BOOK if bid <= 0 or ask <= 0 else BOOK_CROSSED
            self._qs = QuoteSet(self.symbol, (), self.controller.mode, reason, self._anchor)
            self._set_band_empty()
            return self._qs
        if self._feed and now_ms >= self._next_eval_ms:
            self._evaluate(now_ms)
            self._next_eval_ms = (now_ms // self._eval_ms + 1) * self._eval_ms
        mid2 = bid + ask
        spacing = self._spacing_now()
        policy = self.policy
        anchor = self._anchor
        band = policy.reanchor_spacings * (1 + self._pressure)
        if anchor == 0:
            anchor = mid2 // 2
        else:
            moved = policy.moved_anchor(anchor, mid2, spacing, band)
            if moved != anchor:
                anchor = moved
                self.reanchors += 1
                self._reanchor_metric.inc()
        self._anchor = anchor
        thr2 = (2 * policy.offsets(anchor, spacing)[0] * band.numerator) // band.denominator
        lo2, hi2 = 2 * anchor - thr2, 2 * anchor + thr2
        tox = self.toxicity
        spread_max = INT_MAX
        if tox.cfg.enabled:
            tox.check_fast(now_ms, bid, ask)
            lo2, hi2 = max(lo2, tox.impact_lo2), min(hi2, tox.impact_hi2)
            if not tox.paused_all():
                spread_max = tox.spike_ticks
        mode = self.controller.mode
        if mode is ControllerMode.PAUSE or tox.paused_all():
            why = self.controller.reason if mode is ControllerMode.PAUSE else ",".join(tox.reasons())
            self._qs = QuoteSet(self.symbol, (), mode, f"PAUSE:{why}", anchor)
            self._bid_lo, self._bid_hi, self._ask_lo, self._ask_hi = INT_MIN, INT_MAX, INT_MIN, INT_MAX
        else:
            buy_sp: Fraction | None = spacing
            sell_sp: Fraction | None = spacing
            if tox.active:
                buy_sp = None if tox.buy_blocked() else spacing * tox.buy_factor()
                sell_sp = None if tox.sell_blocked() else spacing * tox.sell_factor()
            # skew moves whole steps on the lattice (ADR-260)
            step = policy.offsets(anchor, spacing)[0] if self.cfg.grid.whole_levels else 0
            if position_lots:
                shift = abs(anchor - policy.skewed_center(anchor, position_lots, step))
                if shift or (self.cfg.grid.size_skew and position_lots):
                    self._skewed += 1
                    if shift > self._skew_max:
                        self._skew_max = shift
            build = policy.build(
                anchor_ticks=anchor,
                position_lots=position_lots,
                bid_ticks=bid,
                ask_ticks=ask,
                buy_spacing_bps=buy_sp,
                sell_spacing_bps=sell_sp,
                take_profits=tuple(self._tps.values()),
                buy_max_ticks=self._buy_max_ticks,
                sell_min_ticks=self._sell_min_ticks,
                max_levels=(99, (self.cfg.grid.levels + 1) // 2, 1)[self._pressure],
                skew_step_ticks=step,
                resting=self._last_quoted(position_lots, filled),
            )
            reasons = tox.reasons()
            reason = QUOTING if not reasons else "QUOTING:" + ",".join(reasons)
            qs = QuoteSet(self.symbol, build.quotes, mode, reason, anchor)
            self._qs = self._qs if qs == self._qs else qs
            self._bid_lo, self._bid_hi = build.bid_lo, build.bid_hi
            self._ask_lo, self._ask_hi = build.ask_lo, build.ask_hi
        self._lo2, self._hi2 = lo2, hi2
        self._spread_max = spread_max
        self._until_ms = self._next_eval_ms if self._feed else INT_MAX
        return self._qs


def grid_factory(ctx: StrategyContext) -> GridStrategy:
    """The built-in strategy as a `grinder.api.StrategyFactory`: `GridStrategy(symbol, rules, config)`.

    `ctx.config` is one StrategyConfig for every symbol, a mapping symbol -> StrategyConfig
    (per-symbol `[grid.SYMBOL]` tables, see `StrategyConfig.for_symbol`), or None for the defaults.
    """
    config = ctx.config
    if isinstance(config, Mapping):
        if ctx.symbol not in config:
            raise KeyError(f"no strategy config for {ctx.symbol}: the mapping covers {sorted(config)}")
        config = config[ctx.symbol]
    if config is not None and not isinstance(config, StrategyConfig):
        raise TypeError(f"the grid's config must be a StrategyConfig, got {type(config).__name__}")
    return GridStrategy(ctx.symbol, ctx.rules, config)
