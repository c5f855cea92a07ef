"""LiveConnectorV0 + BinanceFuturesPort against the simulator over real loopback sockets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from grinder.binance.rest import BinanceRestClient
from grinder.connector import (
    BinanceFuturesPort,
    BinanceFuturesPortConfig,
    ConnectorNonRetryableError,
    LiveConnectorConfig,
    LiveConnectorV0,
    PaperPort,
    SafeMode,
)
from grinder.connector.errors import explain_exchange_error
from grinder.core.clock import WallClock
from grinder.core.commands import CancelOrder, Outcome, PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, Side
from grinder.core.rules import btcusdt_rules
from grinder.sim.server import SimServer
from grinder.venue import Venue, VenueConfig

pytestmark = pytest.mark.integration


@dataclass
class Rig:
    sim: SimServer
    connector: LiveConnectorV0
    port: BinanceFuturesPort
    config: LiveConnectorConfig


def make_rig(sim: SimServer, *, cap: str = "125", api_key: str | None = None,
             api_secret: str | None = None) -> Rig:
    client = BinanceRestClient(sim.rest_url, api_key=api_key or sim.api_key, api_secret=api_secret or sim.api_secret,
                               retry_backoff_s=0.0)
    port = BinanceFuturesPort(
        config=BinanceFuturesPortConfig(base_url=sim.rest_url, retry_backoff_s=0.0,
                                        max_notional_per_order=Decimal(cap)),
        http_client=client,
    )
    config = LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port,
                                 symbols=("BTCUSDT", "ETHUSDT"), max_notional_per_order=Decimal(cap))
    return Rig(sim, LiveConnectorV0(config, environ={}), port, config)


@pytest.fixture
async def rig(sim_server_manual: SimServer) -> AsyncIterator[Rig]:
    r = make_rig(sim_server_manual)
    await r.connector.connect()
    yield r
    await r.connector.close()


async def far_buy_price(r: Rig, symbol: str = "BTCUSDT") -> Decimal:
    rules = await r.port.symbol_rules(symbol)
    return rules.round_price(await r.connector.mid_price(symbol) / 2, "floor")


def exchange_orders(sim: SimServer, symbol: str = "BTCUSDT") -> list:
    return sim.venue.all_orders(symbol)


async def test_place_query_cancel_round_trip_logs_runbook_lines(
    sim_server_manual: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="grinder.connector")
    r = make_rig(sim_server_manual)
    await r.connector.connect()
    try:
        price = await far_buy_price(r)
        cid = await r.connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=price)
        rules = await r.port.symbol_rules("BTCUSDT")
        # quantity=None: the smallest step multiple meeting MIN_NOTIONAL (100) at that price.
        expected_qty = rules.lots_to_qty(rules.min_lots_for_notional(rules.price_to_ticks(price)))
        view = r.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cid)
        assert view.status is OrderStatus.NEW and view.side is Side.BUY
        assert rules.lots_to_qty(view.orig_qty_lots) == expected_qty
        assert rules.ticks_to_price(view.price_ticks) == price
        state = await r.connector.query_order("BTCUSDT", cid)
        assert state is not None and state.is_open and state.order_id == view.order_id
        assert [o.client_order_id for o in await r.connector.open_orders("BTCUSDT")] == [cid]
        assert await r.connector.cancel_order(cid) is True
        assert r.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cid).status is OrderStatus.CANCELED
    finally:
        await r.connector.close()
    text = caplog.text
    # Runbook 17 step 5 order: connected, then the port initialised.
    connected = text.index("LiveConnectorV0 connected mode=LIVE_TRADE armed=True")
    assert text.index(f"BinanceFuturesPort initialized url={sim_server_manual.rest_url}") > connected
    assert text.count("BinanceFuturesPort initialized") == 1
    assert f"place_order symbol=BTCUSDT side=BUY price={rules.price_str(rules.price_to_ticks(price))} " \
           f"qty={expected_qty}" in text
    assert f"Order placed order_id={cid}" in text
    assert f"cancel_order order_id={cid}" in text
    assert f"Order cancelled order_id={cid}" in text
    assert cid.startswith("grinder_s_BTCUSDT_1_") and len(cid) <= 36


async def test_placed_and_cancelled_metrics_move(rig: Rig) -> None:
    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"mode": "LIVE_TRADE"}) or 0.0

    placed, cancelled = sample("grinder_orders_placed_total"), sample("grinder_orders_cancelled_total")
    cid = await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=await far_buy_price(rig))
    await rig.connector.cancel_order(cid)
    assert sample("grinder_orders_placed_total") == placed + 1
    assert sample("grinder_orders_cancelled_total") == cancelled + 1


async def test_replace_price_only_amends_in_place_keeping_side(rig: Rig) -> None:
    price = await far_buy_price(rig)
    cid = await rig.connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=price, quantity=Decimal("0.004"))
    new_price = price - Decimal("100")
    assert await rig.connector.replace_order(cid, price=new_price) == cid
    view = rig.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cid)
    rules = await rig.port.symbol_rules("BTCUSDT")
    assert view.status is OrderStatus.NEW and view.side is Side.BUY
    assert rules.ticks_to_price(view.price_ticks) == new_price and view.modify_count == 1
    assert len(exchange_orders(rig.sim)) == 1  # amended, not re-placed


async def test_replace_side_change_cancels_then_places(sim_server_manual: SimServer) -> None:
    r = make_rig(sim_server_manual, cap="1000")
    await r.connector.connect()
    try:
        price = await far_buy_price(r)
        cid = await r.connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=price, quantity=Decimal("0.004"))
        sell_price = price * 3  # 1.5x mid: far above the market
        new_cid = await r.connector.replace_order(cid, side=Side.SELL, price=sell_price)
        assert new_cid != cid
        old = r.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cid)
        new = r.sim.venue.get_order(symbol="BTCUSDT", client_order_id=new_cid)
        assert old.status is OrderStatus.CANCELED and old.side is Side.BUY
        assert new.status is OrderStatus.NEW and new.side is Side.SELL and new.orig_qty_lots == old.orig_qty_lots
    finally:
        await r.connector.close()


async def test_unknown_outcome_503_after_execute_leaves_exactly_one_order(rig: Rig) -> None:
    def found() -> float:
        return REGISTRY.get_sample_value("grinder_connector_unknown_outcomes_total", {"resolution": "found"}) or 0.0

    before = found()
    rig.sim.control.set_faults(unknown_after_execute=1)
    price = await far_buy_price(rig)
    cid = await rig.connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=price, quantity=Decimal("0.004"))
    orders = exchange_orders(rig.sim)
    assert [o.client_order_id for o in orders] == [cid]
    assert orders[0].status is OrderStatus.NEW
    state = await rig.connector.query_order("BTCUSDT", cid)
    assert state is not None and state.status is OrderStatus.NEW
    assert found() == before + 1


async def test_unknown_outcome_engine_path_returns_accepted_with_state(rig: Rig) -> None:
    rules = await rig.port.symbol_rules("BTCUSDT")
    price = await far_buy_price(rig)
    cmd = PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=4,
                     client_order_id=rig.connector.ids.next_id("BTCUSDT", "b1"),
                     price_ticks=rules.price_to_ticks(price))
    rig.sim.control.set_faults(unknown_after_execute=1)
    result = await rig.connector.submit(cmd)
    assert result.outcome is Outcome.ACCEPTED and result.status is OrderStatus.NEW
    assert result.order_id == rig.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cmd.client_order_id).order_id
    rig.sim.control.set_faults(unknown_after_execute=1)
    cancel = await rig.connector.submit(CancelOrder(symbol="BTCUSDT", client_order_id=cmd.client_order_id))
    assert cancel.outcome is Outcome.ACCEPTED and cancel.status is OrderStatus.CANCELED
    assert len(exchange_orders(rig.sim)) == 1


async def test_not_executed_failures_are_resent_with_the_same_id(rig: Rig) -> None:
    # 5 × 503 "Service Unavailable." (not executed): more than the REST client's own retries, so the
    # port queries the id (absent) and re-sends with the SAME client order id.
    rig.sim.control.set_faults(unavailable_before_execute=5)
    price = await far_buy_price(rig)
    cid = await rig.connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=price, quantity=Decimal("0.004"))
    assert [o.client_order_id for o in exchange_orders(rig.sim)] == [cid]


async def test_runtime_rollback_stops_the_very_next_write(rig: Rig) -> None:
    price = await far_buy_price(rig)
    first = await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=price, quantity=Decimal("0.004"))
    assert len(exchange_orders(rig.sim)) == 1
    paper_venue = Venue(VenueConfig(), {"BTCUSDT": btcusdt_rules()})
    rig.config.paper_port = PaperPort(paper_venue, WallClock())

    rig.config.armed = False  # Runbook 17 rollback option 3
    with pytest.raises(ConnectorNonRetryableError, match="Cannot place_order: armed=False"):
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=price, quantity=Decimal("0.004"))
    with pytest.raises(ConnectorNonRetryableError, match="Cannot cancel_order: armed=False"):
        await rig.connector.cancel_order(first)
    rig.config.armed = True
    rig.config.mode = SafeMode.READ_ONLY  # option 2
    with pytest.raises(ConnectorNonRetryableError, match="Cannot place_order: mode=READ_ONLY"):
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=price, quantity=Decimal("0.004"))
    rig.connector.set_mode(SafeMode.PAPER)  # option 2 (PAPER): writes go to the paper venue only
    paper_cid = await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=price,
                                                quantity=Decimal("0.004"))
    assert [o.client_order_id for o in paper_venue.open_orders("BTCUSDT")] == [paper_cid]
    rig.connector.disarm()
    result = await rig.connector.submit(PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT,
                                                   qty_lots=4, client_order_id="grinder_s_BTCUSDT_1_1_99",
                                                   price_ticks=1))
    assert result.outcome is Outcome.BLOCKED and result.reason == "gate:armed"
    # Zero further orders reached the simulator after the first.
    assert [o.client_order_id for o in exchange_orders(rig.sim)] == [first]
    assert exchange_orders(rig.sim)[0].status is OrderStatus.NEW


async def test_no_feasible_quantity_is_refused_with_numbers(rig: Rig) -> None:
    with pytest.raises(ConnectorNonRetryableError) as info:
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("97000.00"))
    msg = str(info.value)
    assert "no BTCUSDT quantity fits between the exchange minimum notional 100 USDT and " \
           "max_notional_per_order=125 USDT at price 97000.00" in msg
    assert "0.002" in msg and "194.00" in msg and "raise max_notional_per_order to at least 194.00" in msg
    assert exchange_orders(rig.sim) == []


async def test_below_min_notional_and_over_cap_never_reach_the_exchange(rig: Rig) -> None:
    with pytest.raises(ConnectorNonRetryableError, match=r"below the exchange minimum 100 USDT \(Binance -4164\)"):
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("30000.00"),
                                        quantity=Decimal("0.001"))
    with pytest.raises(ConnectorNonRetryableError, match="exceeds max_notional_per_order=125"):
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("30000.00"),
                                        quantity=Decimal("0.005"))
    with pytest.raises(ConnectorNonRetryableError, match="not a multiple of BTCUSDT tickSize"):
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("30000.05"),
                                        quantity=Decimal("0.004"))
    assert exchange_orders(rig.sim) == []


async def test_exchange_rejection_maps_to_runbook_guidance(rig: Rig) -> None:
    rig.sim.control.set_faults(reject_rate=1.0, reject_code=-4164)
    with pytest.raises(ConnectorNonRetryableError) as info:
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=await far_buy_price(rig),
                                        quantity=Decimal("0.004"))
    assert info.value.code == -4164
    assert "Binance rejected it with -4164" in str(info.value)
    assert "Fix: increase quantity so that notional = price * quantity >= " in str(info.value)


def test_min_notional_and_auth_messages_follow_runbook() -> None:
    msg = explain_exchange_error("place_order", -4164, "Order's notional must be no smaller than 100 "
                                 "(unless you choose reduce only)")
    assert "-4164 Order's notional must be no smaller than 100" in msg and "notional = price * quantity" in msg
    msg = explain_exchange_error("place_order", -2015, "Invalid API-key, IP, or permissions for action.", 401)
    assert "Futures trading permission" in msg and "IP allowlist" in msg and "expired/revoked" in msg


async def test_auth_failure_gives_fix_and_never_leaks_secrets(
    sim_server_manual: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-value-that-must-not-leak"
    key = "wrong-api-key-value-0123456789"
    r = make_rig(sim_server_manual, api_key=key, api_secret=secret)
    await r.port.start()  # exchangeInfo is public
    try:
        with pytest.raises(ConnectorNonRetryableError) as info:
            await r.connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("30000.00"),
                                          quantity=Decimal("0.004"))
    finally:
        await r.connector.close()
    assert info.value.code == -2015
    assert "Futures trading permission" in str(info.value)
    ours = "\n".join(rec.getMessage() for rec in caplog.records if rec.name.startswith("grinder.connector")
                     or rec.name.startswith("grinder.binance"))
    for text in (str(info.value), repr(info.value), ours, repr(r.port), repr(r.port.http_client)):
        assert secret not in text and key not in text


async def test_successful_flow_logs_no_secret(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cid = await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=await far_buy_price(rig))
    await rig.connector.cancel_order(cid)
    ours = "\n".join(rec.getMessage() for rec in caplog.records if not rec.name.startswith("grinder.sim"))
    assert cid in ours
    assert rig.sim.api_secret not in ours and rig.sim.api_key not in ours


async def test_reads_positions_and_balance(rig: Rig) -> None:
    balance = await rig.connector.balance()
    assert balance.asset == "USDT" and balance.wallet_balance == Decimal("10000")
    assert await rig.connector.positions() == []


async def test_persistent_not_executed_failures_end_retryable_with_nothing_placed(rig: Rig) -> None:
    from grinder.connector import ConnectorRetryableError

    rig.sim.control.set_faults(unavailable_before_execute=1000)
    with pytest.raises(ConnectorRetryableError, match="not executed") as info:
        await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=await far_buy_price(rig),
                                        quantity=Decimal("0.004"))
    assert "retry later with client order id grinder_s_BTCUSDT_1_" in str(info.value)
    assert exchange_orders(rig.sim) == []


async def test_build_connector_from_loaded_config(sim_server_manual: SimServer) -> None:
    from grinder.config import build_section
    from grinder.connector import build_connector

    sim = sim_server_manual
    config = build_section("connector", LiveConnectorConfig,
                           {"mode": "live_trade", "armed": True, "max_notional_per_order": "150"}, {})
    client = BinanceRestClient(sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret)
    connector = build_connector(config, http_client=client,
                                port_config=BinanceFuturesPortConfig(base_url=sim.rest_url))
    await connector.connect()
    try:
        cid = await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("30000.00"))
        assert await connector.cancel_order(cid)
    finally:
        await connector.close()
    with pytest.raises(ValueError, match="strategy tag"):
        LiveConnectorConfig(strategy_tag="bad_tag")


async def test_post_only_and_second_symbol(rig: Rig) -> None:
    from grinder.core.enums import TimeInForce

    cid = await rig.connector.place_order(symbol="ETHUSDT", side=Side.SELL, time_in_force=TimeInForce.GTX,
                                          price=(await rig.connector.mid_price("ETHUSDT") * Decimal("1.04")
                                                 ).quantize(Decimal("0.01")))
    view = rig.sim.venue.get_order(symbol="ETHUSDT", client_order_id=cid)
    assert view.status is OrderStatus.NEW and view.time_in_force is TimeInForce.GTX and view.side is Side.SELL
    assert cid.startswith("grinder_s_ETHUSDT_1_")
    # A post-only BUY above the ask would take liquidity: the exchange refuses it (-5022).
    with pytest.raises(ConnectorNonRetryableError, match="-5022"):
        await rig.connector.place_order(symbol="ETHUSDT", side=Side.BUY, time_in_force=TimeInForce.GTX,
                                        price=(await rig.connector.mid_price("ETHUSDT") * Decimal("1.01")
                                               ).quantize(Decimal("0.01")), quantity=Decimal("0.010"))


async def test_unknown_outcome_on_amend_is_resolved_by_query(rig: Rig) -> None:
    price = await far_buy_price(rig)
    cid = await rig.connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=price, quantity=Decimal("0.004"))
    rig.sim.control.set_faults(unknown_after_execute=1)
    assert await rig.connector.replace_order(cid, price=price - Decimal("50")) == cid
    view = rig.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cid)
    rules = await rig.port.symbol_rules("BTCUSDT")
    assert rules.ticks_to_price(view.price_ticks) == price - Decimal("50") and view.modify_count == 1


async def test_retry_with_the_same_id_never_doubles_an_order(rig: Rig) -> None:
    """Engine re-submits the same command (e.g. after UNKNOWN); runbook caller retries with the same id."""
    rules = await rig.port.symbol_rules("BTCUSDT")
    price = await far_buy_price(rig)
    cmd = PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=4,
                     client_order_id=rig.connector.ids.next_id("BTCUSDT", "b1"), price_ticks=rules.price_to_ticks(price))
    first = await rig.connector.submit(cmd)
    second = await rig.connector.submit(cmd)  # -4116 duplicate → query → the same order
    assert first.outcome is second.outcome is Outcome.ACCEPTED and first.order_id == second.order_id
    cid = await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=price, quantity=Decimal("0.004"))
    again = await rig.connector.place_order(symbol="BTCUSDT", side="BUY", price=price, quantity=Decimal("0.004"),
                                            client_order_id=cid)
    assert again == cid
    assert sorted(o.client_order_id for o in exchange_orders(rig.sim)) == sorted([cmd.client_order_id, cid])
