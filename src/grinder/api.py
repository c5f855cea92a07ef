"""The public strategy plug-in API: what a strategy is, what it answers with, and how a run finds it.

A strategy is one object per symbol. The run feeds it market events (`on_event`) and our own fills
(`on_fill`), and asks it for the quotes it wants resting (`desired_quotes`); risk checks, the order
diff and the exchange are the run's business. The same object runs in backtest, paper and live.

    from grinder.api import DesiredQuote, QuoteSet, Side, StrategyContext

    def make(ctx: StrategyContext) -> MyStrategy:       # the factory: one call per symbol
        return MyStrategy(ctx.symbol, ctx.rules, ctx.config)

Select it with `[strategy] factory = "package.module:make"` (its own settings in `[strategy.params]`)
or `--strategy package.module:make` on `grinder backtest`, `grinder live` and `grinder demo`.
Optional capabilities (`QuietBandStrategy`, `WritePressureAware`, `WarmsUp`, `ReportsStats`) are
used when a strategy has them; a strategy without a quiet band simply sees every event.
See docs/strategy.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from grinder.core.enums import Side
from grinder.core.events import BookTicker, DepthUpdate, Fill, MarketEvent, MarkPrice, Trade
from grinder.core.quotes import EMPTY_BAND, DesiredQuote, QuietBand, QuoteSet, StrategyContext
from grinder.core.rules import SymbolRules

__all__ = [
    "EMPTY_BAND",
    "BookTicker",
    "DepthUpdate",
    "DesiredQuote",
    "Fill",
    "MarkPrice",
    "MarketEvent",
    "QuietBand",
    "QuietBandStrategy",
    "QuoteSet",
    "ReportsStats",
    "Side",
    "Strategy",
    "StrategyContext",
    "StrategyFactory",
    "StrategyLoadError",
    "StrategySelection",
    "SymbolRules",
    "Trade",
    "WarmsUp",
    "WritePressureAware",
    "load_factory",
]


@runtime_checkable
class Strategy(Protocol):
    """One symbol's quoting brain. Pure: no I/O, no clock reads (`now_ms` is the run's time)."""

    def on_event(self, ev: MarketEvent) -> None:
        """A market event of this strategy's symbol (BookTicker, Trade, DepthUpdate, MarkPrice)."""

    def on_fill(self, fill: Fill) -> None:
        """One execution of one of our orders of this symbol (each fill once, de-duplicated)."""

    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        """Every order wanted resting now; the run places, keeps, amends or cancels to match."""


@runtime_checkable
class QuietBandStrategy(Strategy, Protocol):
    """Optional: a strategy that can say where the market may move without changing its answer.

    The pipeline then skips `desired_quotes` and the order diff for events inside the band, and the
    backtester skips whole stretches of rows (see `QuietBand` for the exact promise).
    """

    def quiet_band(self) -> QuietBand:
        """The band of the last `desired_quotes` answer (`EMPTY_BAND`: ask again next event)."""


@runtime_checkable
class WritePressureAware(Protocol):
    """Optional: told the account's write-budget pressure (0 normal, 1-2 tight) before each plan."""

    def set_write_pressure(self, pressure: int) -> None: ...


@runtime_checkable
class WarmsUp(Protocol):
    """Optional: takes history bars (high, low, close) at start-up (`source` names where from)."""

    def warm_up(self, bars: list[tuple[float, float, float]], source: str) -> None: ...


@runtime_checkable
class ReportsStats(Protocol):
    """Optional: figures of its own for the backtest report (numbers by name)."""

    def stats(self) -> Mapping[str, float | int]: ...


StrategyFactory = Callable[[StrategyContext], Strategy]
"""Builds one symbol's strategy; called once per symbol when a run starts."""


class StrategyLoadError(ValueError):
    """A `module:callable` strategy factory that cannot be used, phrased with the fix."""


