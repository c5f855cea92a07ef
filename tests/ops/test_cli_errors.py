"""Bad input and unreachable services end in one line naming the fix and exit code 2, never a traceback,
and are found before the long work (loading, replaying, trading) starts."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grinder.cli import main
from grinder.live.demo import DEFAULT_OUT
from grinder.ops.logging import RepeatSummary
from tests.live.procs import child_env, free_port

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
ETH_CAPTURE = SHARED / "data" / "binance_usdm_capture" / "ethusdt_20240808.gz"
REPO = Path(__file__).resolve().parents[2]


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def truncated_capture(tmp_path: Path) -> Path:
    """The first 200 kB of the real ETH capture: a download cut short."""
    if not ETH_CAPTURE.exists():
        pytest.skip("shared ETH capture not available")
    path = tmp_path / "ethusdt_20240808.gz"
    with ETH_CAPTURE.open("rb") as src:
        path.write_bytes(src.read(200_000))
    return path


def test_truncated_capture_in_backtest(truncated_capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(["backtest", "--quiet", "--data", str(truncated_capture)], capsys, "truncated", "gzip -t")


def test_corrupt_capture_in_backtest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "btcusdt_20240808.gz"
    bad.write_bytes(b"this is not gzip at all")
    _one_line_exit_2(["backtest", "--quiet", "--data", str(bad)], capsys, str(bad), "not a valid gzip")


def test_truncated_capture_in_sim(truncated_capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(["sim", "--port", "0", "--symbols", "ETHUSDT", "--data", str(truncated_capture)], capsys,
                     "truncated")


def test_record_with_the_exchange_unreachable(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    proc = subprocess.run(
        [sys.executable, "-m", "grinder.cli", "record", "--symbols", "BTCUSDT", "--out", str(tmp_path / "rec"),
         "--rest-url", f"http://{dead}", "--ws-url", f"ws://{dead}", "--duration", "1"],
        capture_output=True, text=True, timeout=60, env=child_env(),
    )
    err = proc.stderr.strip()
    assert proc.returncode == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "cannot record from" in err and "--rest-url" in err


@pytest.mark.parametrize("command", [["config", "check"], ["backtest", "--quiet", "--data", "x", "--config"]])
def test_binary_config_file(command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "grinder.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    _one_line_exit_2([*command, str(binary)], capsys, "not UTF-8 text", "examples/grinder.toml")


def test_report_into_a_missing_folder_is_refused_before_loading(
    truncated_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data is broken too: the report folder must be found first (before any loading).
    _one_line_exit_2(["backtest", "--quiet", "--data", str(truncated_capture), "--report",
                      str(tmp_path / "missing" / "r.html")], capsys, "--report", "does not exist", "mkdir -p")


def test_unwritable_demo_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    _one_line_exit_2(["demo", "--out", str(a_file / "demo"), "--ops-port", "0"], capsys, "--out",
                     "pick a writable folder")


@pytest.mark.skipif(not ETH_CAPTURE.exists(), reason="shared ETH capture not available")
def test_sim_symbols_without_data_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(["sim", "--port", "0", "--symbols", "BTCUSDT", "--data", str(ETH_CAPTURE)], capsys,
                     "holds ETHUSDT", "--symbols ETHUSDT")


@pytest.mark.skipif(not ETH_CAPTURE.exists(), reason="shared ETH capture not available")
def test_backtest_symbol_that_a_capture_would_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(["backtest", "--quiet", "--data", str(ETH_CAPTURE), "--symbol", "BTCUSDT"], capsys,
                     "does not apply to capture", "drop --symbol")


def test_data_dir_with_csv_and_parquet_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for suffix in (".csv", ".parquet"):
        (tmp_path / f"BTCUSDT-trades-2024-01-01{suffix}").write_bytes(b"")
    _one_line_exit_2(["backtest", "--quiet", "--data", str(tmp_path)], capsys, "copies of the same data")


def test_repeated_warnings_are_summarised_not_repeated() -> None:
    summary = RepeatSummary(limit=3)
    logger = logging.getLogger("grinder.test.repeat")

    def record(op: str, n: int) -> logging.LogRecord:
        return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "write_failed op=%s n=%s",
                                 (op, n), None)

    shown = [summary.filter(record("replace_order", i)) for i in range(10)]
    assert shown == [True] * 3 + [False] * 7
    assert summary.filter(record("place_order", 0))  # another kind still shows
    assert summary.summary() == ["10x write_failed op=replace_order (7 not shown)"]


def test_demo_output_folder_is_git_ignored() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    probe = subprocess.run(["git", "check-ignore", "-q", f"{DEFAULT_OUT}/report.html"], cwd=REPO, check=False)
    assert probe.returncode == 0, f"{DEFAULT_OUT}/ is not in .gitignore"
