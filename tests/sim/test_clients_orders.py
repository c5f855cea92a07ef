"""Conditional (algo) orders, batch-cancel spellings and exchangeInfo orderTypes through ccxt, the
official SDK and python-binance. The venue triggers them on the working price: the tests move the
market by feeding trades, quotes and marks into the simulator's own market, as a replay would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from grinder.sim.inputs import BookTop, MarkTick, TimedBatch, TradePrint
from grinder.sim.server import SimServer
from tests.sim.clients import (
    api_errors,
    ccxt_client,
    python_binance_client,
    require_clients,
    sdk_client,
    sdk_user_stream,
    serving,
)

require_clients()

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async for server in serving(1, stepping=False):
        yield server


@pytest.fixture(autouse=True)
def flat_account(sim: SimServer) -> None:
    """Each test starts at a known price with no position and no open orders."""
    move(sim, Decimal(60000))
    venue = sim.venue
    for order in list(venue.conditional.orders.values()):
        venue.conditional.cancel(order.algo_id, None, sim.now_ms())
    venue.cancel_all("BTCUSDT", sim.now_ms())
    for p in venue.positions("BTCUSDT"):
        if p.amount_lots:
            venue.new_order(symbol="BTCUSDT", side=p_close_side(p.amount_lots), order_type=_market(),
                            quantity=sim.rules["BTCUSDT"].lots_to_qty(abs(p.amount_lots)), reduce_only=True,
                            now_ms=sim.now_ms())  # fmt: skip
    sim.exchange.pump(sim.now_ms())


def _market() -> Any:
    from grinder.core.enums import OrderType

    return OrderType.MARKET


def p_close_side(amount_lots: int) -> Any:
    from grinder.core.enums import Side

    return Side.SELL if amount_lots > 0 else Side.BUY


def move(sim: SimServer, price: Decimal, *, mark: Decimal | None = None) -> None:
    """The BTCUSDT market now trades at `price` (one-tick spread, deep touch); mark defaults to it."""
    rules = sim.rules["BTCUSDT"]
    ticks = rules.price_to_ticks(price)
    mark = price if mark is None else mark
    batch = TimedBatch(
        0,
        (
            BookTop("BTCUSDT", ticks - 1, 1_000_000, ticks + 1, 1_000_000),
            TradePrint("BTCUSDT", ticks, 1, buyer_is_maker=False),
            MarkTick("BTCUSDT", mark, mark, Decimal("0.0001")),
        ),
    )
    sim.market.apply(batch, sim.now_ms(), flush_all=True)


def position_lots(sim: SimServer) -> int:
    return sum(p.amount_lots for p in sim.venue.positions("BTCUSDT"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ccxt(sim: SimServer) -> AsyncIterator[Any]:
    ex = ccxt_client(sim)
    await ex.load_markets()
    try:
        yield ex
    finally:
        await ex.close()


async def test_ccxt_stop_market_closes_the_position_when_the_price_falls(ccxt: Any, sim: SimServer) -> None:
    await ccxt.create_order(SYMBOL, "market", "buy", 0.01)
    assert position_lots(sim) == 10
    stop = await ccxt.create_order(SYMBOL, "STOP_MARKET", "sell", 0.01, None,
                                   {"triggerPrice": 59000, "reduceOnly": True})  # fmt: skip
    assert stop["id"]
    open_triggers = await ccxt.fetch_open_orders(SYMBOL, params={"trigger": True})
    assert [o["id"] for o in open_triggers] == [stop["id"]]
    assert open_triggers[0]["triggerPrice"] == 59000
    move(sim, Decimal(59500))
    assert position_lots(sim) == 10  # not yet
    move(sim, Decimal(58990))
    assert position_lots(sim) == 0  # the venue triggered it on the last trade price
    assert await ccxt.fetch_open_orders(SYMBOL, params={"trigger": True}) == []
    done = await ccxt.fetch_order(stop["id"], SYMBOL, {"trigger": True})
    assert done["info"]["algoStatus"] == "FINISHED"


async def test_ccxt_take_profit_limit_rests_then_cancel(ccxt: Any, sim: SimServer) -> None:
    tp = await ccxt.create_order(SYMBOL, "TAKE_PROFIT", "buy", 0.01, 58000, {"triggerPrice": 58100})
    cancelled = await ccxt.cancel_order(tp["id"], SYMBOL, {"trigger": True})
    assert cancelled["id"] == tp["id"]
    move(sim, Decimal(58050))
    assert sim.venue.open_orders("BTCUSDT") == []  # cancelled before the trigger: nothing placed


def _sdk_trailing(sim: SimServer) -> dict[str, Any]:
    rest = sdk_client(sim).rest_api
    info = rest.exchange_information().data()
    rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.02)
    placed = rest.new_algo_order(
        algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET",
        quantity=0.02, activate_price=60500, callback_rate=1, working_type="MARK_PRICE", price_protect="TRUE",
        reduce_only="true",
    ).data()  # fmt: skip
    return {"order_types": info.symbols[0].order_types, "placed": placed}


async def test_official_sdk_trailing_stop_on_mark_price(sim: SimServer) -> None:
    client = sdk_client(sim)
    events: list[Any] = []
    conn, _ = await sdk_user_stream(client, sim, events.append)
    try:
        out = await asyncio.to_thread(_sdk_trailing, sim)
        assert out["order_types"] == ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                                      "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]  # fmt: skip
        placed = out["placed"]
        assert (placed.algo_status, placed.order_type, placed.working_type) == (
            "NEW", "TRAILING_STOP_MARKET", "MARK_PRICE")  # fmt: skip
        move(sim, Decimal(60000), mark=Decimal(60600))  # activated at 60600 (mark >= 60500)
        move(sim, Decimal(60000), mark=Decimal(61000))  # new high
        move(sim, Decimal(60000), mark=Decimal(60500))  # -0.8 %: still holding
        assert position_lots(sim) == 20
        move(sim, Decimal(60300), mark=Decimal(60380))  # -1.02 % from 61000: triggers
        assert position_lots(sim) == 0
        query = await asyncio.to_thread(
            lambda: client.rest_api.query_algo_order(algo_id=placed.algo_id).data()
        )
        assert (query.algo_status, query.actual_qty) == ("FINISHED", "0.020")
        for _ in range(100):
            statuses = [
                e.actual_instance.o.X for e in events if type(e.actual_instance).__name__ == "AlgoUpdate"
            ]
            if "FINISHED" in statuses:
                break
            await asyncio.sleep(0.02)
    finally:
        await conn.close_connection()
    assert statuses == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]


def _python_binance_flow(sim: SimServer) -> dict[str, Any]:
    client = python_binance_client(sim)
    bid = float(sim.rules["BTCUSDT"].price_str(sim.market.books["BTCUSDT"].best_bid[0]))
    resting = [
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                                    quantity=0.01, price=round(bid - 100 - i, 1))["orderId"]
        for i in range(3)
    ]  # fmt: skip
    cancelled = client.futures_cancel_orders(symbol="BTCUSDT", orderidlist=resting)  # lower-case spelling
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=0.01)
    tp = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="TAKE_PROFIT_MARKET", stopPrice=59000,
                                     closePosition="true")  # fmt: skip
    open_algo = client.futures_get_open_algo_orders(symbol="BTCUSDT")
    return {"cancelled": cancelled, "resting": resting, "tp": tp, "open_algo": open_algo}


async def test_python_binance_batch_cancel_and_close_position(sim: SimServer) -> None:
    out = await asyncio.to_thread(_python_binance_flow, sim)
    assert [o["orderId"] for o in out["cancelled"]] == out["resting"]
    assert {o["status"] for o in out["cancelled"]} == {"CANCELED"}
    assert out["tp"]["orderType"] == "TAKE_PROFIT_MARKET" and out["tp"]["closePosition"] is True
    assert [o["algoId"] for o in out["open_algo"]] == [out["tp"]["algoId"]]
    assert position_lots(sim) == -10
    move(sim, Decimal(58900))  # short closes on take-profit
    assert position_lots(sim) == 0


def _errors(sim: SimServer) -> list[tuple[int, str]]:
    client = python_binance_client(sim)
    calls = [
        lambda: client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                                                 algoType="CONDITIONAL", quantity=0.01, triggerPrice=61000),
        lambda: client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                                                 algoType="CONDITIONAL", quantity=0.01),
        lambda: client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                                                 algoType="CONDITIONAL", quantity=0.01, triggerPrice=59000,
                                                 closePosition="true"),
        lambda: client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET",
                                                 algoType="CONDITIONAL", quantity=0.01, callbackRate=20),
        lambda: client.futures_cancel_algo_order(algoId=987654),
        lambda: client.futures_get_algo_order(algoId=987654),
        lambda: client._request_futures_api("post", "order", True, data={
            "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": 0.01, "stopPrice": 59000}),
        lambda: client.futures_cancel_orders(symbol="BTCUSDT"),
    ]  # fmt: skip
    return api_errors(calls)


async def test_conditional_order_errors_keep_binance_codes(sim: SimServer) -> None:
    assert await asyncio.to_thread(_errors, sim) == [
        (-2021, "Order would immediately trigger."),
        (-1102, "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed."),
        (-4137, "Quantity must be zero with closePosition equals true"),
        (-1130, "Data sent for parameter 'callbackRate' is not valid."),
        (-2011, "Unknown order sent."),
        (-2013, "Order does not exist."),
        (
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        ),
        (-1102, "Either orderIdList or origClientOrderIdList must be sent."),
    ]


async def test_cancel_all_algo_orders(ccxt: Any, sim: SimServer) -> None:
    for trigger in (61000, 62000):
        await ccxt.create_order(SYMBOL, "STOP_MARKET", "buy", 0.01, None, {"triggerPrice": trigger})
    assert len(sim.venue.conditional.open_orders("BTCUSDT")) == 2
    answer = await ccxt.fapiPrivateDeleteAlgoOpenOrders({"symbol": "BTCUSDT"})
    assert answer == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert sim.venue.conditional.open_orders("BTCUSDT") == []
