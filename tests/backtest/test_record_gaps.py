"""`grinder record` keeps the live depth sync running and reports its breaks (gaps) per symbol."""

from __future__ import annotations

from pathlib import Path

import pytest

from grinder.backtest.record import Recorder
from grinder.binance.config import BinanceConfig


@pytest.mark.integration
async def test_recorder_counts_book_resyncs(sim_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = BinanceConfig(rest_url=sim_server.rest_url, ws_url=sim_server.ws_url, depth_speed="100ms")
    rec = Recorder(["BTCUSDT"], tmp_path, config=cfg)
    await rec.run(duration_s=1.5)
    assert rec.streams is not None
    book = rec.streams.books["BTCUSDT"]
    assert book.is_synced  # the recorder ran the live LocalOrderBook sync on what it recorded
    assert rec.book_resyncs() == {"BTCUSDT": book.resyncs} == {"BTCUSDT": 0}
