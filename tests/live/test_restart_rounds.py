"""CI's share of bench/restart_rounds.py: 10 seeded kill -9 / restart rounds against `grinder sim`.

Journal fills equal the exchange's by (symbol, trade id), the engine's position equals the
exchange's at a quiet point, no client order id repeats, and a restart while flat reports 0.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures.paths import REPO_DIR

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_ten_kill_9_restart_rounds_keep_journal_positions_and_ids_exact() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_DIR / "bench" / "restart_rounds.py"), "--rounds", "10", "--seed", "3",
         "--max-delay-s", "0.5"],
        capture_output=True, text=True, timeout=280, cwd=REPO_DIR,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["exchange_fills"] > 5, result  # the rounds traded
    assert result["missing_fills"] == 0 and result["extra_fills"] == 0, result
    assert result["journal_fills"] == result["exchange_fills"] and result["duplicate_journal_fills"] == 0
    assert result["position_mismatch"] == {}, result
    assert result["duplicate_client_ids"] == 0, result
    assert result["cancel_all_clean"] is True and result["final_exit_code"] == 0, result
    assert set(result["flat_exchange_position"].values()) == {"0.000"}, result
    assert result["flat_restart_engine_position"] == result["flat_exchange_position"], result
