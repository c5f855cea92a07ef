"""scripts/smoke_lc22_live_trade.py end to end: subprocesses, and the simulator on real loopback sockets."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from grinder.core.enums import OrderStatus
from grinder.sim.server import SimServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUNBOOK_DRY_RUN = """\
============================================================
LC-22 LIVE_TRADE SMOKE TEST
============================================================

## Dry-run mode: Testing gate checks only

### Gate 1: armed=False should block
PASS: Blocked with: Cannot place_order: armed=False...

### Gate 3: ALLOW_MAINNET_TRADE not set should block
PASS: Blocked with: Cannot place_order: ALLOW_MAINNET_TRADE=1 not set...

============================================================
DRY-RUN COMPLETE: All gate checks passed
============================================================
"""
SECRET_ENV = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "ALLOW_MAINNET_TRADE", "BINANCE_FUTURES_BASE_URL",
              "BINANCE_FUTURES_WS_URL")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV and not k.startswith("GRINDER_")}
    env.update(extra)
    return env


async def run_smoke(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.smoke_lc22_live_trade", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("pythonpath", [True, False], ids=["PYTHONPATH=src", "installed"])
async def test_dry_run_prints_the_runbook_output_exactly(pythonpath: bool) -> None:
    env = clean_env(PYTHONPATH="src") if pythonpath else clean_env()
    # Even with ALLOW_MAINNET_TRADE exported, the dry run checks the gates against an empty environment.
    env["ALLOW_MAINNET_TRADE"] = "1"
    rc, out, _ = await run_smoke(env=env)
    assert rc == 0
    assert out == RUNBOOK_DRY_RUN


async def test_dry_run_sends_nothing_to_the_configured_target(sim_server_manual: SimServer) -> None:
    sim = sim_server_manual
    env = clean_env(PYTHONPATH="src", BINANCE_FUTURES_BASE_URL=sim.rest_url, BINANCE_API_KEY=sim.api_key,
                    BINANCE_API_SECRET=sim.api_secret)
    rc, out, _ = await run_smoke(env=env)
    assert rc == 0 and out == RUNBOOK_DRY_RUN
    assert sim.venue.all_orders("BTCUSDT") == []


@pytest.mark.parametrize("token", ["yes", "lc22_live_trade", "LC22_LIVE_TRADE ", ""])
async def test_wrong_confirm_token_is_refused(sim_server_manual: SimServer, token: str) -> None:
    sim = sim_server_manual
    env = clean_env(PYTHONPATH="src", BINANCE_FUTURES_BASE_URL=sim.rest_url, BINANCE_API_KEY=sim.api_key,
                    BINANCE_API_SECRET=sim.api_secret)
    rc, out, err = await run_smoke("--confirm", token, env=env)
    assert rc == 2 and out == ""
    assert "--confirm must be exactly LC22_LIVE_TRADE" in err and "nothing was sent" in err
    assert sim.venue.all_orders("BTCUSDT") == []


async def test_confirmed_run_without_keys_is_refused() -> None:
    rc, _, err = await run_smoke("--confirm", "LC22_LIVE_TRADE", env=clean_env(PYTHONPATH="src"))
    assert rc == 2 and "BINANCE_API_KEY and BINANCE_API_SECRET must be set" in err


async def test_confirmed_run_against_mainnet_without_allow_is_blocked() -> None:
    env = clean_env(PYTHONPATH="src", BINANCE_API_KEY="k" * 64, BINANCE_API_SECRET="s" * 64)
    rc, out, err = await run_smoke("--confirm", "LC22_LIVE_TRADE", env=env)
    assert rc == 1
    assert "FAIL: Blocked with: Cannot place_order: ALLOW_MAINNET_TRADE=1 not set (target " \
           "https://fapi.binance.com is Binance mainnet)" in out
    assert "k" * 64 not in out + err and "s" * 64 not in out + err


async def test_confirmed_run_places_and_cancels_on_the_simulator(sim_server_manual: SimServer) -> None:
    sim = sim_server_manual
    env = clean_env(PYTHONPATH="src", BINANCE_FUTURES_BASE_URL=sim.rest_url, BINANCE_API_KEY=sim.api_key,
                    BINANCE_API_SECRET=sim.api_secret)
    rc, out, err = await run_smoke("--confirm", "LC22_LIVE_TRADE", "--log-level", "INFO", env=env)
    assert rc == 0, out + err
    orders = sim.venue.all_orders("BTCUSDT")
    assert len(orders) == 1 and orders[0].status is OrderStatus.CANCELED
    order = orders[0]
    rules = sim.venue.rules("BTCUSDT")
    cid = order.client_order_id
    assert re.fullmatch(r"grinder_s_BTCUSDT_1_\d+_1", cid)
    price = rules.price_str(order.price_ticks)
    qty = rules.qty_str(order.orig_qty_lots)
    assert rules.notional(order.price_ticks, order.orig_qty_lots) >= rules.min_notional
    # The order went in 50% below the market.
    quote = sim.venue.best_bid_ask("BTCUSDT")
    assert quote is not None
    mid = (rules.ticks_to_price(quote[0]) + rules.ticks_to_price(quote[2])) / 2
    assert abs(rules.ticks_to_price(order.price_ticks) - mid / 2) < mid / 100
    lines = out.splitlines()
    assert lines[:3] == ["=" * 60, "LC-22 LIVE_TRADE SMOKE TEST", "=" * 60]
    start = lines.index("## Placing order via LiveConnectorV0.place_order()")
    assert lines[start:] == [
        "## Placing order via LiveConnectorV0.place_order()",
        "  symbol: BTCUSDT",
        "  side: BUY",
        f"  price: {price} (50% below market)",
        f"  quantity: {qty}",
        "",
        "### Order placed!",
        f"  order_id: {cid}",
        "",
        "## Cancelling order via LiveConnectorV0.cancel_order()",
        f"  order_id: {cid}",
        "",
        "### Order cancelled!",
        "  result: True",
        "",
        "=" * 60,
        "SMOKE TEST PASSED",
        "=" * 60,
    ]
    assert f"Order placed order_id={cid}" in err and f"Order cancelled order_id={cid}" in err
    assert "LiveConnectorV0 connected mode=LIVE_TRADE armed=True" in err
    assert sim.api_secret not in out + err and sim.api_key not in out + err


async def test_confirmed_run_fails_when_the_exchange_rejects(sim_server_manual: SimServer) -> None:
    sim = sim_server_manual
    sim.control.set_faults(reject_rate=1.0, reject_code=-2019)
    env = clean_env(PYTHONPATH="src", BINANCE_FUTURES_BASE_URL=sim.rest_url, BINANCE_API_KEY=sim.api_key,
                    BINANCE_API_SECRET=sim.api_secret)
    rc, out, _ = await run_smoke("--confirm", "LC22_LIVE_TRADE", env=env)
    assert rc == 1
    assert "FAIL: place_order raised ConnectorNonRetryableError: Cannot place_order: Binance rejected it " \
           "with -2019" in out
    assert "SMOKE TEST PASSED" not in out
