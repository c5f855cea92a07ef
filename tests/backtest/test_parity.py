"""Parity: the live engine (LiveEngine → LiveConnectorV0 → PaperPort → Venue) and the backtester,
fed the same events on the same virtual clock, send the same order commands.

The live side runs the real `grinder.live.LiveEngine` in PAPER mode, armed, with a real SQLite
journal; the test only plays the part of the network: it hands each market event to the paper
venue and to the engine's market callback, lets the engine's order tasks run, and delivers the
venue's user-data events to the engine's user callback. (The full "live engine over loopback
against the simulator replaying a file" parity belongs to the engine/simulator tests.)
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from grinder.backtest.engine import Backtest
from grinder.connector.config import LiveConnectorConfig
from grinder.connector.live import LiveConnectorV0
from grinder.connector.paper import PaperPort
from grinder.core.clock import VirtualClock
from grinder.core.commands import Command
from grinder.core.enums import SafeMode
from grinder.core.events import BookTicker, Trade
from grinder.core.ids import ClientOrderIdFactory
from grinder.data import Tape
from grinder.execution.pipeline import TradingPipeline
from grinder.live.config import EngineConfig
from grinder.live.engine import LiveEngine
from grinder.live.journal import EngineJournal
from grinder.live.parts import EngineParts
from grinder.store import Journal
from grinder.strategy import grid_factory
from grinder.venue import Venue
from tests.backtest.conftest import reference_run_configs


class _WatchedJournal(EngineJournal):
    """The real journal, also keeping the commands in order for the comparison."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(journal)
        self.commands: list[tuple[int, Command]] = []

    def record_command(self, cmd: Command, now_ms: int) -> None:
        super().record_command(cmd, now_ms)
        self.commands.append((now_ms, cmd))


class _Wire:
    """Stands where the WebSocket feeds would be: started and stopped by the engine, nothing more."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def _settle(engine: LiveEngine) -> None:
    for _ in range(1000):
        await asyncio.sleep(0)
        if not engine._pending and not engine.dispatcher.inflight and not engine._drain_scheduled:
            return
    raise AssertionError("engine did not settle")


async def test_live_engine_and_backtester_send_the_same_commands(synth_tape: Tape, tmp_path: Path) -> None:
    tape = synth_tape.slice(25_000)
    cfg = reference_run_configs()
    bt = Backtest(tape, **cfg)
    log = bt.run()
    assert len(log.fills) > 0

    rules = dict(zip(tape.symbols, tape.rules, strict=True))
    start_ms = int(tape.time_ms[0])
    clock = VirtualClock.from_ms(start_ms)
    venue = Venue(cfg["venue_config"], rules)
    paper = PaperPort(venue, clock)
    conn = LiveConnectorV0(
        LiveConnectorConfig(
            mode=SafeMode.PAPER,
            armed=True,
            paper_port=paper,
            symbols=tape.symbols,
            max_notional_per_order=Decimal("1e12"),
        ),
        clock=clock,
    )
    await conn.connect()
    ids = ClientOrderIdFactory(cfg["backtest_config"].strategy_tag, start_ms // 1000)
    pipeline = TradingPipeline(
        rules, cfg["strategy_config"], cfg["risk_config"], cfg["execution_config"], ids,
        strategy_factory=grid_factory,
    )
    journal = _WatchedJournal(Journal(tmp_path / "journal.sqlite"))
    parts = EngineParts(
        config=EngineConfig(symbols=tape.symbols),
        rules=rules,
        port=paper,
        connector=conn,
        pipeline=pipeline,
        journal=journal,
        market_feed=_Wire(),
        user_feed=_Wire(),
        market_connected=lambda: True,
        user_connected=lambda: True,
        want_armed=True,
    )
    engine = LiveEngine(parts, clock=clock)
    await engine.start()
    for ev in tape.events():
        clock.set_ms(ev.transaction_time_ms if isinstance(ev, BookTicker) else ev.trade_time_ms)  # type: ignore[union-attr]
        if isinstance(ev, BookTicker):
            paper.on_book_ticker(ev)
        elif isinstance(ev, Trade):
            paper.on_trade(ev)
        for uev in paper.drain_events():
            engine.on_user_event(uev)
        engine.on_market_event(ev)  # type: ignore[arg-type]
        await _settle(engine)
        for uev in paper.drain_events():
            engine.on_user_event(uev)
    journal.store.close()

    live = [(t, c) for t, c in journal.commands]
    backtest = [(c.time_ms, c.command) for c in log.commands]
    assert len(backtest) > 50
    assert live == backtest
