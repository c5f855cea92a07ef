"""Paths to the shared real captures (`<repo>/../shared`, or $GRINDER_SHARED)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.paths import CAPTURE_DIR


@pytest.fixture(scope="session")
def capture_dir() -> Path:
    d = CAPTURE_DIR
    if not (d / "btcusdt_20240808.gz").exists():
        pytest.fail(f"real captures not found in {d}: put shared/ beside the repo or set GRINDER_SHARED")
    return d
