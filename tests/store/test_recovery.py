"""Restart recovery end to end: pipeline + journal against the in-process venue (the real matching engine).

Runs the reference grid over a seeded random market through PaperPort, journals every command,
answer, fill, position change and block, "crashes" half-way (the dead process's last user-stream
events are lost, so fills are missing from the journal), rebuilds a new pipeline with the live
engine's own start-up code (`grinder.live.startup`: fills recovered by trade id, fill keys seeded,
orders and positions from the exchange, zero included), and keeps trading. Checked throughout: one open order per level on the
exchange, the pipeline's position equals the exchange's and stays under its cap, client ids never
repeat across the restart, and the journal's fills equal the exchange's trades.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from grinder.connector.paper import PaperPort
from grinder.core.clock import VirtualClock
from grinder.core.events import AccountUpdate, BookTicker, OrderUpdate, Trade
from grinder.core.ids import ClientOrderIdFactory, parse_client_order_id
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, TradingPipeline
from grinder.live.startup import FillRecovery, apply_positions, working_order_from_exchange
from grinder.live.state import SymbolView
from grinder.risk import RiskConfig
from grinder.store import Journal
from grinder.strategy import StrategyConfig, grid_factory
from grinder.venue import Venue
from grinder.venue.config import VenueConfig

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"
RULES = btcusdt_rules("100")
RISK = RiskConfig(
    max_notional_per_order=Decimal("600"),
    max_position_notional=Decimal("2000"),
    max_total_position_notional=Decimal("4000"),
)
T0 = 1_700_000_000_000


class Harness:
    def __init__(self, journal: Journal, port: PaperPort, clock: VirtualClock) -> None:
        self.journal, self.port, self.clock = journal, port, clock
        self.pipe: TradingPipeline | None = None
        self.recovered = 0

    async def start(self, restore: bool) -> None:
        now_ms = self.clock.now_ms()
        epoch = self.journal.next_epoch(now_ms // 1000)
        self.journal.append_epoch(epoch, now_ms)
        pipe = TradingPipeline(
            {SYM: RULES},
            StrategyConfig.reference(),
            RISK,
            ExecutionConfig(),
            ClientOrderIdFactory("grid", epoch),
            strategy_factory=grid_factory,
        )
        venue = self.port.venue
        pipe.on_wallet_balance(venue.balance().wallet_balance, now_ms)
        if restore:
            # What `grinder.live.startup` runs: adopt our orders as the exchange lists them, journal
            # the missed fills by trade id, seed the fill keys, take every position (zero included).
            on_exchange = await self.port.open_orders(SYM)
            believed = {o.client_order_id for o in self.journal.open_orders()}
            assert {o.client_order_id for o in on_exchange} <= believed
            pipe.restore_orders(working_order_from_exchange(o) for o in on_exchange)
            recovery = FillRecovery(self.port, self.journal, [SYM])
            self.recovered = await recovery.recover(now_ms)
            pipe.seed_fill_keys(recovery.fill_keys())
            positions = {p.symbol: p for p in await self.port.positions()}
            apply_positions({SYM: SymbolView(SYM, RULES)}, pipe, positions)
        self.pipe = pipe

    def drain(self) -> None:
        assert self.pipe is not None
        now = self.clock.now_ms()
        for ev in self.port.drain_events():
            if isinstance(ev, OrderUpdate):
                self.journal.append_order_update(ev, now)
            fill = self.pipe.on_user_event(ev)
            if fill is not None:
                self.journal.append_fill(fill, now)
                self.journal.append_position(SYM, self.pipe.position_lots(SYM), now, reason="FILL")
            if isinstance(ev, AccountUpdate):
                for p in ev.positions:
                    self.journal.append_position(
                        p.symbol,
                        p.amount_lots,
                        now,
                        reason=f"ACCOUNT_UPDATE:{ev.reason}",
                        entry_price=p.entry_price,
                    )

    async def step(self, ev: BookTicker, trade: Trade | None) -> None:
        assert self.pipe is not None
        now = self.clock.now_ms()
        self.port.on_book_ticker(ev)
        if trade is not None:
            self.port.on_trade(trade)
        self.drain()
        for cmd in self.pipe.on_market_event(ev, now):
            self.journal.append_command(cmd, now)
            res = await self.port.submit(cmd)
            self.journal.append_result(res, now)
            self.pipe.on_result(res)
            self.drain()
        for b in self.pipe.take_blocked():
            self.journal.append_block(b.command, b.reason, b.time_ms)
        self.pipe.take_fills()


def check_invariants(h: Harness, min_mid: int) -> None:
    assert h.pipe is not None
    venue = h.port.venue
    levels = []
    for o in venue.open_orders(SYM):
        parsed = parse_client_order_id(o.client_order_id)
        assert parsed is not None
        levels.append(parsed.level)
    assert len(levels) == len(set(levels)), f"two open orders on one level: {sorted(levels)}"
    venue_pos = sum(p.amount_lots for p in venue.positions(SYM))
    assert h.pipe.position_lots(SYM) == venue_pos
    cap_lots = RISK.max_position_notional / (RULES.tick_size * RULES.step_size) / min_mid
    assert abs(venue_pos) <= cap_lots


async def test_trade_crash_recover_and_trade_on(tmp_path: Path) -> None:
    rng = random.Random(7)
    clock = VirtualClock.from_ms(T0)
    port = PaperPort(Venue(VenueConfig(fill_model="touch"), {SYM: RULES}), clock)
    journal = Journal(tmp_path / "journal.sqlite3")
    h = Harness(journal, port, clock)
    await h.start(restore=False)
    mid, min_mid, tid = 500_000, 500_000, 0
    for step in range(600):
        if step == 300:  # crash: the pipeline's memory is gone, the journal file is reopened
            # The market runs through our bids while the process is dying: fills nobody journals.
            now = clock.now_ms()
            bids = [o.price_ticks for o in port.venue.open_orders(SYM) if o.side.value == "BUY"]
            tid += 1
            port.on_trade(Trade(SYM, tid, min(bids), 500, True, now, now))
            lost = [ev for ev in port.drain_events() if isinstance(ev, OrderUpdate) and ev.is_fill]
            assert lost, "the crash scenario must lose fills"
            journal.close()
            journal = Journal(tmp_path / "journal.sqlite3")
            h.journal = journal
            await h.start(restore=True)
            assert h.recovered == len(lost)
        clock.advance_ms(1000)  # a new second each step: the restarted epoch must still be unique
        now = clock.now_ms()
        mid += rng.randint(-160, 160)
        min_mid = min(min_mid, mid - 200)
        trade = None
        if rng.random() < 0.5:
            tid += 1
            px = mid + rng.choice((-200, 200))
            trade = Trade(SYM, tid, px, 50, px < mid, now, now)
        await h.step(BookTicker(SYM, mid - 1, 20, mid + 1, 20, step, now, now), trade)
        check_invariants(h, min_mid)
    places = [c.client_order_id for c in journal.commands() if c.kind == "place"]
    assert len(places) == len(set(places)) > 20
    assert journal.last_epoch() == T0 // 1000 + 300
    venue_trades = sorted((t.trade_id, t.qty_lots) for t in port.venue.user_trades(SYM))
    journal_fills = sorted((f.trade_id, f.qty_lots) for f in journal.fills(SYM))
    assert journal_fills == venue_trades and len(venue_trades) > 5
    assert any(b.reason == "MAX_POSITION" for b in journal.blocks())  # the cap was reached
    journal.close()
