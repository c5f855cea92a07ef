"""`grinder config check FILE`: validate a config file and print the effective configuration.

Besides every section's keys, the check dry-builds a plug-in strategy (`check_plugin`): the factory
of `[strategy] factory` is imported and called once per symbol with
`StrategyContext(symbol, rules, <read-only [strategy.params]>)` — exactly what
`StrategySelection.choose` hands a backtest or a live run — and must return a `grinder.api.Strategy`.
A factory that refuses its params (unknown key, wrong type, value out of range) fails the check in
one line naming the factory, the symbol and the plug-in's own reason. `grinder optimize` runs the
same check at every bound of a searched `strategy.params.<key>`. Strategies are pure (no I/O), so
building one here has no effect beyond the check.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable

from grinder.api import Strategy, StrategyContext, StrategyLoadError, StrategySelection
from grinder.config import ConfigError, GrinderConfig, load_config, secret_status
from grinder.core.rules import SymbolRules, btcusdt_rules
from grinder.data import DataError, builtin_rules

DEFAULT_SYMBOLS = ("BTCUSDT",)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate FILE and print the effective configuration")
    check.add_argument("file", nargs="?", help="TOML config file (omit to see defaults + environment)")
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    check.set_defaults(func=run_check)


class PluginError(ValueError):
    """A plug-in strategy that its own settings do not build (one line: what is wrong, the fix);
    `reason` is the plug-in's own words alone (for callers that phrase the fix themselves)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def selection_of(cfg: GrinderConfig) -> StrategySelection:
    """The config's `[strategy]` section (`factory = ""`: the built-in grid)."""
    return cfg.get(StrategySelection)


def config_symbols(cfg: GrinderConfig) -> tuple[str, ...]:
    """The symbols a live run of `cfg` trades: [engine] symbols, else [connector] symbols, else BTCUSDT."""
    for section in ("engine", "connector"):
        try:
            symbols = getattr(cfg.section(section), "symbols", ()) or ()
        except KeyError:
            continue
        if symbols:
            return tuple(str(s) for s in symbols)
    return DEFAULT_SYMBOLS


def sample_rules(symbol: str) -> SymbolRules:
    """The built-in rules of `symbol`, else BTCUSDT's under its name (a run uses the exchange's or
    the data's rules; a plug-in's params hardly depend on the exact tick size)."""
    try:
        return builtin_rules(symbol)
    except DataError:
        return dataclasses.replace(btcusdt_rules(), symbol=symbol)


def check_plugin(selection: StrategySelection, symbols: Iterable[str] = DEFAULT_SYMBOLS) -> None:
    """Build the selected plug-in for each symbol as a run would; `PluginError` when it refuses.
    The built-in grid (no factory) is checked by its own config sections and passes here."""
    if not selection.factory:
        return
    try:
        make, config = selection.choose(_no_grid, None)
    except StrategyLoadError as exc:
        raise PluginError(f"[strategy] factory = {exc}") from None
    for symbol in symbols:
        try:
            strategy = make(StrategyContext(symbol, sample_rules(symbol), config))
        except Exception as exc:  # a plug-in may raise anything; the operator needs its reason
            reason = _reason(exc)
            raise PluginError(
                f"{reason} (building {selection.factory} for {symbol}; fix [strategy.params] to what the "
                "plug-in accepts)",
                reason,
            ) from None
        if not isinstance(strategy, Strategy):
            raise PluginError(
                f"[strategy] factory = {selection.factory!r} returned a {type(strategy).__name__} for "
                f"{symbol}, not a grinder.api.Strategy (it needs on_event, on_fill and desired_quotes)"
            )


def _reason(exc: Exception) -> str:
    reason = " ".join(str(exc).split()) or "no reason given"
    if not reason.startswith("[strategy.params]"):
        reason = f"[strategy.params] refused: {type(exc).__name__}: {reason}"
    return reason


def _no_grid(ctx: StrategyContext) -> Strategy:  # pragma: no cover - used only without a factory
    raise AssertionError("the built-in grid is not a plug-in")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""  # not set'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def run_check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
        check_plugin(selection_of(cfg), config_symbols(cfg))
    except (ConfigError, PluginError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    effective = cfg.as_dict()
    secrets = secret_status()
    if args.json:
        print(json.dumps({"sections": effective, "secrets": secrets}, indent=2, sort_keys=True))
        return 0
    print(f"# effective configuration ({args.file or 'defaults + environment'})")
    for name, values in effective.items():
        print(f"\n[{name}]")
        for key, value in values.items():
            print(f"{key} = {_toml_value(value)}")
    print("\n# secrets (environment only)")
    for name, state in secrets.items():
        print(f"# {name}: {state}")
    return 0