_SPEC = re.compile(r"^(?P<module>[^:\s]+):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
_EXAMPLE = "e.g. examples.strategies.avellaneda:make or path/to/file.py:make"


def check_spec(spec: str) -> None:
    """Refuse a factory string that is not `module:callable` (no import)."""
    if not _SPEC.match(spec):
        raise StrategyLoadError(f"{spec!r} is not module:callable ({_EXAMPLE})")


@dataclass(frozen=True)
class StrategySelection:
    """[strategy] Which strategy runs: `factory = "package.module:callable"` ("" = the built-in grid
    of [grid], [controller], [toxicity], [features]); `[strategy.params]` is handed to the factory."""

    factory: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.factory:
            try:
                check_spec(self.factory)
            except StrategyLoadError as exc:
                raise ValueError(f"factory = {exc}") from None

    def load(self) -> StrategyFactory | None:
        """The factory callable (imported now), or None for the built-in grid."""
        return load_factory(self.factory) if self.factory else None

    def choose(self, grid: StrategyFactory, grid_config: Any) -> tuple[StrategyFactory, Any]:
        """(factory, its config) for a run: the plug-in with a read-only copy of `params`, or else
        the built-in grid with its own config."""
        plugin = self.load()
        if plugin is None:
            return grid, grid_config
        return plugin, MappingProxyType(dict(self.params))


def select(configured: StrategySelection | None, flag: str | None) -> StrategySelection:
    """The run's strategy: `--strategy FLAG` over `[strategy] factory` (its params kept), imported
    now so a bad one stops the run before any work (StrategyLoadError naming which setting)."""
    chosen = configured or StrategySelection()
    where = "[strategy] factory"
    if flag:
        where = "--strategy"
        try:
            check_spec(flag)
        except StrategyLoadError as exc:
            raise StrategyLoadError(f"--strategy {exc}") from None
        chosen = StrategySelection(flag, dict(chosen.params))
    try:
        chosen.load()
    except StrategyLoadError as exc:
        raise StrategyLoadError(f"{where} {exc}") from None
    return chosen


def check_sections(sections: Mapping[str, Any]) -> None:
    """Config cross-check: a configured factory must import and be callable (before any work)."""
    selection = sections.get("strategy")
    if isinstance(selection, StrategySelection) and selection.factory:
        try:
            selection.load()
        except StrategyLoadError as exc:
            raise ValueError(f"[strategy] factory = {exc}") from None


def load_factory(spec: str) -> StrategyFactory:
    """Import `package.module:callable` (or `path/to/file.py:callable`) and return the callable.

    A dotted module is imported as usual; when it is not found, the current directory is added to
    `sys.path` (as `python -m` would) and the import tried once more, so `examples.strategies...`
    works from the repository root. Every failure is a `StrategyLoadError` naming the fix.
    """
    check_spec(spec)
    module_name, _, attr = spec.rpartition(":")
    from_file = module_name.endswith(".py")
    module = _import_file(module_name, spec) if from_file else _import_module(module_name, spec)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise StrategyLoadError(f"{spec!r}: {module_name} has no attribute {attr!r}; check the name")
        obj = getattr(obj, part)
    if not callable(obj):
        raise StrategyLoadError(f"{spec!r}: {attr} is a {type(obj).__name__}, not a callable factory")
    factory: StrategyFactory = obj
    return factory


def _import_module(name: str, spec: str) -> Any:
    for attempt in (0, 1):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or name
            here = os.getcwd()
            if attempt == 0 and name.startswith(missing) and here not in sys.path:
                sys.path.insert(0, here)
                continue
            raise StrategyLoadError(
                f"{spec!r}: module {missing} not found; run from the folder that holds {name.split('.')[0]} "
                "or add that folder to PYTHONPATH"
            ) from None
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
            raise StrategyLoadError(f"{spec!r}: importing {name} failed: {why}") from None
    raise AssertionError("unreachable")


def _import_file(path_text: str, spec: str) -> Any:
    path = Path(path_text).resolve()
    if not path.is_file():
        raise StrategyLoadError(f"{spec!r}: file {path_text} does not exist")
    name = f"grinder_plugin_{path.stem}"
    file_spec = importlib.util.spec_from_file_location(name, path)
    if file_spec is None or file_spec.loader is None:
        raise StrategyLoadError(f"{spec!r}: {path_text} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        file_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        why = f"{type(exc).__name__}: {exc}"
        raise StrategyLoadError(f"{spec!r}: importing {path_text} failed: {why}") from None
    return module
