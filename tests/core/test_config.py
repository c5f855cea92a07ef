"""Config loading: TOML + env overrides, errors that name the key, secrets refused in files."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from grinder.config import ConfigError, load_config
from grinder.core.enums import SafeMode


@dataclass(frozen=True)
class DemoConnector:
    mode: SafeMode = SafeMode.READ_ONLY
    armed: bool = False
    symbols: tuple[str, ...] = ("BTCUSDT",)
    max_notional_per_order: Decimal = Decimal("125")


@dataclass(frozen=True)
class DemoOps:
    host: str = "127.0.0.1"
    port: int = 9090
    control_token_env: str = "GRINDER_CONTROL_TOKEN"
    stale_after_s: float | None = None


REG = {"connector": f"{__name__}:DemoConnector", "ops": f"{__name__}:DemoOps"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "grinder.toml"
    p.write_text(text)
    return p


def test_defaults_are_safe(tmp_path: Path) -> None:
    cfg = load_config(None, env={}, registry=REG)
    conn = cfg.get(DemoConnector)
    assert conn.mode is SafeMode.READ_ONLY and conn.armed is False
    assert cfg.get(DemoOps).host == "127.0.0.1"


def test_file_and_env_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[connector]\nmode = "paper"\nsymbols = ["BTCUSDT", "ETHUSDT"]\n[ops]\nport = 9100\n')
    env = {"GRINDER_CONNECTOR_ARMED": "yes", "GRINDER_CONNECTOR_MAX_NOTIONAL_PER_ORDER": "150.5",
           "GRINDER_OPS_STALE_AFTER_S": "2.5", "GRINDER_CONTROL_TOKEN": "not-a-section"}
    cfg = load_config(path, env=env, registry=REG)
    conn = cfg.get(DemoConnector)
    assert conn.mode is SafeMode.PAPER and conn.armed is True
    assert conn.symbols == ("BTCUSDT", "ETHUSDT")
    assert conn.max_notional_per_order == Decimal("150.5")
    assert cfg.get(DemoOps).port == 9100 and cfg.get(DemoOps).stale_after_s == 2.5


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ('[connector]\nmode = "LIVE"\n', {}, "[connector] mode: 'LIVE' is not accepted; accepted values: READ_ONLY, PAPER, LIVE_TRADE"),
        ('[connector]\narmd = true\n', {}, "[connector] unknown key 'armd'; accepted keys: armed, max_notional_per_order, mode, symbols"),
        ("[conector]\n", {}, "unknown section [conector]; accepted sections: connector, ops"),
        ('[ops]\nport = "x"\n', {}, "[ops] port: expected an integer, got 'x'"),
        ("", {"GRINDER_CONNECTOR_ARMED": "maybe"}, "environment GRINDER_CONNECTOR_ARMED: expected true or false, got 'maybe'"),
        ("", {"GRINDER_OPS_PROT": "1"}, "environment GRINDER_OPS_PROT: [ops] has no key 'prot'"),
        ("[connector\n", {}, "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env, registry=REG)
    assert needle in str(info.value)


def test_secret_in_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[connector]\napi_secret = "s3cr3t-value-123"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, registry=REG)
    msg = str(info.value)
    assert "secrets are not accepted in a config file" in msg and "BINANCE_API_SECRET" in msg
    assert "s3cr3t-value-123" not in msg


def test_env_var_names_are_not_secrets(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[ops]\ncontrol_token_env = "MY_TOKEN"\n'), env={}, registry=REG)
    assert cfg.get(DemoOps).control_token_env == "MY_TOKEN"


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={}, registry=REG)


def test_cli_config_check_error_exit_code(tmp_path: Path) -> None:
    path = write(tmp_path, "[nosuchsection]\n")
    proc = subprocess.run([sys.executable, "-m", "grinder.cli", "config", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown section [nosuchsection]" in proc.stderr


def test_cli_config_check_prints_effective_config_without_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[connector]\nmode = "PAPER"\n')
    env = {**__import__("os").environ, "BINANCE_API_KEY": "key-value-abcdef", "BINANCE_API_SECRET": "secret-value-abcdef"}
    env.pop("GRINDER_CONNECTOR_MODE", None)
    proc = subprocess.run([sys.executable, "-m", "grinder.cli", "config", "check", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert '[connector]\nmode = "PAPER"\narmed = false' in out
    assert "futures_port" not in out  # runtime-only objects are not config
    assert "# BINANCE_API_KEY: set" in out and "# BINANCE_API_SECRET: set" in out
    assert "key-value-abcdef" not in out and "secret-value-abcdef" not in out


@dataclass(frozen=True)
class DemoGrid:
    levels: int = 5
    max_position: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        if self.levels < 1:
            raise ValueError(f"levels = {self.levels} is invalid: use at least 1")


GRID_REG = {**REG, "grid": f"{__name__}:DemoGrid"}


def test_per_symbol_tables_override_the_section_for_that_symbol(tmp_path: Path) -> None:
    path = write(tmp_path, '[grid]\nlevels = 3\n[grid.ETHUSDT]\nmax_position = "0.5"\n')
    cfg = load_config(path, env={"GRINDER_GRID_LEVELS": "4"}, registry=GRID_REG)
    assert cfg.get(DemoGrid) == DemoGrid(levels=4)
    assert cfg.get_for(DemoGrid, "BTCUSDT") == DemoGrid(levels=4)
    assert cfg.get_for(DemoGrid, "ETHUSDT") == DemoGrid(levels=4, max_position=Decimal("0.5"))
    assert cfg.override_symbols == {"ETHUSDT"}
    assert cfg.as_dict()["grid.ETHUSDT"] == {"levels": 4, "max_position": "0.5"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[grid.ETHUSDT]\nlevel = 2\n', "[grid.ETHUSDT] unknown key 'level'; accepted keys: levels, max_position"),
        ("[grid.ETHUSDT]\nlevels = 0\n", "[grid.ETHUSDT] levels = 0 is invalid: use at least 1"),
        ("[grid.ethusdt]\nlevels = 2\n", "'ethusdt' is not a symbol name such as ETHUSDT"),
        ("[ops.ETHUSDT]\nport = 1\n", "[ops.ETHUSDT]: per-symbol tables are accepted only in"),
    ],
)
def test_bad_per_symbol_tables_are_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={}, registry=GRID_REG)
    assert needle in str(info.value)


def test_real_strategy_sections_per_symbol(tmp_path: Path) -> None:
    from grinder.strategy.config import StrategyConfig

    path = write(tmp_path, '[grid]\nmax_position = "0.01"\n[grid.ETHUSDT]\nmax_position = "0.3"\n')
    cfg = load_config(path, env={})
    assert StrategyConfig.for_symbol(cfg, "ETHUSDT").grid.max_position == Decimal("0.3")
    assert StrategyConfig.for_symbol(cfg, "BTCUSDT") == StrategyConfig.from_sections(cfg)
