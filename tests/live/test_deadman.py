"""The dead-man's switch: the simulator's `countdownCancelAll` has Binance's semantics, and after
kill -9 of an armed engine every resting order of ours is cancelled by the simulator within the
countdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grinder.binance.rest import BinanceRestClient
from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.config import BinanceFuturesPortConfig
from grinder.core.commands import Outcome, PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.sim.server import SimServer
from tests.live.procs import EngineProcess, SimProcess, poll, write_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


async def _resting_order(port: BinanceFuturesPort, sim: SimServer, cid: str) -> None:
    rules = await port.symbol_rules("BTCUSDT")
    bid = sim.venue.best_bid_ask("BTCUSDT")
    assert bid is not None
    cmd = PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=rules.qty_to_lots("0.002"),
                     client_order_id=cid, price_ticks=bid[0] - 500, time_in_force=TimeInForce.GTC)
    assert (await port.submit(cmd)).outcome is Outcome.ACCEPTED


def _open(sim: SimServer) -> set[str]:
    return {o.client_order_id for o in sim.venue.open_orders("BTCUSDT")}


async def test_sim_countdown_fires_on_its_clock_without_traffic_and_zero_disarms(sim_server: SimServer) -> None:
    rest = BinanceRestClient(sim_server.rest_url, api_key=sim_server.api_key, api_secret=sim_server.api_secret)
    port = BinanceFuturesPort(BinanceFuturesPortConfig(base_url=sim_server.rest_url), http_client=rest)
    try:
        await port.start()
        await poll(lambda: sim_server.venue.best_bid_ask("BTCUSDT") is not None, 10, "a BTCUSDT book")
        # countdownTime=0 cancels the timer: nothing is cancelled after the first countdown would have run out.
        await port.countdown_cancel_all("BTCUSDT", 300)
        await _resting_order(port, sim_server, "grinder_t_BTCUSDT_b1_1_1")
        await port.countdown_cancel_all("BTCUSDT", 0)
        await asyncio.sleep(0.6)
        assert _open(sim_server) == {"grinder_t_BTCUSDT_b1_1_1"}
        # A countdown that is not refreshed cancels every open order of the symbol, with no request in between.
        await port.countdown_cancel_all("BTCUSDT", 300)
        armed_at = time.monotonic()
        await poll(lambda: not _open(sim_server), 5, "the countdown to cancel the order", interval=0.02)
        assert time.monotonic() - armed_at < 0.3 + 0.5  # countdown + the simulator's timer granularity + slack
    finally:
        await port.close()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=5.0, seed=11)
    yield proc
    proc.stop()


async def test_kill_9_with_the_dead_mans_switch_on_leaves_no_resting_order(sim: SimProcess, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "grinder.toml", sim, tmp_path / "journal.sqlite3")
    text = cfg.read_text(encoding="utf-8").replace(
        "[engine]\n", "[engine]\ndeadman_countdown_s = 2.0\ndeadman_interval_s = 0.5\n", 1)
    cfg.write_text(text, encoding="utf-8")
    engine = EngineProcess(cfg, tmp_path / "engine.log")
    client = sim.client()

    async def ours() -> list[str]:
        out = []
        for sym in ("BTCUSDT", "ETHUSDT"):
            out += [o.clientOrderId for o in await client.open_orders(sym) if o.clientOrderId.startswith("grinder_")]
        return out

    async def none_left() -> bool:
        return not await ours()

    try:
        await poll(lambda: "dead-man switch armed" in engine.log_text(), 30, "the dead-man switch to arm")
        await poll(ours, 30, "resting orders of ours")
        engine.kill9()
        killed_at = time.monotonic()
        resting = await ours()
        assert resting, "orders must be resting at the kill"
        await poll(none_left, 10, "the simulator to cancel our orders", interval=0.05)
        elapsed = time.monotonic() - killed_at
        assert elapsed <= 2.0 + 0.5, f"cancelled after {elapsed:.2f}s, countdown 2s"
        print(f"deadman resting_at_kill={len(resting)} cancelled_after_s={elapsed:.2f} countdown_s=2.0")
    finally:
        await client.close()
        if engine.proc.poll() is None:
            engine.kill9()

