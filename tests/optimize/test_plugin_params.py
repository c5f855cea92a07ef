"""`grinder optimize` searches a plug-in strategy's own `[strategy.params]`: a space entry
`strategy.params.<key>` reaches the factory of each trial (over the base config's params), and a
name or bound the plug-in refuses stops the run in one line before the study starts."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tests.fixtures.paths import REPO_DIR
from tests.optimize.conftest import Inputs

from grinder.api import StrategySelection
from grinder.cli import main
from grinder.config import load_config
from grinder.optimize.space import (
    SpaceError,
    check_against_config,
    overrides,
    parse_space,
    plugin_values,
    trial_selection,
)

AS = "examples.strategies.avellaneda:make"
SPACE = """\
[study]
name = "as"
objectives = ["net_pnl", "max_drawdown"]
seed = 3

[params.strategy.params]
risk_aversion = { low = 0.01, high = 1.0, log = true }
min_half_spread_bps = { low = 0.2, high = 4.0 }
kappa = { low = 0.5, high = 5.0, log = true }
"""


def _space(**params: dict[str, object]) -> dict[str, object]:
    return {"params": {"strategy": {"params": params}}}


def test_plugin_params_are_named_strategy_params_key_and_go_to_the_factory_not_the_environment(
    tmp_path: Path,
) -> None:
    s = parse_space({"params": {"grid.levels": {"low": 1, "high": 3}, **_space(kappa={"low": 0.1, "high": 2.0})["params"]}})
    assert [(p.name, p.plugin_key) for p in s.params] == [("grid.levels", None), ("strategy.params.kappa", "kappa")]
    sampled = {"grid.levels": 2, "strategy.params.kappa": 0.7}
    assert overrides(sampled) == {"GRINDER_GRID_LEVELS": "2"}
    assert plugin_values(sampled) == {"kappa": 0.7}
    base = tmp_path / "base.toml"
    base.write_text(f'[strategy]\nfactory = "{AS}"\n[strategy.params]\nkappa = 0.3\nhorizon_s = 10\n')
    cfg = load_config(base, env={})
    assert trial_selection(cfg, sampled) == StrategySelection(AS, {"kappa": 0.7, "horizon_s": 10})
    assert trial_selection(cfg, {"grid.levels": 2}) is None  # no plug-in param: the config's own choice
    with pytest.raises(SpaceError, match=r"name a config key as <section>.<key> .* or a plug-in strategy's "
                                         r"param as strategy.params.<key>"):
        parse_space({"params": {"strategy.params.a.b": {"low": 1, "high": 2}}})


@pytest.mark.parametrize(
    ("params", "env", "message"),
    [
        ({"gama": {"low": 0.1, "high": 1.0}}, {"GRINDER_STRATEGY_FACTORY": AS},
         f"[params] strategy.params.gama = 0.1 is refused by {AS}: [strategy.params] unknown key 'gama'; "
         "accepted: risk_aversion, kappa,"),
        ({"kappa": {"low": 0, "high": 1.0}}, {"GRINDER_STRATEGY_FACTORY": AS},
         "[params] strategy.params.kappa = 0 is refused by examples.strategies.avellaneda:make: "
         "[strategy.params] kappa = 0.0 is out of range; it must be > 0; search only params the plug-in accepts"),
        ({"max_position_orders": {"low": 1.0, "high": 4.0}}, {"GRINDER_STRATEGY_FACTORY": AS},
         "strategy.params.max_position_orders = 2.5 is refused by examples.strategies.avellaneda:make: "
         "[strategy.params] max_position_orders = 2.5 is not an integer"),
        ({"kappa": {"low": 0.1, "high": 1.0}}, {},
         "[params] strategy.params.kappa: no plug-in strategy is selected; set [strategy] factory in --config "
         "or pass --strategy module:callable"),
    ],
)
def test_a_plugin_param_the_plugin_refuses_is_named_before_any_trial(
    params: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SpaceError) as err:
        check_against_config(parse_space(_space(**params)), None, env)
    assert message in str(err.value)


def test_optimize_refuses_a_bad_plugin_space_in_one_line_before_the_study(
    inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.toml"
    space.write_text(SPACE.replace("risk_aversion", "gamma"), encoding="utf-8")
    db = tmp_path / "x.db"
    argv = ["optimize", "--quiet", "--strategy", AS, "--space", str(space), "--data", str(inputs.data),
            "--storage", f"sqlite:///{db}", "--trials", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: [params] strategy.params.gamma = 0.01 is refused by {AS}: "
                                               "[strategy.params] unknown key 'gamma'"), err
    assert not db.exists()
    assert main([*argv[:3], "examples.strategies.nope:make", *argv[4:]]) == 2
    assert "error: --strategy 'examples.strategies.nope:make': module examples.strategies.nope not found" in (
        capsys.readouterr().err
    )


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_study_tunes_the_avellaneda_example_and_its_chosen_params_rerun_as_a_plain_backtest(
    inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.toml"
    space.write_text(SPACE, encoding="utf-8")
    storage = f"sqlite:///{tmp_path / 'as.db'}"
    argv = ["optimize", "--quiet", "--strategy", AS, "--space", str(space), "--data", str(inputs.data),
            "--storage", storage, "--trials", "5", "--workers", "1"]
    assert main(argv) == 0
    assert "study as: 5 complete trial(s), 5 run by this process" in capsys.readouterr().out
    trials = optuna.load_study(study_name="as", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    names = {"strategy.params.risk_aversion", "strategy.params.min_half_spread_bps", "strategy.params.kappa"}
    assert all(set(t.params) == names for t in trials)
    # different params, different trading: the sampled values reached the strategy
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 5
    fills = [t.user_attrs["figures"]["fills"] for t in trials]
    assert len({tuple(t.values) for t in trials}) >= 3 and len(set(fills)) >= 3 and max(fills) > 0

    # the busiest trial's params, written into [strategy.params] of a config, backtest to the same
    # figures: the study ran the plug-in with exactly those params
    busiest = max(trials, key=lambda t: t.user_attrs["figures"]["fills"])
    params = "\n".join(f"{k.removeprefix('strategy.params.')} = {v!r}" for k, v in busiest.params.items())
    config = tmp_path / "chosen.toml"
    config.write_text(inputs.config.read_text() + f'\n[strategy]\nfactory = "{AS}"\n[strategy.params]\n{params}\n')
    report = tmp_path / "bt.json"
    assert main(["backtest", "--config", str(config), "--data", str(inputs.data), "--json", str(report),
                 "--quiet"]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert summary["strategy"] == AS and summary["fills"] == busiest.user_attrs["figures"]["fills"]
    assert float(summary["net_pnl_usdt"]) == pytest.approx(busiest.values[0], abs=1e-9)
    assert float(summary["max_drawdown_usdt"]) == pytest.approx(busiest.values[1], abs=1e-9)


def test_the_documented_example_space_passes_the_check_with_the_example_strategy() -> None:
    from grinder.optimize.space import load_space

    s = load_space(REPO_DIR / "examples" / "strategies" / "avellaneda_space.toml")
    assert {p.plugin_key for p in s.params} == {"risk_aversion", "kappa", "min_half_spread_bps", "max_position_orders"}
    check_against_config(s, None, {"GRINDER_STRATEGY_FACTORY": AS})
