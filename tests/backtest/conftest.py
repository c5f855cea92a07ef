"""Shared inputs: synthetic reference data (shared/bench/gen_data.py) and the real captures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grinder.backtest.reference import reference_configs
from grinder.data import Tape, load_tape
from tests.fixtures.paths import SHARED_DIR


def shared_dir() -> Path:
    return SHARED_DIR


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gen = shared_dir() / "bench" / "gen_data.py"
    if not gen.exists():
        pytest.fail(f"{gen} not found: put shared/ beside the repo or set GRINDER_SHARED")
    out = tmp_path_factory.mktemp("synth")
    subprocess.run(
        [sys.executable, str(gen), "-n", "120000", "--out", str(out)], check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="session")
def synth_tape(synth_dir: Path) -> Tape:
    return load_tape(sorted(synth_dir.glob("*.parquet")))


@pytest.fixture(scope="session")
def capture_dir() -> Path:
    d = shared_dir() / "data" / "binance_usdm_capture"
    if not (d / "btcusdt_20240808.gz").exists():
        pytest.fail(f"real captures not found in {d}: put shared/ beside the repo or set GRINDER_SHARED")
    return d


@pytest.fixture(scope="session")
def capture_tape(capture_dir: Path) -> Tape:
    return load_tape([capture_dir])


def reference_run_configs(**venue: Any) -> dict[str, Any]:
    """REFERENCE_GRID.md as GRINDER configuration (as in bench/backtest.py)."""
    return reference_configs(**venue)
