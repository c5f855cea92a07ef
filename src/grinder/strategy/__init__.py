"""GRINDER's strategy brain: market features, grid policy, adaptive controller and toxicity gate.

Pure decision code (no I/O, no clock reads): the same `GridStrategy` runs in backtest, paper and live.
"""

from grinder.strategy.config import (
    ControllerConfig,
    FeatureConfig,
    GridConfig,
    SpacingMode,
    StrategyConfig,
    ToxicAction,
    ToxicityConfig,
    reference_grid_config,
)
from grinder.strategy.features import FeatureEngine, Features
from grinder.strategy.strategy import GridStrategy, grid_factory
from grinder.strategy.types import ControllerMode, DesiredQuote, QuietBand, QuoteSet

__all__ = [
    "ControllerConfig",
    "ControllerMode",
    "DesiredQuote",
    "FeatureConfig",
    "FeatureEngine",
    "Features",
    "GridConfig",
    "GridStrategy",
    "QuietBand",
    "QuoteSet",
    "SpacingMode",
    "StrategyConfig",
    "ToxicAction",
    "ToxicityConfig",
    "grid_factory",
    "reference_grid_config",
]
