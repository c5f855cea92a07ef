"""What `grinder optimize` accepts: the space file, walk-forward specs, storage URLs, and one clear
error line (exit 2, nothing started) for everything it refuses."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from tests.optimize.conftest import SPACE, Inputs

from grinder.cli import main
from grinder.optimize.space import Space, SpaceError, check_against_config, overrides, parse_space
from grinder.optimize.study import redact, storage_url
from grinder.optimize.windows import DAY_MS, WindowError, parse_walk_forward, rolling_windows

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def space(**tables: Any) -> Space:
    doc: dict[str, Any] = {"params": {"grid": {"spacing_bps": {"low": 2.0, "high": 30.0}}}}
    doc.update(tables)
    return parse_space(doc)


def test_space_parses_nested_and_dotted_params_with_their_types() -> None:
    s = parse_space(
        {
            "study": {"sampler": "nsga2", "objectives": ["net_pnl", "max_drawdown", "sharpe"], "seed": 4},
            "constraints": {"max_position_qty": 0.05, "min_fills": 3},
            "params": {
                "grid": {
                    "levels": {"low": 1, "high": 6},
                    "spacing_bps": {"low": 1.0, "high": 50.0, "log": True},
                },
                "grid.spacing_mode": {"choices": ["fixed", "adaptive"]},
            },
        }
    )
    by_name = {p.name: p for p in s.params}
    assert by_name["grid.levels"].is_int and not by_name["grid.spacing_bps"].is_int
    assert by_name["grid.spacing_mode"].choices == ("fixed", "adaptive")
    assert s.directions == ["maximize", "minimize", "maximize"]
    figures = {
        "net_pnl_usdt": 3.0,
        "max_drawdown_usdt": 1.5,
        "sharpe_annualized": None,
        "max_abs_position_qty": 0.07,
        "fills": 5,
    }
    assert s.objective_values(figures) == [3.0, 1.5, 0.0]
    assert s.violations(figures) == pytest.approx({"max_position_qty": 0.02, "min_fills": -2.0})
    assert overrides({"grid.levels": 3, "grid.spacing_bps": 12.5, "grid.post_only": True}) == {
        "GRINDER_GRID_LEVELS": "3",
        "GRINDER_GRID_SPACING_BPS": "12.5",
        "GRINDER_GRID_POST_ONLY": "true",
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"params": {}}, "[params] is empty"),
        ({"params": {"spacing_bps": {"low": 1, "high": 2}}}, "name a config key as <section>.<key>"),
        ({"params": {"grid": {"levels": {"low": 5, "high": 2}}}}, "low 5 must be below high 2"),
        ({"params": {"grid": {"levels": {"low": 0, "high": 2, "log": True}}}}, "a log range needs low > 0"),
        ({"params": {"grid": {"levels": {"low": 1, "high": 2, "stepp": 1}}}}, "unknown field 'stepp'"),
        ({"params": {"grid": {"levels": {"choices": []}}}}, "choices must be a non-empty list"),
        ({"params": {"grid": {"levels": 3}}}, "give a table such as"),
        (
            {"study": {"objectives": ["profit"]}, "params": {"grid.levels": {"low": 1, "high": 2}}},
            "objective 'profit'",
        ),
        (
            {"study": {"sampler": "cmaes"}, "params": {"grid.levels": {"low": 1, "high": 2}}},
            "sampler 'cmaes'",
        ),
        (
            {"constraints": {"max_leverage": 3}, "params": {"grid.levels": {"low": 1, "high": 2}}},
            "'max_leverage' is unknown",
        ),
        ({"optuna": {}, "params": {}}, "unknown table [optuna]"),
    ],
)
def test_bad_space_entries_are_named(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SpaceError) as err:
        parse_space(doc)
    assert message in str(err.value)


def test_space_bounds_are_checked_against_the_config_before_any_trial() -> None:
    check_against_config(space(), None, {})
    bad_key = parse_space({"params": {"grid": {"spacing": {"low": 1.0, "high": 2.0}}}})
    with pytest.raises(
        SpaceError, match=r"grid.spacing = 1.0 is refused by the config: .*has no key 'spacing'"
    ):
        check_against_config(bad_key, None, {})
    bad_value = parse_space({"params": {"grid": {"spacing_mode": {"choices": ["fixed", "wide"]}}}})
    with pytest.raises(SpaceError, match=r"grid\.spacing_mode = 'wide' is refused"):
        check_against_config(bad_value, None, {})


def test_walk_forward_windows_roll_by_the_test_span_over_utc_days() -> None:
    assert parse_walk_forward("3/1") == (3 * DAY_MS, DAY_MS)
    assert parse_walk_forward("12h/4h") == (12 * 3_600_000, 4 * 3_600_000)
    # five days of data, starting mid-morning and ending just before midnight of day 5
    ws = rolling_windows(T0 + 9 * 3_600_000, T0 + 5 * DAY_MS - 1, 3 * DAY_MS, DAY_MS)
    assert [(w.train, w.test) for w in ws] == [
        ((T0, T0 + 3 * DAY_MS), (T0 + 3 * DAY_MS, T0 + 4 * DAY_MS)),
        ((T0 + DAY_MS, T0 + 4 * DAY_MS), (T0 + 4 * DAY_MS, T0 + 5 * DAY_MS)),
    ]
    tests = [w.test for w in ws]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(tests))  # back to back, no overlap
    with pytest.raises(WindowError, match="too short for one train"):
        rolling_windows(T0, T0 + 2 * DAY_MS - 1, 2 * DAY_MS, DAY_MS)
    for bad in ("3", "0/1", "3/1x", "a/b"):
        with pytest.raises(WindowError, match="write TRAIN/TEST"):
            parse_walk_forward(bad)


def test_storage_urls_use_psycopg_and_passwords_never_show() -> None:
    assert storage_url("postgresql://u:pw@db:5432/x") == "postgresql+psycopg://u:pw@db:5432/x"
    assert storage_url("sqlite:///a.db") == "sqlite:///a.db"
    assert redact("postgresql+psycopg://u:s3cret@db/x") == "postgresql+psycopg://u:***@db/x"
    assert redact("postgresql://u@db/x") == "postgresql://u@db/x"


def _argv(inputs: Inputs, tmp_path: Path, **change: str) -> list[str]:
    opts = {
        "--config": str(inputs.config),
        "--space": str(inputs.space),
        "--data": str(inputs.data),
        "--storage": f"sqlite:///{tmp_path / 'x.db'}",
        "--trials": "3",
    }
    opts.update(change)
    argv = ["optimize", "--quiet"]
    for k, v in opts.items():
        argv += [k, v]
    return argv


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--data": "/nonexistent/data"}, "does not exist"),
        ({"--trials": "0"}, "--trials 0: give at least 1"),
        ({"--walk-forward": "3d"}, "write TRAIN/TEST"),
        ({"--scheduler": "127.0.0.1:8786"}, "give the scheduler address as tcp://host:port"),
        ({"--config": "/nonexistent/base.toml"}, "config file /nonexistent/base.toml does not exist"),
        ({"--space": "SPACE_BAD"}, "objective 'pnl' is unknown"),
        ({"--storage": "nosuchdb://x"}, "cannot open study storage nosuchdb://x"),
        (
            {"--storage": "postgresql://u:hunter2@127.0.0.1:1/x"},
            "cannot open study storage postgresql+psycopg://u:***@",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_starts(
    inputs: Inputs, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], message: str
) -> None:
    if change.get("--space") == "SPACE_BAD":
        bad = tmp_path / "space.toml"
        bad.write_text(SPACE.replace('"net_pnl", "max_drawdown"', '"pnl"'), encoding="utf-8")
        change = {"--space": str(bad)}
    assert main(_argv(inputs, tmp_path, **change)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert "hunter2" not in captured.err + captured.out
    assert not (tmp_path / "x.db").exists() or change.get("--storage")
