"""Start-up truth with the engine's own start-up code (`grinder.live.startup`) over the paper venue:
missed fills resume from the last trade id journaled before the user stream started (never from the
newest timestamp), are de-duplicated by (symbol, trade id), and a flat exchange means position 0."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from grinder.connector.paper import PaperPort
from grinder.core.clock import VirtualClock
from grinder.core.commands import Outcome, PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.events import BookTicker, Fill, OrderUpdate, Trade
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, TradingPipeline
from grinder.live.startup import FillRecovery, apply_positions
from grinder.live.state import SymbolView
from grinder.risk import RiskConfig
from grinder.store import Journal
from grinder.strategy import StrategyConfig, grid_factory
from grinder.venue import Venue
from grinder.venue.config import VenueConfig

SYM = "BTCUSDT"
RULES = btcusdt_rules("100")
T0 = 1_700_000_000_000


async def three_fills(port: PaperPort, clock: VirtualClock) -> list[Fill]:
    """Three bids filled one after another: trade ids 1, 2, 3 on the exchange."""
    port.on_book_ticker(BookTicker(SYM, 600_000, 50, 600_002, 50, 1, T0, T0))
    ids = ClientOrderIdFactory("t", T0 // 1000)
    fills: list[Fill] = []
    for i, price in enumerate((599_990, 599_980, 599_970)):
        cmd = PlaceOrder(symbol=SYM, side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=2,
                         client_order_id=ids.next_id(SYM, f"b{i}"), price_ticks=price, time_in_force=TimeInForce.GTC)
        assert (await port.submit(cmd)).outcome is Outcome.ACCEPTED
    for n, price in enumerate((599_990, 599_980, 599_970), start=1):
        clock.advance_ms(1000)
        port.on_trade(Trade(SYM, n, price, 5, True, clock.now_ms(), clock.now_ms()))
        fills += [Fill.from_order_update(ev) for ev in port.drain_events() if isinstance(ev, OrderUpdate) and ev.is_fill]
    assert [f.trade_id for f in fills] == [1, 2, 3]
    return fills


async def test_recovery_resumes_from_the_trade_id_marked_before_the_stream_wrote(tmp_path: Path) -> None:
    clock = VirtualClock.from_ms(T0)
    port = PaperPort(Venue(VenueConfig(fill_model="touch"), {SYM: RULES}), clock)
    fills = await three_fills(port, clock)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.append_fill(fills[0], T0)  # journaled before the crash
    recovery = FillRecovery(port, journal, [SYM])
    recovery.mark()  # start-up, before the new user stream runs
    journal.append_fill(fills[2], clock.now_ms())  # the new stream journals a NEWER fill first
    assert await recovery.recover(clock.now_ms()) == 1  # trade 2: after trade 1, though older than 3
    assert sorted(f.trade_id for f in journal.fills(SYM)) == [1, 2, 3]
    assert await FillRecovery(port, journal, [SYM]).recover(clock.now_ms()) == 0  # de-duplicated
    journal.close()


def test_a_flat_exchange_sets_every_symbol_to_zero() -> None:
    pipe = TradingPipeline({SYM: RULES}, StrategyConfig.reference(), RiskConfig(), ExecutionConfig(),
                           ClientOrderIdFactory("t", 1), strategy_factory=grid_factory)
    view = SymbolView(SYM, RULES)
    pipe.set_position(SYM, -37)  # e.g. fills the new stream delivered before the snapshot
    view.set_position(-37, Decimal("60000"))
    apply_positions({SYM: view}, pipe, {})  # the exchange lists no position: flat
    assert pipe.position_lots(SYM) == 0 and view.position_lots == 0
