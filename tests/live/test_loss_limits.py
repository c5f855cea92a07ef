"""Loss limits that bound losses, live against `grinder sim` and in PAPER, every piece a process.

A falling ETHUSDT market fills the grid's bids all the way down. The daily-loss limit trips, the
engine stops quoting, cancels and flattens with reduce-only slices inside the slippage budget: the
final loss stays within the limit plus that budget (plus the fees of the flattening slices). After a
restart the trip still holds (journaled), /readyz says so and nothing is placed, until the
token-protected reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grinder.binance.constants import Security
from tests.live.falling import write_falling_market
from tests.live.procs import EngineProcess, SimProcess, get_json, poll

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

TOKEN = "loss-limit-token"
DAILY_LOSS = Decimal("4")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    data = write_falling_market(tmp_path / "falling")
    proc = SimProcess(tmp_path / "sim.log", speed=4.0, extra=("--data", str(data), "--symbols", "ETHUSDT"))
    yield proc
    proc.stop()


def write_config(path: Path, sim: SimProcess, journal: Path, mode: str) -> Path:
    path.write_text(
        f"""
[engine]
symbols = ["ETHUSDT"]
stale_feed_s = 5.0
shutdown_timeout_s = 5.0

[connector]
mode = "{mode}"
armed = true
symbols = ["ETHUSDT"]

[binance]
rest_url = "{sim.rest_url}"
ws_url = "{sim.ws_url}"

[grid]
levels = 3
spacing_bps = "4"
order_notional = "110"
max_position = "0.4"

[risk]
max_position_notional = "1500"
max_total_position_notional = "3000"
daily_loss_limit = "{DAILY_LOSS}"
flatten_slippage_bps = "50"

[store]
journal_path = "{journal}"
synchronous = "NORMAL"
""",
        encoding="utf-8",
    )
    return path


def start_engine(config: Path, log: Path) -> EngineProcess:
    return EngineProcess(config, log, GRINDER_CONTROL_TOKEN=TOKEN)


async def status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    _, body = await get_json(session, url + "/status")
    return dict(body)


async def flattened(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    st = await status(session, url)
    flat = st.get("flatten")
    if flat and flat["done"] and st["symbols"]["ETHUSDT"]["position_qty"] in ("0", "0.000"):
        return st
    return None


async def orders_sent(sim: SimProcess) -> int:
    client = sim.client()
    try:
        rows = await client.request("GET", "/fapi/v1/allOrders", {"symbol": "ETHUSDT", "limit": 1000},
                                    security=Security.SIGNED)
        return len(rows)
    finally:
        await client.close()


async def sim_loss(sim: SimProcess) -> Decimal:
    client = sim.client()
    try:
        row = next(r for r in await client.balance() if r.asset == "USDT")
        return Decimal("10000") - (row.balance + row.crossUnPnl)
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["LIVE_TRADE", "PAPER"])
async def test_falling_market_loss_stays_within_limit_and_the_trip_survives_a_restart(
    sim: SimProcess, tmp_path: Path, mode: str
) -> None:
    journal = tmp_path / "journal.sqlite3"
    cfg = write_config(tmp_path / "grinder.toml", sim, journal, mode)
    engine = start_engine(cfg, tmp_path / "engine.log")
    async with aiohttp.ClientSession() as session:
        try:
            st = await poll(lambda: flattened(session, engine.url), 90,
                            f"the loss limit to trip and flatten (log: {engine.log_path})")
            risk = st["pipeline"]["risk"]
            assert risk["kill_switch_reason"] == "DAILY_LOSS"
            budget = Decimal(st["flatten"]["slippage_budget_usdt"])
            assert 0 < budget < 10
            view = st["symbols"]["ETHUSDT"]
            assert Decimal(view["fees"]) < 1
            loss = await sim_loss(sim) if mode == "LIVE_TRADE" else -Decimal(view["net_pnl"])
            print(f"falling market mode={mode} loss_usdt={loss} daily_loss_limit={DAILY_LOSS} "
                  f"slippage_budget_usdt={budget} fees_usdt={view['fees']}")
            assert loss > DAILY_LOSS / 2, f"the scenario must lose money (loss={loss})"
            assert loss <= DAILY_LOSS + budget + Decimal(view["fees"]), (loss, budget, view)
            code, ready = await get_json(session, engine.url + "/readyz")
            assert code == 503 and any("loss limit tripped (DAILY_LOSS)" in r for r in ready["reasons"])
        finally:
            rc = engine.terminate()
        assert rc == 0, engine.log_text()[-3000:]
        # Restart on the same journal: the trip holds, nothing is quoted.
        placed_before = await orders_sent(sim) if mode == "LIVE_TRADE" else 0
        again = start_engine(cfg, tmp_path / "engine2.log")
        try:
            ready = await poll(lambda: _tripped_ready(session, again.url), 30, "/readyz after restart")
            assert any("loss limit tripped (DAILY_LOSS)" in r for r in ready["reasons"])
            st = await status(session, again.url)
            assert st["orders"]["placed"] == 0 and st["quoting"] is False
            if mode == "LIVE_TRADE":
                assert await orders_sent(sim) == placed_before
            async with session.post(again.url + "/control/reset-trip") as resp:
                assert resp.status == 401  # the reset needs the token
            async with session.post(again.url + "/control/reset-trip",
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                body = await resp.json()
            assert body["reset"] is True and body["previous_reason"] == "DAILY_LOSS"
            _, ready = await get_json(session, again.url + "/readyz")
            assert not any("loss limit" in r for r in ready["reasons"])
        finally:
            assert again.terminate() in (0, 3)
    assert "Traceback" not in engine.log_text() + again.log_text()


async def _tripped_ready(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    _, body = await get_json(session, url + "/readyz")
    return dict(body) if any("loss limit" in r for r in body["reasons"]) else None
