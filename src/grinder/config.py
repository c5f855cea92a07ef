"""GRINDER configuration: one TOML file plus `GRINDER_<SECTION>_<KEY>` environment overrides.

Each component owns a dataclass with safe defaults (READ_ONLY, disarmed, loopback binds) and
registers it here as a `[section]`. Loading validates every key against that dataclass and fails
with a message naming the section, the key and the accepted values. Secrets are refused in files:
BINANCE_API_KEY / BINANCE_API_SECRET come only from the environment.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ENV_PREFIX = "GRINDER_"
SECRET_ENV = ("BINANCE_API_KEY", "BINANCE_API_SECRET")
_SECRET_KEY_WORDS = ("secret", "api_key", "apikey", "password", "passphrase", "private_key", "token")

# section name -> "module:ClassName". Each class is a dataclass whose fields all have defaults.
SECTIONS: dict[str, str] = {
    "connector": "grinder.connector.config:LiveConnectorConfig",
    "reconcile": "grinder.reconcile.config:ReconcileConfig",
    "binance": "grinder.binance.config:BinanceConfig",
    "venue": "grinder.venue.config:VenueConfig",
    "sim": "grinder.sim.config:SimConfig",
    "features": "grinder.strategy.config:FeatureConfig",
    "grid": "grinder.strategy.config:GridConfig",
    "controller": "grinder.strategy.config:ControllerConfig",
    "toxicity": "grinder.strategy.config:ToxicityConfig",
    "risk": "grinder.risk.config:RiskConfig",
    "execution": "grinder.execution.config:ExecutionConfig",
    "store": "grinder.store.config:StoreConfig",
    "ha": "grinder.ha.config:HAConfig",
    "engine": "grinder.live.config:EngineConfig",
    "ops": "grinder.ops.config:OpsConfig",
    "backtest": "grinder.backtest.config:BacktestConfig",
    "strategy": "grinder.api:StrategySelection",
}


# Checks across sections ("module:function" taking {section name: instance}; raise ValueError).
CROSS_CHECKS: tuple[str, ...] = ("grinder.live.config:check_sections", "grinder.api:check_sections")

# Sections that may carry per-symbol tables, e.g. `[grid.ETHUSDT]`, overriding `[grid]` for one symbol.
PER_SYMBOL_SECTIONS = frozenset({"grid", "controller", "toxicity", "features"})
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")


class ConfigError(ValueError):
    """A configuration problem, phrased so the operator knows what to change."""


def _resolve(path: str) -> type[Any]:
    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"config section class {path} cannot be loaded ({exc}); reinstall GRINDER") from exc
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise ConfigError(f"config section class {path} is not a dataclass")
    return cls


def section_classes(registry: Mapping[str, str] | None = None) -> dict[str, type[Any]]:
    """Import every registered section class (a build missing one is a packaging bug: fail loudly)."""
    return {name: _resolve(path) for name, path in (registry or SECTIONS).items()}


class GrinderConfig:
    """The effective configuration: one dataclass instance per section."""

    def __init__(
        self,
        sections: Mapping[str, Any],
        source: Path | None,
        symbol_sections: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._sections = dict(sections)
        self._symbol_sections = {name: dict(v) for name, v in (symbol_sections or {}).items()}
        self.source = source

    def get_for(self, cls: type[T], symbol: str) -> T:
        """The section of type `cls` as it applies to `symbol` (its `[section.SYMBOL]` table, if any)."""
        for name, value in self._sections.items():
            if type(value) is cls:
                override = self._symbol_sections.get(name, {}).get(symbol)
                return override if override is not None else value
        raise KeyError(f"no config section of type {cls.__name__}")

    @property
    def override_symbols(self) -> set[str]:
        """Symbols that have at least one per-symbol table."""
        return {sym for per in self._symbol_sections.values() for sym in per}

    def get(self, cls: type[T]) -> T:
        """The section whose dataclass is `cls` (typed access: `cfg.get(RiskConfig)`)."""
        for value in self._sections.values():
            if type(value) is cls:
                return value
        raise KeyError(f"no config section of type {cls.__name__}")

    def section(self, name: str) -> Any:
        try:
            return self._sections[name]
        except KeyError:
            raise KeyError(f"no config section [{name}]") from None

    @property
    def names(self) -> list[str]:
        return list(self._sections)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """File-settable values per section, for printing (enums by value, Decimals as strings).

        Runtime-only fields (an attached exchange port, say) are left out, and nothing is deep-copied.
        """
        out: dict[str, dict[str, Any]] = {}
        named = list(self._sections.items()) + [
            (f"{name}.{symbol}", obj)
            for name, per in self._symbol_sections.items()
            for symbol, obj in per.items()
        ]
        for name, obj in named:
            fields = _settable_fields(type(obj))
            out[name] = {k: _plain(getattr(obj, k)) for k, tp in fields.items() if _file_settable(tp)}
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal | Path):
        return str(value)
    return value


_SCALARS = (bool, int, float, Decimal, str, Path)


def _table_fields(cls: type[Any]) -> set[str]:
    """Fields typed `dict[...]`: they take a TOML sub-table verbatim (e.g. `[strategy.params]`)."""
    return {name for name, tp in _settable_fields(cls).items() if typing.get_origin(tp) is dict}


def _file_settable(tp: Any) -> bool:
    """Whether a field of this type can be written in TOML (scalars, enums, tuples, optionals, tables)."""
    origin = typing.get_origin(tp)
    if origin is dict:
        return True
    if origin in (types.UnionType, typing.Union):
        return all(a is type(None) or _file_settable(a) for a in typing.get_args(tp))
    if origin is tuple:
        return all(a is Ellipsis or _file_settable(a) for a in typing.get_args(tp))
    return tp in _SCALARS or (isinstance(tp, type) and issubclass(tp, enum.Enum))


def _looks_secret(key: str) -> bool:
    k = key.lower()
    if k.endswith("_env") or k.endswith("_env_var"):
        return False  # names of environment variables, not values
    return any(word in k for word in _SECRET_KEY_WORDS)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    if origin is tuple:
        return "a list"
    names = {bool: "true or false", int: "an integer", float: "a number", Decimal: "a decimal number",
             str: "a string", Path: "a file path", type(None): "nothing (omit the key)"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(tp: Any, raw: Any, where: str) -> Any:  # noqa: C901 - one branch per supported type
    """Convert a TOML value (or an environment string) to the field type, or raise ConfigError."""
    origin = typing.get_origin(tp)
    from_env = isinstance(raw, str)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if type(None) in args and (raw is None or (from_env and raw.strip().lower() in ("", "none", "null"))):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, raw, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_describe(tp)}, got {raw!r}")
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp) or (str,)
        items = [s.strip() for s in raw.split(",") if s.strip()] if from_env else raw
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {raw!r}")
        return tuple(_coerce(item_tp, item, where) for item in items)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        text = str(raw).strip()
        for member in tp:
            if text.upper() in (str(member.value).upper(), member.name.upper()):
                return member
        accepted = ", ".join(str(m.value) for m in tp)
        raise ConfigError(f"{where}: {raw!r} is not accepted; accepted values: {accepted}")
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if from_env and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ConfigError(f"{where}: expected true or false, got {raw!r}")
    if tp is int or tp is float:  # a float setting takes an integer too, an int setting no float
        if isinstance(raw, int if tp is int else int | float) and not isinstance(raw, bool):
            return tp(raw)
        if from_env:
            try:
                return tp(raw.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected {'an integer' if tp is int else 'a number'}, got {raw!r}")
    if tp is Decimal:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ConfigError(f"{where}: expected a decimal number, got {raw!r}")
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ConfigError(f"{where}: expected a decimal number, got {raw!r}") from None
        if not value.is_finite():
            raise ConfigError(f"{where}: expected a finite decimal number, got {raw!r}")
        return value
    if tp is str:
        if isinstance(raw, str):
            return raw
        raise ConfigError(f"{where}: expected a string, got {raw!r}")
    if tp is Path:
        if isinstance(raw, str):
            return Path(raw)
        raise ConfigError(f"{where}: expected a file path, got {raw!r}")
    raise ConfigError(f"{where}: this setting cannot be set from a config file (type {_describe(tp)})")


def _settable_fields(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}


def _check_keys(name: str, fields: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    accepted = ", ".join(sorted(fields)) or "(none)"
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        if _looks_secret(key):
            raise ConfigError(
                f"[{name}] {key}: secrets are not accepted in a config file; remove the key and set "
                f"{' / '.join(SECRET_ENV)} in the environment instead"
            )
        if key not in fields:
            raise ConfigError(f"[{name}] unknown key {key!r}; accepted keys: {accepted}")
        kwargs[key] = _coerce(fields[key], raw, f"[{name}] {key}")
    return kwargs


def _instantiate(name: str, cls: type[T], kwargs: Mapping[str, Any]) -> T:
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith(f"[{name}]") else f"[{name}] {text}") from None


def build_symbol_sections(
    name: str, cls: type[T], values: Mapping[str, Any], base_kwargs: Mapping[str, Any]
) -> dict[str, T]:
    """`[section.SYMBOL]` tables: the section's own settings with that symbol's keys on top."""
    out: dict[str, T] = {}
    fields = _settable_fields(cls)
    tables = _table_fields(cls)
    for symbol, table in values.items():
        if not isinstance(table, dict) or symbol in tables:
            continue
        if name not in PER_SYMBOL_SECTIONS:
            raise ConfigError(
                f"[{name}.{symbol}]: per-symbol tables are accepted only in "
                f"{', '.join(f'[{s}]' for s in sorted(PER_SYMBOL_SECTIONS))}"
            )
        if not _SYMBOL_RE.match(symbol):
            raise ConfigError(
                f"[{name}.{symbol}]: {symbol!r} is not a symbol name such as ETHUSDT (upper case)"
            )
        where = f"{name}.{symbol}"
        out[symbol] = _instantiate(where, cls, {**base_kwargs, **_check_keys(where, fields, table)})
    return out


def build_section(name: str, cls: type[T], values: Mapping[str, Any], env: Mapping[str, str]) -> T:
    """Instantiate one section from its TOML table and its GRINDER_<SECTION>_<KEY> overrides."""
    return _instantiate(name, cls, section_kwargs(name, cls, values, env))


def section_kwargs(
    name: str, cls: type[Any], values: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    """The validated keyword arguments of one section (file values, then environment overrides)."""
    fields = _settable_fields(cls)
    accepted = ", ".join(sorted(fields)) or "(none)"
    kwargs = _check_keys(name, fields, {k: v for k, v in values.items() if not isinstance(v, dict)})
    for key in _table_fields(cls) & values.keys():
        table = values[key]
        for inner in table if isinstance(table, dict) else ():
            if _looks_secret(inner):
                raise ConfigError(f"[{name}.{key}] {inner}: secrets are not accepted in a config file; "
                                  f"remove the key and read it from the environment instead")
        kwargs[key] = dict(table) if isinstance(table, dict) else table
    prefix = f"{ENV_PREFIX}{name.upper()}_"
    for env_name, raw_env in env.items():
        if not env_name.startswith(prefix):
            continue
        key = env_name[len(prefix) :].lower()
        if key not in fields:
            raise ConfigError(
                f"environment {env_name}: [{name}] has no key {key!r}; accepted keys: {accepted}"
            )
        kwargs[key] = _coerce(fields[key], raw_env, f"environment {env_name}")
    return kwargs


def read_toml(
    source: Path, what: str = "config file", example: str = "examples/grinder.toml"
) -> dict[str, Any]:
    """The TOML document in `source`; a `ConfigError` naming `what` is wrong with the file otherwise."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {source} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {source} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {source} is not UTF-8 text (a binary file?); "
                          f"pass a TOML file, e.g. {example}") from None
    except OSError as exc:
        raise ConfigError(f"{what} {source} cannot be read: {exc.strerror or exc}") from None


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: Mapping[str, str] | None = None,
) -> GrinderConfig:
    """Read `path` (optional) and the environment into a validated `GrinderConfig`."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = Path(path)
        data = read_toml(source)
    classes = section_classes(registry)
    for name, table in data.items():
        if name not in classes:
            raise ConfigError(f"unknown section [{name}]; accepted sections: {', '.join(sorted(classes))}")
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table of key = value settings, got {table!r}")
    sections: dict[str, Any] = {}
    symbol_sections: dict[str, dict[str, Any]] = {}
    for name, cls in classes.items():
        values = data.get(name, {})
        kwargs = section_kwargs(name, cls, values, env)
        sections[name] = _instantiate(name, cls, kwargs)
        per_symbol = build_symbol_sections(name, cls, values, kwargs)
        if per_symbol:
            symbol_sections[name] = per_symbol
    for check in CROSS_CHECKS if registry is None else ():
        module_name, _, func = check.partition(":")
        try:
            getattr(importlib.import_module(module_name), func)(sections)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return GrinderConfig(sections, source, symbol_sections)


def secret_status(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`set` / `not set` for each secret: the only form in which GRINDER ever shows them."""
    env = os.environ if env is None else env
    return {name: "set" if env.get(name) else "not set" for name in SECRET_ENV}
