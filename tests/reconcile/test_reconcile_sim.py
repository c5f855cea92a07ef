"""Reconciliation and gated remediation against the simulator (real loopback sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from grinder.binance.rest import BinanceRestClient
from grinder.connector import (
    BinanceFuturesPort,
    BinanceFuturesPortConfig,
    LiveConnectorConfig,
    LiveConnectorV0,
    SafeMode,
)
from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, Side, TimeInForce
from grinder.reconcile import (
    ActionKind,
    ActionOutcome,
    ExpectedOrder,
    ExpectedState,
    MismatchKind,
    ReconcileConfig,
    Reconciler,
)
from grinder.sim.server import SimServer

pytestmark = pytest.mark.integration
FOREIGN = "web_manual_order_42"


@pytest.fixture
async def world(
    sim_server_manual: SimServer,
) -> AsyncIterator[tuple[SimServer, LiveConnectorV0, BinanceRestClient]]:
    sim = sim_server_manual
    client = BinanceRestClient(
        sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret, retry_backoff_s=0.0
    )
    port = BinanceFuturesPort(
        config=BinanceFuturesPortConfig(base_url=sim.rest_url, retry_backoff_s=0.0), http_client=client
    )
    connector = LiveConnectorV0(
        LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port), environ={}
    )
    await connector.connect()
    # Someone else's resting order (no grinder_ prefix) and a stray long position made by hand.
    manual = BinanceRestClient(sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret)
    rules = await port.symbol_rules("BTCUSDT")
    mid = await connector.mid_price("BTCUSDT")
    await manual.new_order(
        PlaceOrder(
            symbol="BTCUSDT",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            qty_lots=4,
            client_order_id=FOREIGN,
            price_ticks=rules.floor_ticks(mid / 2),
            time_in_force=TimeInForce.GTC,
        ),
        rules,
    )
    await manual.new_order(
        PlaceOrder(
            symbol="BTCUSDT",
            side=Side.BUY,
            order_type=OrderType.MARKET,
            qty_lots=2,
            client_order_id="manual_market_1",
            time_in_force=None,
        ),
        rules,
    )
    await manual.close()
    yield sim, connector, client
    await connector.close()


async def test_report_only_by_default(world: tuple[SimServer, LiveConnectorV0, BinanceRestClient]) -> None:
    sim, connector, _ = world
    ours = await connector.place_order(
        symbol="BTCUSDT", side="BUY", price=(await connector.mid_price("BTCUSDT") / 2).quantize(Decimal("1"))
    )
    report = await Reconciler(connector).run_once(ExpectedState())
    kinds = sorted((m.kind.value, m.client_order_id, m.ours) for m in report.mismatches)
    assert kinds == sorted(
        [
            (MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE.value, ours, True),
            (MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE.value, FOREIGN, False),
            (MismatchKind.POSITION_MISMATCH.value, "", True),
        ]
    )
    assert [(a.action.kind, a.outcome, a.detail) for a in report.actions] == [
        (
            ActionKind.CANCEL_ORDER,
            ActionOutcome.SKIPPED,
            "remediation disabled (reconcile.remediation_enabled=false)",
        ),
        (ActionKind.FLATTEN_POSITION, ActionOutcome.SKIPPED, "reconcile.flatten_enabled=false"),
    ]
    assert len(sim.venue.open_orders("BTCUSDT")) == 2


async def test_remediation_cancels_ours_flattens_and_leaves_foreign(
    world: tuple[SimServer, LiveConnectorV0, BinanceRestClient],
) -> None:
    sim, connector, _ = world
    ours = await connector.place_order(
        symbol="BTCUSDT", side="BUY", price=(await connector.mid_price("BTCUSDT") / 2).quantize(Decimal("1"))
    )
    expected_known = ExpectedState.build(
        [ExpectedOrder("BTCUSDT", "grinder_s_BTCUSDT_b9_1_1", Side.BUY, 1, 1)]
    )
    config = ReconcileConfig(remediation_enabled=True, flatten_enabled=True)
    report = await Reconciler(connector, config).run_once(expected_known)
    assert MismatchKind.ORDER_MISSING_ON_EXCHANGE in {m.kind for m in report.mismatches}
    outcomes = sorted((a.action.kind.value, a.outcome.value) for a in report.actions)
    assert outcomes == [("cancel_order", "done"), ("flatten_position", "done")]
    assert sim.venue.get_order(symbol="BTCUSDT", client_order_id=ours).status is OrderStatus.CANCELED
    assert sim.venue.get_order(symbol="BTCUSDT", client_order_id=FOREIGN).status is OrderStatus.NEW
    assert [p.amount_lots for p in sim.venue.positions("BTCUSDT") if p.amount_lots] == []
    flatten = [o for o in sim.venue.all_orders("BTCUSDT") if "_rf_" in o.client_order_id]
    assert len(flatten) == 1 and flatten[0].reduce_only and flatten[0].order_type is OrderType.MARKET
    assert flatten[0].side is Side.SELL
    # A second pass finds only the foreign order (and the missing one we still claim).
    again = await Reconciler(connector, config).run_once(expected_known)
    assert {(m.kind, m.client_order_id) for m in again.mismatches} == {
        (MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE, FOREIGN),
        (MismatchKind.ORDER_MISSING_ON_EXCHANGE, "grinder_s_BTCUSDT_b9_1_1"),
    }
    assert again.actions == []


async def test_remediation_goes_through_the_gates(
    world: tuple[SimServer, LiveConnectorV0, BinanceRestClient],
) -> None:
    sim, connector, _ = world
    ours = await connector.place_order(
        symbol="BTCUSDT", side="BUY", price=(await connector.mid_price("BTCUSDT") / 2).quantize(Decimal("1"))
    )
    before = len(sim.venue.all_orders("BTCUSDT"))
    connector.disarm()
    config = ReconcileConfig(remediation_enabled=True, flatten_enabled=True)
    report = await Reconciler(connector, config).run_once(ExpectedState())
    assert sorted((a.action.kind.value, a.outcome.value, a.detail) for a in report.actions) == [
        ("cancel_order", "blocked", "gate:armed"),
        ("flatten_position", "blocked", "gate:armed"),
    ]
    assert sim.venue.get_order(symbol="BTCUSDT", client_order_id=ours).status is OrderStatus.NEW
    assert len(sim.venue.all_orders("BTCUSDT")) == before
