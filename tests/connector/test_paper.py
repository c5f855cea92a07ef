"""PAPER mode: LiveConnectorV0 → PaperPort → the in-process venue model fed with market data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.connector import (
    ConnectorNonRetryableError,
    LiveConnectorConfig,
    LiveConnectorV0,
    PaperPort,
    SafeMode,
)
from grinder.core.clock import VirtualClock
from grinder.core.commands import CancelOrder, Outcome
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, Side
from grinder.core.events import BookTicker, OrderUpdate
from grinder.core.rules import btcusdt_rules
from grinder.venue import Venue, VenueConfig

RULES = btcusdt_rules()


def quote(clock: VirtualClock, bid: str, ask: str, uid: int) -> BookTicker:
    return BookTicker(symbol="BTCUSDT", bid_ticks=RULES.price_to_ticks(bid), bid_lots=1000,
                      ask_ticks=RULES.price_to_ticks(ask), ask_lots=1000, update_id=uid,
                      event_time_ms=clock.now_ms(), transaction_time_ms=clock.now_ms())


@pytest.fixture
def paper() -> tuple[LiveConnectorV0, PaperPort, VirtualClock]:
    clock = VirtualClock.from_ms(1_700_000_000_000)
    port = PaperPort(Venue(VenueConfig(fill_model="touch"), {"BTCUSDT": RULES}), clock)
    port.on_book_ticker(quote(clock, "60000.00", "60000.10", 1))
    connector = LiveConnectorV0(LiveConnectorConfig(mode=SafeMode.PAPER, armed=True, paper_port=port),
                                clock=clock, environ={})
    return connector, port, clock


async def test_paper_place_fill_and_events(paper: tuple[LiveConnectorV0, PaperPort, VirtualClock]) -> None:
    connector, port, clock = paper
    assert not port.is_mainnet
    assert await connector.mid_price("BTCUSDT") == Decimal("60000.05")
    cid = await connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=Decimal("59990.00"))
    state = await connector.query_order("BTCUSDT", cid)
    assert state is not None and state.status is OrderStatus.NEW
    assert RULES.lots_to_qty(state.orig_lots) == Decimal("0.002")  # smallest step multiple ≥ 100 USDT
    clock.advance_ms(10)
    port.on_book_ticker(quote(clock, "59980.00", "59985.00", 2))  # the market trades through our bid
    state = await connector.query_order("BTCUSDT", cid)
    assert state is not None and state.status is OrderStatus.FILLED
    positions = await connector.positions()
    assert [(p.symbol, p.amount_lots) for p in positions] == [("BTCUSDT", 2)]
    events = [e for e in port.drain_events() if isinstance(e, OrderUpdate)]
    assert [e.execution_type for e in events] == [ExecutionType.NEW, ExecutionType.TRADE]
    assert (await connector.balance()).asset == "USDT"


async def test_paper_cancel_and_rejects(paper: tuple[LiveConnectorV0, PaperPort, VirtualClock]) -> None:
    connector, _, _ = paper
    cid = await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("50000.00"))
    assert await connector.cancel_order(cid) is True
    assert [o.client_order_id for o in await connector.open_orders()] == []
    result = await connector.submit(CancelOrder(symbol="BTCUSDT", client_order_id=cid))
    assert result.outcome is Outcome.REJECTED and result.code == -2011
    with pytest.raises(ConnectorNonRetryableError, match="-2011"):
        await connector.cancel_order(cid)
    assert await connector.query_order("BTCUSDT", "grinder_s_BTCUSDT_1_1_404") is None


async def test_paper_reduce_only_market_flatten(paper: tuple[LiveConnectorV0, PaperPort, VirtualClock]) -> None:
    connector, _, _ = paper
    await connector.place_order(symbol="BTCUSDT", side="BUY", price=None, quantity=Decimal("0.002"),
                                order_type=OrderType.MARKET)
    assert [p.amount_lots for p in await connector.positions()] == [2]
    await connector.place_order(symbol="BTCUSDT", side="SELL", price=None, quantity=Decimal("0.002"),
                                order_type=OrderType.MARKET, reduce_only=True)
    assert await connector.positions() == []


async def test_paper_never_needs_allow_mainnet_or_futures_port(
    paper: tuple[LiveConnectorV0, PaperPort, VirtualClock],
) -> None:
    connector, port, _ = paper
    assert connector.config.futures_port is None
    await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("50000.00"))
    connector.set_mode(SafeMode.LIVE_TRADE)  # no futures port, no env: blocked, nothing written
    with pytest.raises(ConnectorNonRetryableError, match="ALLOW_MAINNET_TRADE=1 not set"):
        await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("50000.00"))
    assert len(port.venue.open_orders("BTCUSDT")) == 1
    with pytest.raises(ConnectorNonRetryableError, match="no port configured for mode LIVE_TRADE"):
        await connector.open_orders()


async def test_symbol_not_in_config_is_refused(paper: tuple[LiveConnectorV0, PaperPort, VirtualClock]) -> None:
    connector, _, _ = paper
    connector.config.symbols = ("ETHUSDT",)
    with pytest.raises(ConnectorNonRetryableError, match=r"BTCUSDT is not in LiveConnectorConfig\.symbols"):
        await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("50000.00"))


async def test_the_symbol_allow_list_holds_for_cancels_and_reduce_only_too(
    paper: tuple[LiveConnectorV0, PaperPort, VirtualClock],
) -> None:
    """`[connector] symbols` is the write allow-list for every write (issue 12, item 7)."""
    connector, port, _ = paper
    cid = await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("50000.00"))
    await connector.place_order(symbol="BTCUSDT", side="BUY", price=None, quantity=Decimal("0.002"),
                                order_type=OrderType.MARKET)
    connector.config.symbols = ("ETHUSDT",)
    with pytest.raises(ConnectorNonRetryableError, match=r"BTCUSDT is not in LiveConnectorConfig\.symbols"):
        await connector.cancel_order(cid, "BTCUSDT")
    with pytest.raises(ConnectorNonRetryableError, match=r"BTCUSDT is not in LiveConnectorConfig\.symbols"):
        await connector.place_order(symbol="BTCUSDT", side="SELL", price=None, quantity=Decimal("0.002"),
                                    order_type=OrderType.MARKET, reduce_only=True)
    assert [o.client_order_id for o in await port.open_orders("BTCUSDT")] == [cid]
    assert [p.amount_lots for p in await connector.positions()] == [2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"price": 50000.0}, "price 50000.0 must be a Decimal or a decimal string, not float"),
        ({"price": Decimal("50000.05")}, "price 50000.05 is not a multiple of BTCUSDT tickSize 0.10. Fix: round it, e.g. 50000.00"),
        ({"price": "abc"}, "price 'abc' is not a decimal number"),
        ({"price": Decimal("-1")}, "price must be positive"),
        ({"price": Decimal("50000"), "quantity": Decimal("0.0025")}, "quantity 0.0025 is not a multiple of BTCUSDT stepSize 0.001"),
        ({"price": Decimal("50000"), "quantity": 0.003}, "quantity 0.003 must be a Decimal"),
        ({"price": Decimal("50000"), "side": "long"}, "side 'long' is not BUY or SELL"),
        ({"price": None}, "a LIMIT order needs a price"),
    ],
)
async def test_bad_input_is_refused_with_a_clear_message_and_nothing_sent(
    paper: tuple[LiveConnectorV0, PaperPort, VirtualClock], kwargs: dict, message: str
) -> None:
    connector, port, _ = paper
    args = {"symbol": "BTCUSDT", "side": "BUY", **kwargs}
    with pytest.raises(ConnectorNonRetryableError) as info:
        await connector.place_order(**args)
    assert message in str(info.value)
    assert str(info.value).startswith("Cannot place_order: ")
    assert port.venue.open_orders("BTCUSDT") == []


async def test_lowercase_side_is_accepted(paper: tuple[LiveConnectorV0, PaperPort, VirtualClock]) -> None:
    connector, port, _ = paper
    await connector.place_order(symbol="BTCUSDT", side="buy", price=Decimal("50000.00"))
    assert [o.side for o in port.venue.open_orders("BTCUSDT")] == [Side.BUY]
