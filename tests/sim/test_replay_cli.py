"""Replay of a real Binance capture through the simulator, and the `grinder sim` command itself."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grinder.sim.config import SimConfig
from tests.fixtures.paths import CAPTURE_DIR
from tests.fixtures.simulator import SimFactory

pytestmark = pytest.mark.integration
CAPTURE = CAPTURE_DIR / "btcusdt_20240808.gz"


@pytest.fixture
def short_capture(tmp_path: Path) -> Path:
    """The first 4000 lines of the real BTCUSDT capture (its REST snapshot is line 55)."""
    if not CAPTURE.exists():
        pytest.skip(f"{CAPTURE} is not present")
    out = tmp_path / "btcusdt_capture.gz"
    with gzip.open(CAPTURE, "rt") as src, gzip.open(out, "wt") as dst:
        for i, line in enumerate(src):
            if i >= 4000:
                break
            dst.write(line)
    return out


def expected_book(path: Path) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal], int]:
    """Independent reading of the capture: snapshot + every later diff, by the §5.3 rule."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    last_id = 0
    pending: list[dict[str, Any]] = []
    with gzip.open(path, "rt") as f:
        for line in f:
            doc = json.loads(line.split(" ", 1)[1])
            if "lastUpdateId" in doc:
                bids = {Decimal(p): Decimal(q) for p, q in doc["bids"]}
                asks = {Decimal(p): Decimal(q) for p, q in doc["asks"]}
                last_id = doc["lastUpdateId"]
                pending = [d for d in pending if d["u"] >= last_id]
            elif doc.get("stream", "").endswith("@depth@0ms"):
                pending.append(doc["data"])
            if last_id:
                for d in pending:
                    for side, levels in ((bids, d["b"]), (asks, d["a"])):
                        for p, q in levels:
                            if Decimal(q) == 0:
                                side.pop(Decimal(p), None)
                            else:
                                side[Decimal(p)] = Decimal(q)
                    last_id = d["u"]
                pending = []
    return bids, asks, last_id


def depth_snapshot_id(path: Path) -> int:
    with gzip.open(path, "rt") as f:
        for line in f:
            doc = json.loads(line.split(" ", 1)[1])
            if "lastUpdateId" in doc:
                return int(doc["lastUpdateId"])
    raise AssertionError("no snapshot in the capture")


async def test_replayed_capture_reproduces_the_real_book(
    sim_factory: SimFactory, short_capture: Path
) -> None:
    server = await sim_factory(
        SimConfig(port=0, symbols=("BTCUSDT",), data_path=str(short_capture), manual_market=True)
    )
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{server.ws_url}/public/stream?streams=btcusdt@depth@0ms/btcusdt@trade") as ws,
    ):
        while server.step_market(200):
            await asyncio.sleep(0)
        assert server.driver.finished
        diffs: list[dict[str, Any]] = []
        trades: list[dict[str, Any]] = []
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), 0.5)
            except TimeoutError:
                break
            doc = json.loads(msg.data)
            (diffs if doc["stream"].endswith("depth@0ms") else trades).append(doc["data"])
        async with http.get(
            f"{server.rest_url}/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": "1000"}
        ) as r:
            depth = await r.json()
    bids, asks, last_id = expected_book(short_capture)
    book, rules = server.market.books["BTCUSDT"], server.rules["BTCUSDT"]
    assert book.last_update_id == last_id == depth["lastUpdateId"]
    assert {rules.ticks_to_price(p): rules.lots_to_qty(q) for p, q in book.bids.items()} == bids
    assert {rules.ticks_to_price(p): rules.lots_to_qty(q) for p, q in book.asks.items()} == asks
    # From the snapshot on, the replayed diffs keep Binance's own ids and chain on pu. (Before it,
    # the capture's bookTicker rows set the touch and appear as one-level diffs; the first diff
    # after the snapshot then starts a new chain at the snapshot's lastUpdateId.)
    start = next(i for i, d in enumerate(diffs) if d["U"] <= depth_snapshot_id(short_capture) <= d["u"])
    diffs = diffs[start:]
    assert len(diffs) > 100
    broken = [(a["u"], b["U"], b["u"], b["pu"]) for a, b in itertools.pairwise(diffs) if b["pu"] != a["u"]]
    assert not broken
    assert diffs[-1]["u"] == last_id
    # Trades keep their real trade ids.
    assert trades
    assert all(b["t"] > a["t"] for a, b in itertools.pairwise(trades))


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_signalled(stop_signal: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "grinder.cli", "sim", "--port", "0", "--symbols", "BTCUSDT,SOLUSDT", "--seed", "5",
         "--api-key", "k1", "--api-secret", "s1", "--faults", '{"delay_ms": 1}', "--fault-depth-gaps", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        rest = re.search(r"REST (http://127\.0\.0\.1:\d+)", lines[0])
        assert rest, lines
        assert "WS ws://127.0.0.1:" in lines[0]
        assert "api key k1" in lines[2]
        assert "api secret s1" in lines[2]

        async def probe() -> dict[str, Any]:
            base = rest.group(1)
            out: dict[str, Any] = {}
            async with aiohttp.ClientSession() as http:
                for name, path in (("info", "/fapi/v1/exchangeInfo"), ("lifecycle", "/_sim/lifecycle"),
                                   ("klines", "/fapi/v1/markPriceKlines?symbol=SOLUSDT&interval=1m")):  # fmt: skip
                    async with http.get(base + path) as r:
                        out[name] = await r.json()
            return out

        got = asyncio.run(probe())
        info = got["info"]
        assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "SOLUSDT"]
        assert "TRAILING_STOP_MARKET" in info["symbols"][0]["orderTypes"]
        assert got["lifecycle"] == {"max_connection_lifetime_ms": 86_400_000, "listen_key_ttl_ms": 3_600_000}
        assert isinstance(got["klines"], list)
    finally:
        proc.send_signal(stop_signal)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "stopped" in out


