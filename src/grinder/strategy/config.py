"""Strategy configuration: frozen dataclasses for the [grid], [controller], [toxicity], [features] sections.

Every field has a safe default (small size, post-only, controller and toxicity gate on). Values that
feed order prices (spacing, skew, multipliers) are Decimal so the grid arithmetic stays exact:
they are turned into integer fractions once, when a strategy is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, TypeVar

T = TypeVar("T")


class SpacingMode(StrEnum):
    FIXED = "FIXED"  # spacing_bps
    ADAPTIVE = "ADAPTIVE"  # natr_multiple × NATR, clamped to [spacing_min_bps, spacing_max_bps]


class ToxicAction(StrEnum):
    WIDEN = "WIDEN"  # widen the exposed side
    PAUSE = "PAUSE"  # stop quoting the exposed side


def _require(ok: bool, key: str, got: object, fix: str) -> None:
    """Refuse a bad value, naming the key and the fix (the config loader prefixes "[section]")."""
    if not ok:
        raise ValueError(f"{key} = {got!r} is invalid: {fix}")


@dataclass(frozen=True, slots=True)
class GridConfig:
    """[grid] The bilateral grid: levels, spacing, size per level, inventory cap and skew."""

    levels: int = 5  # levels per side
    spacing_mode: SpacingMode = SpacingMode.ADAPTIVE
    spacing_bps: Decimal = Decimal("10")  # FIXED: distance of level i is i × spacing_bps from the anchor
    natr_multiple: Decimal = Decimal("0.5")  # ADAPTIVE: spacing = natr_multiple × NATR (bps)
    spacing_min_bps: Decimal = Decimal("2")  # ADAPTIVE floor (never below the fee floor)
    maker_fee_bps: Decimal = Decimal("2")  # per fill; a round trip (buy + sell) pays twice this
    min_edge_bps: Decimal = Decimal("1")  # fee floor = 2 × maker_fee_bps + min_edge_bps (ADAPTIVE, TIGHTEN)
    warmup_bars: int = 30  # history bars (klines) read at start so NATR is warm from the first minute
    spacing_max_bps: Decimal = Decimal("100")  # ADAPTIVE ceiling
    spacing_change_min_frac: Decimal = Decimal("0.1")  # ADAPTIVE: ignore relative changes smaller than this
    min_spacing_ticks: int = 1  # level i is at least i × this many ticks from the anchor
    order_qty: Decimal = Decimal("0.001")  # base quantity per level (used when order_notional is 0)
    order_notional: Decimal = Decimal("0")  # > 0: size each level to this quote-asset notional
    max_position: Decimal = Decimal("0.01")  # |position| cap in base quantity, even if every order fills
    reanchor_spacings: Decimal = Decimal("1")  # re-anchor when mid is more than this × spacing away
    whole_levels: bool = True  # levels sit on a lattice of one step; re-anchoring moves whole steps
    anchor_skew_bps: Decimal = Decimal("5")  # anchor shift against the position, at the cap (0 = off)
    size_skew: bool = True  # shrink the side that grows the position (never below one order) until the cap
    take_profit: bool = False  # after a grid fill, quote the opposite side one spacing away
    max_take_profits: int = 10  # open take-profit quotes kept at most
    post_only: bool = True  # GTX maker orders; quotes that would cross the book are withheld

    @property
    def fee_floor_bps(self) -> Decimal:
        """The narrowest spacing a round trip earns at: two maker fees plus the configured edge."""
        return 2 * self.maker_fee_bps + self.min_edge_bps

    def __post_init__(self) -> None:
        _require(1 <= self.levels <= 99, "levels", self.levels, "use 1..99 levels per side")
        _require(self.spacing_bps > 0, "spacing_bps", self.spacing_bps, "use a positive number of bps")
        _require(self.natr_multiple > 0, "natr_multiple", self.natr_multiple, "use a positive multiple")
        _require(
            0 < self.spacing_min_bps <= self.spacing_max_bps,
            "spacing_min_bps",
            self.spacing_min_bps,
            "need 0 < spacing_min_bps <= spacing_max_bps",
        )
        _require(
            0 <= self.spacing_change_min_frac < 1,
            "spacing_change_min_frac",
            self.spacing_change_min_frac,
            "use a fraction in [0, 1)",
        )
        _require(self.min_spacing_ticks >= 0, "min_spacing_ticks", self.min_spacing_ticks, "use >= 0")
        _require(self.order_qty > 0, "order_qty", self.order_qty, "use a positive base quantity")
        _require(self.order_notional >= 0, "order_notional", self.order_notional, "use >= 0 (0 = off)")
        _require(self.max_position > 0, "max_position", self.max_position, "use a positive base quantity")
        _require(
            self.reanchor_spacings > 0,
            "reanchor_spacings",
            self.reanchor_spacings,
            "use a positive number",
        )
        _require(self.anchor_skew_bps >= 0, "anchor_skew_bps", self.anchor_skew_bps, "use >= 0 (0 = off)")
        _require(
            self.maker_fee_bps >= 0, "maker_fee_bps", self.maker_fee_bps, "use >= 0 (the exchange's rate)"
        )
        _require(self.min_edge_bps >= 0, "min_edge_bps", self.min_edge_bps, "use >= 0")
        _require(0 <= self.warmup_bars <= 1500, "warmup_bars", self.warmup_bars, "use 0..1500 bars (0 = off)")
        _require(0 <= self.max_take_profits <= 99, "max_take_profits", self.max_take_profits, "use 0..99")

    @classmethod
    def reference(cls) -> GridConfig:
        """The grid of ../shared/bench/REFERENCE_GRID.md: 5 levels, 10 bps, 0.01 per level, cap 0.1."""
        return cls(
            levels=5,
            spacing_mode=SpacingMode.FIXED,
            spacing_bps=Decimal("10"),
            min_spacing_ticks=0,
            order_qty=Decimal("0.01"),
            order_notional=Decimal("0"),
            max_position=Decimal("0.1"),
            reanchor_spacings=Decimal("1"),
            whole_levels=False,
            anchor_skew_bps=Decimal("0"),
            size_skew=False,
            take_profit=False,
            post_only=True,
        )


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """[controller] Mode switching (BASE / WIDEN / TIGHTEN / PAUSE) from volatility and spread."""

    enabled: bool = True
    eval_interval_ms: int = 1000  # controller and toxicity gate re-evaluate on this event-time grid
    min_dwell_ms: int = 30_000  # a mode lasts at least this long, except a switch into PAUSE
    hysteresis: float = 0.2  # leave a mode only once the metric is this fraction past its threshold
    pause_vol_bps: float = 80.0  # NATR (bps per bar) at or above: PAUSE
    widen_vol_bps: float = 25.0  # NATR at or above: WIDEN
    tighten_vol_bps: float = 3.0  # NATR at or below (and spread calm): TIGHTEN
    pause_spread_bps: float = 10.0  # smoothed spread at or above: PAUSE
    widen_spread_bps: float = 3.0  # smoothed spread at or above: WIDEN
    tighten_spread_bps: float = 0.5  # smoothed spread at or below (and vol calm): TIGHTEN
    widen_factor: Decimal = Decimal("1.5")  # spacing multiplier in WIDEN
    tighten_factor: Decimal = Decimal("0.75")  # spacing multiplier in TIGHTEN

    def __post_init__(self) -> None:
        _require(self.eval_interval_ms > 0, "eval_interval_ms", self.eval_interval_ms, "use > 0 ms")
        _require(self.min_dwell_ms >= 0, "min_dwell_ms", self.min_dwell_ms, "use >= 0 ms")
        _require(0 <= self.hysteresis < 1, "hysteresis", self.hysteresis, "use a fraction in [0, 1)")
        _require(
            0 <= self.tighten_vol_bps < self.widen_vol_bps < self.pause_vol_bps,
            "widen_vol_bps",
            self.widen_vol_bps,
            "need tighten_vol_bps < widen_vol_bps < pause_vol_bps",
        )
        _require(
            0 <= self.tighten_spread_bps < self.widen_spread_bps < self.pause_spread_bps,
            "widen_spread_bps",
            self.widen_spread_bps,
            "need tighten_spread_bps < widen_spread_bps < pause_spread_bps",
        )
        _require(self.widen_factor >= 1, "widen_factor", self.widen_factor, "use >= 1")
        _require(0 < self.tighten_factor <= 1, "tighten_factor", self.tighten_factor, "use (0, 1]")


@dataclass(frozen=True, slots=True)
class ToxicityConfig:
    """[toxicity] Fast gate against adverse selection: spread spikes, price impact, one-sided flow."""

    enabled: bool = True
    spread_spike_bps: float = 8.0  # a spread wider than this is a spike (pause both sides)
    spread_spike_mult: float = 10.0  # ... or wider than this × the smoothed spread
    impact_bps: float = 30.0  # mid moved more than this within impact_lookback_ms: pause the exposed side
    impact_lookback_ms: int = 3000
    flow_threshold: float = 0.8  # |trade-flow imbalance| at or above: flow is one-sided
    flow_min_trades: float = 20.0  # ... with at least this many (decayed) trades in the window
    flow_action: ToxicAction = ToxicAction.WIDEN
    flow_widen_factor: Decimal = Decimal("2")  # spacing multiplier on the exposed side
    cooldown_ms: int = 5000  # a triggered condition holds at least this long
    slide_bps: float = 4.0  # mid moved this far within slide_lookback_ms ...
    slide_lookback_ms: int = 10_000
    slide_flow: float = 0.5  # ... with trade flow at least this one-sided the same way: pause the side hit
    slide_min_trades: float = 5.0  # ... over at least this many (decayed) trades

    def __post_init__(self) -> None:
        _require(self.spread_spike_bps > 0, "spread_spike_bps", self.spread_spike_bps, "use > 0")
        _require(self.spread_spike_mult >= 1, "spread_spike_mult", self.spread_spike_mult, "use >= 1")
        _require(self.impact_bps > 0, "impact_bps", self.impact_bps, "use > 0")
        _require(self.impact_lookback_ms > 0, "impact_lookback_ms", self.impact_lookback_ms, "use > 0 ms")
        _require(0 < self.flow_threshold <= 1, "flow_threshold", self.flow_threshold, "use (0, 1]")
        _require(self.flow_min_trades >= 0, "flow_min_trades", self.flow_min_trades, "use >= 0")
        _require(self.flow_widen_factor >= 1, "flow_widen_factor", self.flow_widen_factor, "use >= 1")
        _require(self.cooldown_ms >= 0, "cooldown_ms", self.cooldown_ms, "use >= 0 ms")
        _require(self.slide_bps > 0, "slide_bps", self.slide_bps, "use > 0")
        _require(self.slide_lookback_ms > 0, "slide_lookback_ms", self.slide_lookback_ms, "use > 0 ms")
        _require(0 < self.slide_flow <= 1, "slide_flow", self.slide_flow, "use (0, 1]")
        _require(self.slide_min_trades >= 0, "slide_min_trades", self.slide_min_trades, "use >= 0")


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """[features] Windows of the incremental market features (all in event time)."""

    bar_ms: int = 60_000  # time bars for NATR and range/trend scores
    natr_period: int = 14  # Wilder smoothing period, in bars
    trend_window_bars: int = 20  # bars in the range / trend (efficiency ratio) scores
    vol_halflife_ms: int = 30_000  # EWMA volatility of mid log returns
    spread_halflife_ms: int = 60_000  # smoothed spread
    flow_halflife_ms: int = 5_000  # trade-flow imbalance
    ofi_halflife_ms: int = 5_000  # order-flow imbalance (L1 and L2)
    l2_band_bps: float = 10.0  # L2 levels within this distance of mid count for depth features
    l2_max_levels: int = 400  # L2 levels kept per side (farthest dropped first)

    def __post_init__(self) -> None:
        _require(self.bar_ms > 0, "bar_ms", self.bar_ms, "use > 0 ms")
        _require(self.natr_period >= 1, "natr_period", self.natr_period, "use >= 1 bar")
        _require(self.trend_window_bars >= 2, "trend_window_bars", self.trend_window_bars, "use >= 2 bars")
        for key in ("vol_halflife_ms", "spread_halflife_ms", "flow_halflife_ms", "ofi_halflife_ms"):
            value = getattr(self, key)
            _require(value > 0, key, value, "use > 0 ms")
        _require(self.l2_band_bps > 0, "l2_band_bps", self.l2_band_bps, "use > 0")
        _require(self.l2_max_levels >= 1, "l2_max_levels", self.l2_max_levels, "use >= 1")


class SectionSource(Protocol):
    """What `StrategyConfig.from_sections` needs: `grinder.config.GrinderConfig` satisfies it."""

    def get(self, cls: type[T]) -> T: ...

    def get_for(self, cls: type[T], symbol: str) -> T: ...


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """Everything one `GridStrategy` needs; composed from the four sections."""

    grid: GridConfig = field(default_factory=GridConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    toxicity: ToxicityConfig = field(default_factory=ToxicityConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    strategy_tag: str = "grid"  # the {strategy} part of client order ids (1-6 chars, no '_')

    def __post_init__(self) -> None:
        _require(
            re.fullmatch(r"[A-Za-z0-9.:/-]{1,6}", self.strategy_tag) is not None,
            "strategy_tag",
            self.strategy_tag,
            "use 1-6 characters from [A-Za-z0-9.:/-] (no '_')",
        )

    @classmethod
    def reference(cls) -> StrategyConfig:
        """REFERENCE_GRID.md exactly: the reference grid, controller and toxicity gate off."""
        return cls(
            grid=GridConfig.reference(),
            controller=ControllerConfig(enabled=False),
            toxicity=ToxicityConfig(enabled=False),
            features=FeatureConfig(),
        )

    @classmethod
    def from_sections(cls, source: SectionSource) -> StrategyConfig:
        """Compose from a loaded configuration (`grinder.config.load(...)` result)."""
        return cls(
            grid=source.get(GridConfig),
            controller=source.get(ControllerConfig),
            toxicity=source.get(ToxicityConfig),
            features=source.get(FeatureConfig),
        )

    @classmethod
    def for_symbol(cls, source: SectionSource, symbol: str) -> StrategyConfig:
        """Like `from_sections`, with the symbol's `[grid.SYMBOL]`-style tables applied."""
        return cls(
            grid=source.get_for(GridConfig, symbol),
            controller=source.get_for(ControllerConfig, symbol),
            toxicity=source.get_for(ToxicityConfig, symbol),
            features=source.get_for(FeatureConfig, symbol),
        )

    @property
    def uses_features(self) -> bool:
        """True when decisions read market features (so every event must reach the strategy)."""
        return (
            self.controller.enabled or self.toxicity.enabled or self.grid.spacing_mode is SpacingMode.ADAPTIVE
        )


def reference_grid_config() -> StrategyConfig:
    """Alias of `StrategyConfig.reference()`."""
    return StrategyConfig.reference()
