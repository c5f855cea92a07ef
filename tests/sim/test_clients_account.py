"""Account fields and modes through ccxt, the official SDK and python-binance: `maxNotionalValue` from
the leverage brackets at the current leverage, position mode and Multi-Assets mode, with Binance's
error codes when a change is not needed or not allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from grinder.sim.server import SimServer
from tests.sim.clients import ccxt_client, python_binance_client, require_clients, sdk_client, serving

require_clients()

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async for server in serving(1, stepping=False):
        yield server


async def test_ccxt_leverage_tiers_and_max_notional(sim: SimServer) -> None:
    ex = ccxt_client(sim)
    try:
        await ex.load_markets()
        answer = await ex.set_leverage(10, SYMBOL)
        assert answer["maxNotionalValue"] == "230000000"
        tiers = (await ex.fetch_leverage_tiers([SYMBOL]))[SYMBOL]
        assert [t["maxLeverage"] for t in tiers][:3] == [125, 100, 75]
        assert tiers[0]["maxNotional"] == 50_000 and tiers[0]["maintenanceMarginRate"] == 0.004
        rows = await ex.fapiPrivateV2GetPositionRisk({"symbol": "BTCUSDT"})
        assert rows[0]["maxNotionalValue"] == "230000000" and rows[0]["leverage"] == "10"
        account = await ex.fapiPrivateV2GetAccount()
        btc = next(p for p in account["positions"] if p["symbol"] == "BTCUSDT")
        assert btc["maxNotional"] == "230000000"
        await ex.set_position_mode(True)  # hedge
        assert (await ex.fetch_position_mode(SYMBOL))["hedged"] is True
        await ex.set_position_mode(False)
    finally:
        await ex.close()


def _sdk_account(sim: SimServer) -> dict[str, Any]:
    rest = sdk_client(sim).rest_api
    out: dict[str, Any] = {}
    out["leverage"] = rest.change_initial_leverage(symbol="ETHUSDT", leverage=20).data()
    out["symbol_config"] = rest.symbol_configuration(symbol="ETHUSDT").data()
    out["v2"] = rest.position_information_v2(symbol="ETHUSDT").data()
    out["brackets"] = rest.notional_and_leverage_brackets(symbol="ETHUSDT").data()
    rest.change_multi_assets_mode(multi_assets_margin="true")
    out["multi"] = rest.get_current_multi_assets_mode().data()
    out["config"] = rest.futures_account_configuration().data()
    rest.change_multi_assets_mode(multi_assets_margin="false")
    out["mode"] = rest.get_current_position_mode().data()
    return out


async def test_official_sdk_account_fields_and_modes(sim: SimServer) -> None:
    out = await asyncio.to_thread(_sdk_account, sim)
    assert out["leverage"].max_notional_value == "100000000"
    assert out["symbol_config"][0].max_notional_value == "100000000"
    assert out["v2"][0].max_notional_value == "100000000"
    brackets = out["brackets"].actual_instance
    assert brackets.brackets[5].initial_leverage == 20 and brackets.brackets[5].notional_cap == 100_000_000
    assert out["multi"].multi_assets_margin is True
    assert out["config"].multi_assets_margin is True
    assert out["mode"].dual_side_position is False


def _python_binance_account(sim: SimServer) -> dict[str, Any]:
    from binance.exceptions import BinanceAPIException

    client = python_binance_client(sim)
    out: dict[str, Any] = {"leverage": client.futures_change_leverage(symbol="BTCUSDT", leverage=125)}
    out["symbol_config"] = client.futures_symbol_config(symbol="BTCUSDT")
    client.futures_change_position_mode(dualSidePosition="true")
    out["mode"] = client.futures_get_position_mode()
    errors = []
    for call in (
        lambda: client.futures_change_position_mode(dualSidePosition="true"),
        lambda: client.futures_change_multi_assets_mode(False),
        lambda: client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED"),
        lambda: client.futures_change_multi_assets_mode(True),
    ):
        try:
            call()
            errors.append((0, "no error"))
        except BinanceAPIException as exc:
            errors.append((exc.code, exc.message))
    client.futures_change_margin_type(symbol="BTCUSDT", marginType="CROSSED")
    client.futures_change_multi_assets_mode(True)
    try:
        client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    except BinanceAPIException as exc:
        errors.append((exc.code, exc.message))
    client.futures_change_multi_assets_mode(False)
    client.futures_change_position_mode(dualSidePosition="false")
    out["errors"] = errors
    return out


async def test_python_binance_account_fields_and_mode_errors(sim: SimServer) -> None:
    out = await asyncio.to_thread(_python_binance_account, sim)
    assert out["leverage"] == {"leverage": 125, "maxNotionalValue": "50000", "symbol": "BTCUSDT"}
    assert out["symbol_config"][0]["maxNotionalValue"] == "50000"
    assert out["mode"] == {"dualSidePosition": True}
    assert out["errors"] == [
        (-4059, "No need to change position side."),
        (-4171, "Adjusted asset mode is currently set and does not need to be adjusted repeatedly"),
        (0, "no error"),
        (
            -4167,
            "Unable to adjust to Multi-Assets mode with symbols of USDⓈ-M Futures under isolated-margin mode.",
        ),
        (-4168, "Unable to adjust to isolated-margin mode under the Multi-Assets mode."),
    ]