def test_cli_rejects_bad_arguments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "grinder.cli", "sim", "--symbols", "BTC-USD"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "BTC-USD" in result.stderr


async def test_replay_public_data_csvs(sim_factory: SimFactory, tmp_path: Path) -> None:
    """Binance public-data bookTicker + aggTrades CSVs (L1 only): the touch and trades replay as recorded."""
    data = tmp_path / "day"
    data.mkdir()
    t0 = 1_711_000_000_000
    (data / "BTCUSDT-bookTicker-2024-03-21.csv").write_text(
        "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time\n"
        + "".join(f"{100 + i},{65000 + i}.10,1.5{i},{65000 + i}.20,2.0{i},{t0 + i * 10},{t0 + i * 10 + 1}\n"
                  for i in range(5))
    )  # fmt: skip
    (data / "BTCUSDT-aggTrades-2024-03-21.csv").write_text(
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
        f"900,65002.20,0.010,1,2,{t0 + 25},false\n"
        f"901,65003.10,0.020,3,3,{t0 + 35},true\n"
    )
    server = await sim_factory(
        SimConfig(port=0, symbols=("BTCUSDT",), data_path=str(data), manual_market=True)
    )
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{server.ws_url}/stream?streams=btcusdt@bookTicker/btcusdt@aggTrade") as ws,
    ):
        while server.step_market(10):
            pass
        seen: list[dict[str, Any]] = []
        while len(seen) < 6:
            seen.append(json.loads((await asyncio.wait_for(ws.receive(), 3)).data))
        async with http.get(
            f"{server.rest_url}/fapi/v1/ticker/bookTicker", params={"symbol": "BTCUSDT"}
        ) as r:
            ticker = await r.json()
    assert (ticker["bidPrice"], ticker["bidQty"], ticker["askPrice"], ticker["lastUpdateId"]) == (
        "65004.10", "1.540", "65004.20", 104,
    )  # fmt: skip
    trades = [d["data"] for d in seen if d["stream"] == "btcusdt@aggTrade"]
    assert [(t["a"], t["p"], t["q"], t["m"]) for t in trades] == [
        (900, "65002.20", "0.010", False),
        (901, "65003.10", "0.020", True),
    ]
    tickers = [d["data"]["u"] for d in seen if d["stream"] == "btcusdt@bookTicker"]
    assert tickers == sorted(tickers)
    # The files carry no mark price: the simulator marks at the mid (venue and premiumIndex agree).
    mark = server.market.marks["BTCUSDT"].mark_price
    assert Decimal("65000.15") <= mark <= Decimal("65004.15")
    assert server.venue.mark_price("BTCUSDT") == mark


async def test_rules_from_a_saved_exchange_info(sim_factory: SimFactory, tmp_path: Path) -> None:
    first = await sim_factory(SimConfig(port=0, symbols=("ETHUSDT", "DOGEUSDT"), manual_market=True))
    async with aiohttp.ClientSession() as http, http.get(f"{first.rest_url}/fapi/v1/exchangeInfo") as r:
        saved = tmp_path / "exchangeInfo.json"
        saved.write_text(await r.text())
    second = await sim_factory(
        SimConfig(port=0, symbols=("DOGEUSDT",), rules_path=str(saved), manual_market=True)
    )
    assert second.rules["DOGEUSDT"].tick_size == first.rules["DOGEUSDT"].tick_size
    assert second.rules["DOGEUSDT"].min_notional == first.rules["DOGEUSDT"].min_notional
    with pytest.raises(ValueError, match="has no rules for BTCUSDT"):
        await sim_factory(SimConfig(port=0, symbols=("BTCUSDT",), rules_path=str(saved)))
