"""Config loading: TOML + env overrides, errors that name the key, secrets refused in files."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from grinder.config import ConfigError, load_config
from grinder.core.enums import SafeMode
from grinder.live.wiring import EngineSettings
from grinder.strategy.config import GridConfig


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "grinder.toml"
    p.write_text(text)
    return p


def settings(path: Path | None, env: dict[str, str]) -> EngineSettings:
    """What `grinder live --config PATH` builds: the real section registry, then EngineSettings."""
    return EngineSettings.from_config(load_config(path, env=env))


def test_defaults_are_safe() -> None:
    s = settings(None, {})
    assert s.connector.mode is SafeMode.READ_ONLY and s.connector.armed is False
    assert s.connector.futures_port is None and s.connector.paper_port is None
    assert s.ops.host == "127.0.0.1"
    assert s.ha is not None and s.ha.enabled is False


def test_file_and_env_overrides_reach_the_engine_settings(tmp_path: Path) -> None:
    path = write(tmp_path, '[connector]\nmode = "paper"\nsymbols = ["BTCUSDT", "ETHUSDT"]\n'
                           '[ops]\nport = 9100\n[grid]\nlevels = 3\n')
    env = {"GRINDER_CONNECTOR_ARMED": "yes", "GRINDER_CONNECTOR_MAX_NOTIONAL_PER_ORDER": "150.5",
           "GRINDER_OPS_LOOP_STALL_S": "2.5", "GRINDER_GRID_LEVELS": "4", "GRINDER_CONTROL_TOKEN": "not-a-section"}
    s = settings(path, env)
    assert s.connector.mode is SafeMode.PAPER and s.connector.armed is True
    assert s.connector.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.connector.max_notional_per_order == Decimal("150.5")
    assert s.ops.port == 9100 and s.ops.loop_stall_s == 2.5
    assert s.strategy.grid.levels == 4  # the environment beats the file


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ('[connector]\nmode = "LIVE"\n', {}, "[connector] mode: 'LIVE' is not accepted; accepted values: READ_ONLY, PAPER, LIVE_TRADE"),
        ('[connector]\narmd = true\n', {}, "[connector] unknown key 'armd'; accepted keys: armed, "),
        ("[conector]\n", {}, "unknown section [conector]; accepted sections: backtest, binance, connector, controller"),
        ('[ops]\nport = "x"\n', {}, "[ops] port: expected an integer, got 'x'"),
        ('[ops]\nport = 70000\n', {}, "ops.port=70000 is not a TCP port"),
        ("", {"GRINDER_CONNECTOR_ARMED": "maybe"}, "environment GRINDER_CONNECTOR_ARMED: expected true or false, got 'maybe'"),
        ("", {"GRINDER_OPS_PROT": "1"}, "environment GRINDER_OPS_PROT: [ops] has no key 'prot'"),
        ("[connector\n", {}, "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(write(tmp_path, text), env)
    assert needle in str(info.value)


def test_secret_in_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[connector]\napi_secret = "s3cr3t-value-123"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    msg = str(info.value)
    assert "secrets are not accepted in a config file" in msg and "BINANCE_API_SECRET" in msg
    assert "s3cr3t-value-123" not in msg


def test_env_var_names_are_not_secrets(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[ops]\ncontrol_token_env = "MY_TOKEN"\n'), env={})
    assert EngineSettings.from_config(cfg).ops.control_token_env == "MY_TOKEN"


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


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


def test_per_symbol_tables_override_the_section_for_that_symbol(tmp_path: Path) -> None:
    path = write(tmp_path, '[grid]\nlevels = 3\n[grid.ETHUSDT]\nmax_position = "0.5"\n')
    cfg = load_config(path, env={"GRINDER_GRID_LEVELS": "4"})
    assert cfg.get(GridConfig) == GridConfig(levels=4)
    assert cfg.get_for(GridConfig, "BTCUSDT") == GridConfig(levels=4)
    assert cfg.get_for(GridConfig, "ETHUSDT") == GridConfig(levels=4, max_position=Decimal("0.5"))
    assert cfg.override_symbols == {"ETHUSDT"}
    assert cfg.as_dict()["grid.ETHUSDT"]["max_position"] == "0.5"
    s = EngineSettings.from_config(cfg)  # what the live engine is built from
    assert s.strategies["ETHUSDT"].grid.max_position == Decimal("0.5")
    assert s.strategy.grid.max_position == GridConfig().max_position


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[grid.ETHUSDT]\nlevel = 2\n', "[grid.ETHUSDT] unknown key 'level'; accepted keys: "),
        ("[grid.ETHUSDT]\nlevels = 0\n", "[grid.ETHUSDT] levels = 0 is invalid: use 1..99 levels per side"),
        ("[grid.ethusdt]\nlevels = 2\n", "'ethusdt' is not a symbol name such as ETHUSDT"),
        ("[ops.ETHUSDT]\nport = 1\n", "[ops.ETHUSDT]: per-symbol tables are accepted only in"),
    ],
)
def test_bad_per_symbol_tables_are_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert needle in str(info.value)


def test_real_strategy_sections_per_symbol(tmp_path: Path) -> None:
    from grinder.strategy.config import StrategyConfig

    path = write(tmp_path, '[grid]\nmax_position = "0.01"\n[grid.ETHUSDT]\nmax_position = "0.3"\n')
    cfg = load_config(path, env={})
    assert StrategyConfig.for_symbol(cfg, "ETHUSDT").grid.max_position == Decimal("0.3")
    assert StrategyConfig.for_symbol(cfg, "BTCUSDT") == StrategyConfig.from_sections(cfg)
