"""`grinder backtest` as a user runs it: a subprocess, real files, the digest on the last line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backtest.conftest import shared_dir

REFERENCE_TOML = """
[grid]
levels = 5
spacing_bps = "10"
min_spacing_ticks = 0
order_qty = "0.01"
max_position = "0.1"

[controller]
enabled = false

[toxicity]
enabled = false

[risk]
max_notional_per_order = "100000"
max_position_notional = "1000000"
max_total_position_notional = "1000000"
daily_loss_limit = "1000000"

[venue]
fill_model = "touch"
maker_fee = "0"
taker_fee = "0"
initial_balance = "1000000"
"""


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    gen = shared_dir() / "bench" / "gen_data.py"
    subprocess.run(
        [sys.executable, str(gen), "-n", "60000", "--out", str(out)], check=True, capture_output=True
    )
    for p in out.glob("*.parquet"):
        p.unlink()  # exercise the CSV path here
    return out


def grinder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grinder.cli", "backtest", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
def test_backtest_cli_reports_and_is_deterministic(small_data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "ref.toml"
    cfg.write_text(REFERENCE_TOML)
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    a = grinder(
        "--data", str(small_data), "--config", str(cfg), "--json", str(out_json), "--report", str(out_html)
    )
    assert a.returncode == 0, a.stderr
    last = a.stdout.strip().splitlines()[-1]
    assert last.startswith("digest: ") and len(last.split()[1]) == 64
    doc = json.loads(out_json.read_text())
    assert doc["digest"] == last.split()[1]
    assert doc["summary"]["fills"] > 0 and doc["summary"]["events"] == 60_000
    assert doc["config"]["venue"]["fill_model"] == "touch"
    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    b = grinder("--data", str(small_data), "--config", str(cfg), "--no-skip", "--quiet")
    assert b.returncode == 0, b.stderr
    assert b.stdout.strip().splitlines()[-1] == last  # per-event path: same digest


@pytest.mark.integration
def test_backtest_cli_explains_bad_input(tmp_path: Path) -> None:
    r = grinder("--data", str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    bad = tmp_path / "x.toml"
    bad.write_text("[venue]\nfill_model = 'magic'\n")
    r = grinder("--data", str(tmp_path), "--config", str(bad))
    assert r.returncode == 2 and "fill_model" in r.stderr


def test_repeated_data_options_add_up() -> None:
    import argparse

    from grinder.backtest.cli import configure

    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["--data", "a.gz", "--data", "b.gz", "c.gz"])
    assert args.data == ["a.gz", "b.gz", "c.gz"]


def test_per_symbol_grid_tables_reach_the_backtest(tmp_path: Path) -> None:
    """`[grid.ETHUSDT]` changes ETHUSDT's grid only: BTCUSDT's commands are those of the plain config."""
    from grinder.backtest.cli import run_backtest
    from grinder.config import load_config
    from tests.fixtures.paths import capture_path

    data = [str(capture_path("btcusdt_20240808.gz")), str(capture_path("ethusdt_20240808.gz"))]
    base = '[grid]\nlevels = 2\nmax_position = "0.5"\n[controller]\nenabled = false\n[toxicity]\nenabled = false\n'
    plain = tmp_path / "plain.toml"
    plain.write_text(base)
    per = tmp_path / "per.toml"
    per.write_text(base + '[grid.ETHUSDT]\nlevels = 1\n')
    plain_run = run_backtest(data, load_config(plain, env={}), skip=True)
    per_run = run_backtest(data, load_config(per, env={}), skip=True)
    assert per_run.symbols["BTCUSDT"] == plain_run.symbols["BTCUSDT"]
    # BTCUSDT's figures are equal, so a different order count comes from ETHUSDT's own grid
    assert per_run.summary["orders_placed"] != plain_run.summary["orders_placed"]
    assert per_run.digest != plain_run.digest
