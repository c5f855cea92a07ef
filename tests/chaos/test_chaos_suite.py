"""CI run of the chaos suite: `bench/chaos.py` with a small number of short seeded schedules.

Two HA engines, a real redis-server and `grinder sim`, all as processes on loopback; every
invariant count in the suite's last JSON line must be 0 and the fault mix must have been applied.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"
SCHEDULES = int(os.environ.get("GRINDER_CHAOS_SCHEDULES", "20"))


def test_chaos_schedules_keep_every_invariant(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--schedules", str(SCHEDULES), "--steps", "1", "--step-s", "0.5",
         "--seed", "1", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=380, check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {proc.stderr[-2000:]}"
    counts = json.loads(lines[-1])
    for name in ("missing_fills", "phantom_fills", "position_mismatches", "duplicate_client_ids",
                 "orphan_orders", "nonleader_writes", "token_regressions"):
        assert counts[name] == 0, f"{name}={counts[name]}; {proc.stderr[-3000:]} (logs: {tmp_path})"
    assert proc.returncode == 0
    assert counts["schedules"] == SCHEDULES and counts["exchange_fills"] > 0
    assert len(counts["faults"]) >= 5, counts["faults"]  # a real mix, not one fault repeated
