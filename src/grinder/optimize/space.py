"""The search space file (`--space space.toml`): parameters, objectives, constraints, sampler.

    [study]
    name = "grid-btc"                      # default study name (--study overrides)
    sampler = "tpe"                        # "tpe" or "nsga2"
    objectives = ["net_pnl", "max_drawdown"]

    [constraints]                          # a trial that breaks one is infeasible
    max_position_qty = 0.05                # largest |position| of any symbol, base quantity

    [params.grid]                          # `<section>.<key>` of the GRINDER config
    spacing_bps = { low = 2, high = 40, log = true }
    levels = { low = 2, high = 8 }         # integers when low and high are integers
    spacing_mode = { choices = ["fixed", "adaptive"] }

    [params.strategy.params]               # a plug-in strategy's own [strategy.params]
    risk_aversion = { low = 0.01, high = 1.0, log = true }

A config parameter is applied to a trial as the environment override `GRINDER_<SECTION>_<KEY>`, so
it is validated by the same code as a config file. A plug-in parameter `strategy.params.<key>` is
put into the `[strategy.params]` handed to the factory of `[strategy] factory` (or `--strategy`),
over the base config's own params. `check_against_config` tries every bound and choice before any
trial starts (a config key against the config, a plug-in param by building the plug-in as
`grinder config check` does) and names the bad parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grinder.api import StrategySelection
from grinder.config import ConfigError, GrinderConfig, load_config, read_toml
from grinder.config_cli import PluginError, check_plugin, config_symbols, selection_of

# objective name -> (summary figure, direction)
OBJECTIVES: dict[str, tuple[str, str]] = {
    "net_pnl": ("net_pnl_usdt", "maximize"),
    "max_drawdown": ("max_drawdown_usdt", "minimize"),
    "sharpe": ("sharpe_annualized", "maximize"),
    "fees": ("fees_usdt", "minimize"),
}
# constraint name -> (trial figure, "max" = figure <= limit, "min" = figure >= limit)
CONSTRAINTS: dict[str, tuple[str, str]] = {
    "max_position_qty": ("max_abs_position_qty", "max"),
    "max_drawdown_usdt": ("max_drawdown_usdt", "max"),
    "min_fills": ("fills", "min"),
}
SAMPLERS = ("tpe", "nsga2")
PLUGIN_PREFIX = "strategy.params."  # `strategy.params.<key>`: a plug-in strategy's own setting


class SpaceError(ValueError):
    """A search-space file GRINDER cannot use (the message names the entry and the fix)."""


@dataclass(frozen=True, slots=True)
class Param:
    """One searched config key: a numeric range or a list of choices."""

    name: str  # "<section>.<key>", or "strategy.params.<key>" for a plug-in strategy's setting
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(self.step, float)

    @property
    def plugin_key(self) -> str | None:
        """The `[strategy.params]` key this parameter sets, None for a config key."""
        return self.name[len(PLUGIN_PREFIX) :] if self.name.startswith(PLUGIN_PREFIX) else None

    def env_name(self) -> str:
        return env_key(self.name)


def env_key(name: str) -> str:
    """`grid.spacing_bps` -> `GRINDER_GRID_SPACING_BPS` (the config's environment override)."""
    section, _, key = name.partition(".")
    return f"GRINDER_{section.upper()}_{key.upper()}"


def env_value(value: Any) -> str:
    """A sampled value as the text of an environment override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 12))
    return str(value)


def overrides(params: Mapping[str, Any]) -> dict[str, str]:
    """Sampled config parameters as GRINDER_<SECTION>_<KEY> environment overrides."""
    return {env_key(n): env_value(v) for n, v in params.items() if not n.startswith(PLUGIN_PREFIX)}


def plugin_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """Sampled plug-in parameters as `[strategy.params]` entries (`strategy.params.gamma` -> gamma)."""
    return {name[len(PLUGIN_PREFIX) :]: v for name, v in params.items() if name.startswith(PLUGIN_PREFIX)}


def trial_selection(cfg: GrinderConfig, params: Mapping[str, Any]) -> StrategySelection | None:
    """The strategy of a trial: the config's plug-in with the sampled `strategy.params.*` over its own
    `[strategy.params]`; None (the config's own choice) when the trial samples no plug-in param."""
    sampled = plugin_values(params)
    if not sampled:
        return None
    base = selection_of(cfg)
    if not base.factory:
        raise ValueError(
            f"[params] {PLUGIN_PREFIX}{next(iter(sampled))}: no plug-in strategy is selected; set "
            "[strategy] factory in --config or pass --strategy module:callable"
        )
    return StrategySelection(base.factory, {**base.params, **sampled})


@dataclass(frozen=True, slots=True)
class Space:
    params: tuple[Param, ...]
    objectives: tuple[str, ...] = ("net_pnl", "max_drawdown")
    constraints: dict[str, float] = field(default_factory=dict)
    sampler: str = "tpe"
    study_name: str = "grinder"
    seed: int | None = None

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]

    def objective_values(self, figures: Mapping[str, Any]) -> list[float]:
        return [float(figures.get(OBJECTIVES[o][0]) or 0.0) for o in self.objectives]

    def violations(self, figures: Mapping[str, Any]) -> dict[str, float]:
        """Optuna constraint values by name: <= 0 means satisfied."""
        out = {}
        for name, limit in self.constraints.items():
            figure, kind = CONSTRAINTS[name]
            value = float(figures.get(figure) or 0.0)
            out[name] = value - limit if kind == "max" else limit - value
        return out


def _param(name: str, spec: Mapping[str, Any]) -> Param:
    where = f"[params] {name}"
    plugin = name.startswith(PLUGIN_PREFIX) and name.count(".") == 2 and name != PLUGIN_PREFIX
    if name.count(".") != 1 and not plugin:
        raise SpaceError(
            f"{where}: name a config key as <section>.<key> (e.g. grid.spacing_bps) or a plug-in "
            f"strategy's param as {PLUGIN_PREFIX}<key> (e.g. {PLUGIN_PREFIX}risk_aversion)"
        )
    unknown = set(spec) - {"low", "high", "step", "log", "choices"}
    if unknown:
        raise SpaceError(f"{where}: unknown field {sorted(unknown)[0]!r}; use low/high[/step/log] or choices")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices or set(spec) != {"choices"}:
            raise SpaceError(f"{where}: choices must be a non-empty list, alone (no low/high)")
        return Param(name, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    numbers = (int, float)
    if not isinstance(low, numbers) or not isinstance(high, numbers) or isinstance(low, bool):
        raise SpaceError(f"{where}: give numeric low and high, or choices = [...]")
    if low >= high:
        raise SpaceError(f"{where}: low {low} must be below high {high}")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise SpaceError(f"{where}: a log range needs low > 0 (got {low})")
    step = spec.get("step")
    if step is not None and (not isinstance(step, numbers) or step <= 0 or log):
        raise SpaceError(f"{where}: step must be a positive number and cannot be combined with log")
    return Param(name, low=low, high=high, step=step, log=log)


def _collect(table: Mapping[str, Any], prefix: str = "") -> list[Param]:
    out: list[Param] = []
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if not isinstance(value, dict):
            raise SpaceError(f"[params] {name}: give a table such as {{ low = 1, high = 10 }}")
        if {"low", "high", "choices"} & set(value):
            out.append(_param(name, value))
        else:
            out.extend(_collect(value, name))
    return out


def parse_space(doc: Mapping[str, Any]) -> Space:
    unknown = set(doc) - {"study", "params", "constraints"}
    if unknown:
        raise SpaceError(f"unknown table [{sorted(unknown)[0]}]; use [study], [params] and [constraints]")
    study = dict(doc.get("study", {}))
    bad = set(study) - {"name", "sampler", "objectives", "seed"}
    if bad:
        raise SpaceError(f"[study] has no key {sorted(bad)[0]!r}; accepted: name, sampler, objectives, seed")
    params = tuple(_collect(doc.get("params", {})))
    if not params:
        raise SpaceError("[params] is empty: name at least one config key to search, e.g. grid.spacing_bps")
    objectives = tuple(study.get("objectives", ("net_pnl", "max_drawdown")))
    for o in objectives:
        if o not in OBJECTIVES:
            raise SpaceError(f"[study] objective {o!r} is unknown; choose from {', '.join(OBJECTIVES)}")
    if not objectives or len(set(objectives)) != len(objectives):
        raise SpaceError("[study] objectives must be a non-empty list without repeats")
    sampler = study.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise SpaceError(f"[study] sampler {sampler!r} is unknown; choose from {', '.join(SAMPLERS)}")
    constraints = {}
    for name, limit in doc.get("constraints", {}).items():
        if name not in CONSTRAINTS:
            raise SpaceError(f"[constraints] {name!r} is unknown; choose from {', '.join(CONSTRAINTS)}")
        if not isinstance(limit, int | float) or isinstance(limit, bool):
            raise SpaceError(f"[constraints] {name} must be a number, got {limit!r}")
        constraints[name] = float(limit)
    seed = study.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise SpaceError(f"[study] seed must be an integer, got {seed!r}")
    return Space(params, objectives, constraints, sampler, str(study.get("name", "grinder")), seed)


def _probes(p: Param) -> list[Any]:
    """The values a parameter is tried at before the study: every choice, or both bounds and the
    middle (a float range over an integer setting fails there, not in the middle of the study)."""
    if p.choices:
        return list(p.choices)
    assert p.low is not None and p.high is not None
    middle = (p.low + p.high) // 2 if p.is_int else (p.low + p.high) / 2
    return [p.low, p.high, middle]


def check_against_config(space: Space, config_path: str | None, env: Mapping[str, str]) -> None:
    """Build the config at every bound and choice of every parameter, and the plug-in strategy (if
    any) as a run would: a bad key or value fails here, before any trial."""
    try:
        base = load_config(config_path, env=env)
        check_plugin(selection_of(base), config_symbols(base))
    except (ConfigError, PluginError) as exc:
        raise SpaceError(f"the base config is refused: {exc}") from None
    for p in space.params:
        for v in _probes(p):
            try:
                cfg = load_config(config_path, env={**env, **overrides({p.name: v})})
            except ConfigError as exc:
                raise SpaceError(f"[params] {p.name} = {v!r} is refused by the config: {exc}") from None
            if p.plugin_key is None:
                continue
            try:
                selection = trial_selection(cfg, {p.name: v}) or selection_of(cfg)
                check_plugin(selection, config_symbols(cfg))
            except PluginError as exc:
                raise SpaceError(
                    f"[params] {p.name} = {v!r} is refused by {selection.factory}: {exc.reason}; "
                    "search only params the plug-in accepts, inside its ranges"
                ) from None
            except ValueError as exc:
                raise SpaceError(str(exc)) from None


def load_space(path: str | Path) -> Space:
    p = Path(path)
    try:
        doc = read_toml(p, "space file", "the space file in docs/research.md")
    except ConfigError as exc:
        raise SpaceError(str(exc)) from None
    try:
        return parse_space(doc)
    except SpaceError as exc:
        raise SpaceError(f"{p}: {exc}") from None
