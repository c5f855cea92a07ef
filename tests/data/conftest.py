"""Paths to the shared real captures (`<repo>/../shared`, or $GRINDER_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("GRINDER_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def capture_dir() -> Path:
    d = shared_dir() / "data" / "binance_usdm_capture"
    if not (d / "btcusdt_20240808.gz").exists():
        pytest.fail(f"real captures not found in {d}: put shared/ beside the repo or set GRINDER_SHARED")
    return d
