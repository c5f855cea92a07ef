"""`grinder demo` as a newcomer runs it: one command, no keys, no network, exit 0, a report that renders."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.live.png import colored_row_bands
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
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,3000",
           (out / "report.html").resolve().as_uri()]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    # Text and tables are grey; chart lines, fill markers and shaded areas are coloured. A page whose
    # SVG charts failed to render (or were left out) has no coloured band; this one has six charts
    # (price+fills, position, PnL+drawdown for each of two symbols) in the first 3000 px.
    bands = [b for b in colored_row_bands(shot.read_bytes()) if b[2] >= 100]
    assert len(bands) >= 6, f"expected 6 rendered charts, found coloured bands {bands}"


class _ReportParser(HTMLParser):
    """Collects the per-symbol table rows and, per <svg>, its polyline points and marker paths."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.svgs: list[dict[str, list[str]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "svg":
            self.svgs.append({"polyline": [], "path": []})
        elif tag in ("polyline", "path") and self.svgs:
            self.svgs[-1][tag].append(a.get("points") or a.get("d") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_demo_report_shows_this_run(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """The report's numbers and charts are the run's: fills per symbol as printed, one marker per fill."""
    proc, out = demo_run
    printed = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^\s+([A-Z]+USDT): fills=(\d+) ", line)
        if m:
            printed[m.group(1)] = int(m.group(2))
    assert set(printed) == {"BTCUSDT", "ETHUSDT"}, proc.stdout
    parser = _ReportParser()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    header = next(r for r in parser.rows if r[:2] == ["symbol", "fills"])
    table = {r[0]: int(r[1]) for r in parser.rows if len(r) == len(header) and r[0] in printed}
    assert table == printed
    assert len(parser.svgs) == 6  # price+fills, position, PnL for each symbol
    price_charts = parser.svgs[0::3]
    for sym, svg in zip(("BTCUSDT", "ETHUSDT"), price_charts, strict=True):
        markers = [d for d in svg["path"] if d.endswith(" z")]  # ▲ / ▼ fill markers
        assert len(markers) == printed[sym], f"{sym}: {len(markers)} fill markers for {printed[sym]} fills"
        points = [p for line in svg["polyline"] for p in line.split()]
        assert len(points) >= 20, f"{sym}: the mid-price line has {len(points)} points"
        assert all(math.isfinite(float(v)) for p in points for v in p.split(",")), f"{sym}: non-finite point"



def test_demo_sends_its_orders_over_the_ws_api(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grinder.cli", "demo", "--duration", "3", "--speed", "20", "--out", str(tmp_path),
         "--ops-port", "0", "--log-level", "INFO"],
        capture_output=True, text=True, timeout=90, env=child_env(), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "order transport=ws ws_api_url=ws://127.0.0.1:" in proc.stderr  # ADR-230: the default transport
    assert "grinder-sim-secret" not in proc.stderr and "grinder-sim-key" not in proc.stderr
