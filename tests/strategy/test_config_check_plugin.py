"""`grinder config check` builds a plug-in strategy from its settings the way a run does: a factory
that cannot be imported, or `[strategy.params]` the plug-in refuses, is one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grinder.api import StrategySelection
from grinder.cli import main
from grinder.config_cli import PluginError, check_plugin
from tests.fixtures.paths import REPO_DIR

AS = "examples.strategies.avellaneda:make"
TOUCH = "examples.strategies.touch:make"


def _config(tmp_path: Path, factory: str, params: str = "") -> Path:
    path = tmp_path / "grinder.toml"
    text = f'[strategy]\nfactory = "{factory}"\n'
    if params:
        text += f"[strategy.params]\n{params}\n"
    path.write_text(text, encoding="utf-8")
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["config", "check", str(path)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_a_good_plugin_config_passes_and_shows_its_params(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _check(_config(tmp_path, AS, "risk_aversion = 0.05\nkappa = 0.8\norder_notional = 120"), capsys)
    assert (rc, err) == (0, "")
    assert f'factory = "{AS}"' in out and "params = {risk_aversion = 0.05, kappa = 0.8" in out


@pytest.mark.parametrize(
    ("factory", "params", "message"),
    [
        ("examples.strategies.nope:make", "", "config error: [strategy] factory = 'examples.strategies.nope:make': "
         "module examples.strategies.nope not found"),
        (AS, "gama = 0.1", "config error: [strategy.params] unknown key 'gama'; accepted: risk_aversion, kappa,"),
        (AS, 'kappa = "fast"', "config error: [strategy.params] kappa = 'fast' is not a number; give e.g. kappa = 0.5"),
        (AS, "max_position_orders = 2.5", "[strategy.params] max_position_orders = 2.5 is not an integer"),
        (AS, "kappa = 0", "[strategy.params] kappa = 0.0 is out of range; it must be > 0"),
        (TOUCH, "offset = 3", "config error: [strategy.params] offset = 3 is refused: accepted are offset_ticks"),
        (TOUCH, 'offset_ticks = "3"', "[strategy.params] offset_ticks = '3' is refused"),
    ],
)
def test_a_plugin_that_refuses_its_settings_fails_the_check_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], factory: str, params: str, message: str
) -> None:
    rc, out, err = _check(_config(tmp_path, factory, params), capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    if factory != "examples.strategies.nope:make":
        assert f"(building {factory} for BTCUSDT; fix [strategy.params]" in err


def test_the_plugin_is_built_for_every_traded_symbol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "only_btc.py"
    module.write_text(
        "from examples.strategies.touch import make as touch\n"
        "def make(ctx):\n"
        "    if ctx.symbol != 'BTCUSDT':\n"
        "        raise ValueError(f'[strategy.params] this plug-in trades BTCUSDT only, not {ctx.symbol}')\n"
        "    return touch(ctx)\n",
        encoding="utf-8",
    )
    path = _config(tmp_path, f"{module}:make")
    assert _check(path, capsys)[0] == 0  # [connector] symbols defaults to BTCUSDT
    path.write_text(path.read_text() + '[connector]\nsymbols = ["BTCUSDT", "ETHUSDT"]\n', encoding="utf-8")
    rc, _, err = _check(path, capsys)
    assert rc == 2 and "this plug-in trades BTCUSDT only, not ETHUSDT (building" in err and "for ETHUSDT;" in err
    path.write_text(path.read_text() + '[engine]\nsymbols = ["BTCUSDT"]\n', encoding="utf-8")
    assert _check(path, capsys)[0] == 0  # this process trades BTCUSDT only


def test_the_plugin_must_return_a_strategy_and_any_exception_is_one_line(tmp_path: Path) -> None:
    module = tmp_path / "plug.py"
    module.write_text(
        "def not_a_strategy(ctx):\n    return object()\n"
        "def crashes(ctx):\n    return {}['boom']\n",
        encoding="utf-8",
    )
    with pytest.raises(PluginError, match=r"returned a object for BTCUSDT, not a grinder.api.Strategy"):
        check_plugin(StrategySelection(f"{module}:not_a_strategy"))
    with pytest.raises(PluginError, match=r"\[strategy.params\] refused: KeyError: 'boom' \(building .* for ETHUSDT"):
        check_plugin(StrategySelection(f"{module}:crashes"), ["ETHUSDT"])
    check_plugin(StrategySelection(TOUCH, {"offset_ticks": 4}), ["BTCUSDT", "SOLUSDT"])  # no built-in SOL rules
    check_plugin(StrategySelection())  # the built-in grid: its own sections are checked by load_config


def test_the_real_cli_refuses_bad_params_without_a_traceback(tmp_path: Path) -> None:
    path = _config(tmp_path, AS, "kappa = true")
    env = {"PYTHONPATH": f"{REPO_DIR / 'src'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "grinder.cli", "config", "check", str(path)],
                          cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        "config error: [strategy.params] kappa = True is not a number; give e.g. kappa = 0.5 "
        f"(building {AS} for BTCUSDT; fix [strategy.params] to what the plug-in accepts)"
    )
