"""The example plug-in strategies run where the grid runs: backtest on a real capture, the demo
(LIVE_TRADE against the simulator) and PAPER on live simulator market data, each with fills."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from grinder.api import StrategySelection
from grinder.binance.config import BinanceConfig
from grinder.cli import main
from grinder.connector.config import LiveConnectorConfig
from grinder.core.enums import SafeMode
from grinder.live.config import EngineConfig
from grinder.live.wiring import EngineSettings
from grinder.ops.config import OpsConfig
from grinder.risk.config import RiskConfig
from grinder.sim.config import SimConfig
from grinder.store import StoreConfig, Synchronous
from tests.fixtures.paths import REPO_DIR, capture_path
from tests.live.procs import child_env, poll

AS = "examples.strategies.avellaneda:make"
TOUCH = "examples.strategies.touch:make"
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_backtest_of_the_example_on_a_real_capture_fills_and_uses_its_quiet_band(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "as.json"
    data = capture_path("btcusdt_20240808.gz")
    assert main(["backtest", "--strategy", AS, "--data", str(data), "--quiet", "--json", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    btc = doc["symbols"]["BTCUSDT"]
    assert btc["fills"] > 0 and btc["buys"] > 0 and btc["sells"] > 0
    assert doc["summary"]["events_processed"] > 50_000  # the capture, not a stub
    # The strategy promised a quiet band: it decided on a small share of the events only.
    assert 0 < btc["decisions"] < doc["summary"]["events_processed"] // 20
    # One bid and one ask at most, never past the inventory cap (5 orders of ~110 USDT).
    assert btc["max_abs_position_qty"] <= 0.0101
    assert doc["summary"]["strategy"] == AS  # chosen by the flag (the config file names none)
    assert doc["config"]["strategy"]["factory"] == ""
    assert "digest:" in capsys.readouterr().out


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_demo_trades_the_example_in_live_trade_against_the_simulator(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grinder.cli", "demo", "--strategy", AS, "--duration", "6", "--speed", "20",
         "--out", str(tmp_path), "--ops-port", "0"],
        capture_output=True, text=True, timeout=120, env=child_env(), cwd=REPO_DIR,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fills = sum(int(line.split("fills=")[1].split()[0]) for line in proc.stdout.splitlines() if "fills=" in line)
    assert fills > 0, proc.stdout
    assert "journal vs simulator trades: MATCH" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_bad_strategy_flag_stops_the_demo_before_the_simulator_starts() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grinder.cli", "demo", "--strategy", "examples.strategies.nope:make"],
        capture_output=True, text=True, timeout=60, env=child_env(), cwd=REPO_DIR,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--strategy" in proc.stderr and "nope" in proc.stderr
    assert "GRINDER demo:" not in proc.stdout


@pytest.mark.integration
@pytest.mark.timeout(90)
@pytest.mark.parametrize("factory", [AS, TOUCH])
async def test_paper_mode_trades_the_example_on_live_simulator_data(
    sim_factory: Any, tmp_path: Path, factory: str
) -> None:
    from tests.live.test_engine_inprocess import start

    sim = await sim_factory(SimConfig(port=0, seed=7, speed=5.0))
    settings = EngineSettings(
        engine=EngineConfig(symbols=SYMBOLS, stale_feed_s=5.0, shutdown_timeout_s=5.0),
        connector=LiveConnectorConfig(mode=SafeMode.PAPER, armed=True, symbols=SYMBOLS,
                                      max_notional_per_order=Decimal("125")),
        binance=BinanceConfig(rest_url=sim.rest_url, ws_url=sim.ws_url),
        risk=RiskConfig(max_position_notional=Decimal("1500"), max_total_position_notional=Decimal("3000")),
        ops=OpsConfig(port=0),
        store=StoreConfig(journal_path=str(tmp_path / "journal.sqlite3"), synchronous=Synchronous.NORMAL),
        selection=StrategySelection(factory, {"order_notional": "110"}),
    )
    run = await start(settings, keys=False)
    try:
        strategy = run.engine.parts.pipeline.strategy("BTCUSDT")
        assert type(strategy).__module__ == factory.split(":")[0]  # the plug-in, not the grid
        await poll(lambda: run.engine.counts.placed > 0, 20, "paper orders placed")
        await poll(lambda: sum(v.fill_count for v in run.engine.views.values()) > 0, 40, "paper fills")
        assert run.engine.status()["exchange"] == "paper://venue"
        assert sim.venue.open_orders() == []  # nothing reached the exchange
    finally:
        assert await run.stop() == 0


def test_the_avellaneda_quoter_skews_against_inventory_and_stops_growing_it_at_the_cap() -> None:
    from grinder.api import StrategyContext, load_factory
    from grinder.core.events import BookTicker
    from grinder.core.rules import btcusdt_rules

    make = load_factory(AS)
    strategy = make(StrategyContext("BTCUSDT", btcusdt_rules("100"), {"max_position_orders": 3}))
    t0 = 1_700_000_000_000
    for i in range(200):  # a calm book around 60,000.0 USDT (tick 0.1)
        bid = 600_000 + (i % 3)
        strategy.on_event(BookTicker("BTCUSDT", bid, 10, bid + 1, 10, i + 1, t0 + 100 * i, t0 + 100 * i))
    now = t0 + 20_000
    flat = strategy.desired_quotes(0, now)
    (buy, sell) = flat.quotes
    size = buy.qty_lots
    assert size == 2 and buy.side.name == "BUY" and buy.price_ticks < 600_002 < sell.price_ticks
    long = strategy.desired_quotes(2 * size, now)
    assert long.quotes[0].price_ticks < buy.price_ticks and long.quotes[1].price_ticks < sell.price_ticks
    short = strategy.desired_quotes(-2 * size, now)
    assert short.quotes[0].price_ticks > buy.price_ticks and short.quotes[1].price_ticks > sell.price_ticks
    capped = strategy.desired_quotes(3 * size, now)
    assert [q.side.name for q in capped.quotes] == ["SELL"]  # one more buy would pass the cap
    assert strategy.desired_quotes(3 * size, now + 1) is capped  # inside its quiet band: the same answer
