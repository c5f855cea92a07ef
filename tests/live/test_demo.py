"""`grinder demo` as a newcomer runs it: one command, no keys, no network, exit 0, a report that renders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live.png import non_white_pixels
from tests.live.procs import child_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-m", "grinder.cli", "demo", "--duration", "5", "--speed", "20", "--out", str(out),
         "--ops-port", "0"],
        capture_output=True, text=True, timeout=90, env=child_env(), cwd=out,
    )
    return proc, out


def test_demo_exits_zero_with_fills_and_a_matching_journal(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, out = demo_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Not a terminal: plain periodic status lines, no terminal control codes.
    status_lines = [line for line in proc.stdout.splitlines() if line.startswith("status ")]
    assert len(status_lines) >= 3
    assert "\x1b[" not in proc.stdout
    assert "GRINDER demo summary" in proc.stdout
    assert "journal vs simulator trades: MATCH" in proc.stdout
    fills = {line.split(":")[0].strip(): line for line in proc.stdout.splitlines() if "fills=" in line and ":" in line}
    for sym in ("BTCUSDT", "ETHUSDT"):
        line = fills[sym]
        count = int(line.split("fills=")[1].split()[0])
        assert count > 0, f"{sym} got no fills in the demo: {line}"
    assert "Traceback" not in proc.stderr
    report = out / "report.html"
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html and "BTCUSDT" in html and "ETHUSDT" in html
    assert "grinder-sim-secret" not in html


def test_demo_refuses_bad_arguments_with_a_fix() -> None:
    proc = subprocess.run([sys.executable, "-m", "grinder.cli", "demo", "--duration", "0"], capture_output=True,
                          text=True, timeout=30, env=child_env())
    assert proc.returncode == 2
    assert "--duration and --speed must be > 0" in proc.stderr


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_demo_report_renders_in_headless_chromium(
    demo_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium) - report rendering not checked")
    _, out = demo_run
    shot = tmp_path / "report.png"
    cmd = [browser, "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,900",
           (out / "report.html").resolve().as_uri()]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    dark, total = non_white_pixels(shot.read_bytes())
    # A blank page is all white; a rendered report has text, tables and chart lines.
    assert dark > total * 0.01, f"report screenshot looks blank ({dark} of {total} pixels non-white)"
