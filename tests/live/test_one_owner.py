"""One owner per setting: `[connector] symbols` is the write allow-list and the default list traded,
`[connector] max_notional_per_order` and `strategy_tag` are the engine's too; `config check` refuses a
configuration that splits them."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from grinder.config import load_config
from grinder.live.wiring import EngineSettings
from tests.fixtures.paths import REPO_DIR


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "grinder.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "grinder.cli", "config", "check", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=REPO_DIR, env={"PYTHONPATH": str(REPO_DIR / "src")})


def test_config_check_refuses_an_engine_symbol_outside_the_connector_allow_list(tmp_path: Path) -> None:
    proc = check(tmp_path, '[connector]\nsymbols = ["BTCUSDT"]\n[engine]\nsymbols = ["BTCUSDT", "ETHUSDT"]\n')
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "config error: [engine] symbols ['ETHUSDT'] are not in [connector] symbols ['BTCUSDT'] (the write "
        "allow-list); add them to [connector] symbols, or remove them from [engine] symbols"
    ]
    assert "Traceback" not in proc.stderr


def test_config_check_refuses_a_second_per_order_cap(tmp_path: Path) -> None:
    proc = check(tmp_path, '[connector]\nmax_notional_per_order = "200"\n[risk]\nmax_notional_per_order = "150"\n')
    assert proc.returncode == 2 and "the cap is owned by [connector]" in proc.stderr


def test_engine_takes_symbols_cap_and_tag_from_the_connector(tmp_path: Path) -> None:
    path = tmp_path / "grinder.toml"
    path.write_text('[connector]\nsymbols = ["ETHUSDT", "BTCUSDT"]\nmax_notional_per_order = "200"\n'
                    'strategy_tag = "abc"\n', encoding="utf-8")
    settings = EngineSettings.from_config(load_config(path, env={}))
    assert settings.engine.symbols == ("ETHUSDT", "BTCUSDT")
    assert settings.risk.max_notional_per_order == Decimal("200")
    assert EngineSettings().engine.symbols == ("BTCUSDT",)  # one default: the connector's
