"""`grinder record` against the in-process simulator on loopback, then replay of what it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from grinder.backtest.record import Recorder
from grinder.binance.config import BinanceConfig
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate
from grinder.data import iter_events, load_tape
from grinder.data.recording import is_recording


@pytest.mark.integration
async def test_record_simulator_streams_and_replay(sim_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url, depth_speed="100ms")
    rec = Recorder(["BTCUSDT", "ETHUSDT"], tmp_path, config=cfg, rotate_rows=200)
    files = await rec.run(duration_s=2.0)
    assert files and all(is_recording(f) for f in files)
    assert rec.streams is not None and rec.streams.frames > 0
    assert rec.writer.rows_written == rec.streams.frames + 2  # + one depth snapshot per symbol
    events = list(iter_events([tmp_path]))
    assert {type(e) for e in events} >= {BookTicker, DepthUpdate, DepthSnapshot}
    assert {e.symbol for e in events} == {"BTCUSDT", "ETHUSDT"}
    tape = load_tape([tmp_path])
    assert tape.symbols == ("BTCUSDT", "ETHUSDT") and len(tape) == len(events)


@pytest.mark.integration
async def test_record_cli_subprocess_against_the_simulator(sim_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "grinder.cli",
        "record",
        "--symbols",
        "BTCUSDT",
        "--out",
        str(tmp_path),
        "--rest-url",
        sim_server.rest_url,
        "--ws-url",
        sim_server.ws_url,
        "--duration",
        "1.5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "recorded" in out.decode() and "file(s)" in out.decode()
    tape = load_tape([tmp_path])
    assert tape.symbols == ("BTCUSDT",) and tape.counts()["quotes"] > 0
