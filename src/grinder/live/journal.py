"""The engine's view of the journal: what it appends while trading and what it reads at start-up.

A thin adapter over `grinder.store.Journal` (SQLite, WAL, append-only). Several commands from one
market event are appended in one transaction; a command is journaled before it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from grinder.core.clock import WallClock
from grinder.core.commands import Command, CommandResult
from grinder.core.events import AccountUpdate, Fill, OrderUpdate
from grinder.execution.pipeline import BlockedCommand
from grinder.store import Journal, StoreConfig

log = logging.getLogger(__name__)


class EngineJournal:
    """Appends commands, answers, order updates, fills, positions and blocks to the store journal."""

    def __init__(self, journal: Journal) -> None:
        self.store = journal
        self._closed = False

    @contextmanager
    def batch(self) -> Iterator[None]:
        with self.store.batch():
            yield

    def record_command(self, cmd: Command, now_ms: int) -> None:
        self.store.append_command(cmd, now_ms)

    def record_result(self, res: CommandResult, now_ms: int) -> None:
        self.store.append_result(res, now_ms)

    def record_blocked(self, blocked: BlockedCommand) -> None:
        self.store.append_block(blocked.command, blocked.reason, blocked.time_ms, source="risk")

    def record_fill(self, fill: Fill, now_ms: int) -> None:
        self.store.append_fill(fill, now_ms)

    def record_recovered_fill(self, fill: Fill, now_ms: int) -> bool:
        """True when the fill was new to the journal (appended), False when already there."""
        return self.store.append_fill(fill, now_ms)

    def record_user_event(self, ev: OrderUpdate | AccountUpdate, now_ms: int) -> None:
        if isinstance(ev, OrderUpdate):
            self.store.append_order_update(ev, now_ms)
            return
        with self.store.batch():
            for pos in ev.positions:
                self.store.append_position(
                    pos.symbol, pos.amount_lots, now_ms, reason=f"ACCOUNT_UPDATE:{ev.reason}",
                    entry_price=pos.entry_price, position_side=pos.position_side,
                )

    def open_order_ids(self) -> dict[str, str]:
        """client order id → symbol of every order the journal believes may still be open."""
        return {o.client_order_id: o.symbol for o in self.store.open_orders()}

    def last_fill_ms(self, symbol: str) -> int | None:
        fills = self.store.fills(symbol)
        return max((f.time_ms for f in fills), default=None)

    def has_fill(self, symbol: str, trade_id: int, client_order_id: str) -> bool:
        return (symbol, trade_id, client_order_id) in self.store.fill_keys()

    def flush(self) -> None:
        """Each append is already committed; checkpoint the WAL so the main file is complete."""
        if not self._closed:
            self.store.pragma("wal_checkpoint")

    def close(self) -> None:
        if not self._closed:
            self.store.close()
            self._closed = True


def open_journal(config: StoreConfig | None) -> tuple[EngineJournal, int]:
    """Open (or create) the journal and register this process's client-id epoch (unique across restarts)."""
    cfg = config or StoreConfig()
    store = Journal(cfg.journal_path, synchronous=cfg.synchronous, busy_timeout_ms=cfg.busy_timeout_ms)
    now_ms = WallClock().now_ms()
    epoch = store.next_epoch(now_ms // 1000)
    store.append_epoch(epoch, now_ms)
    log.info("journal opened path=%s epoch=%d", cfg.journal_path, epoch)
    return EngineJournal(store), epoch


def journal_fills(path: str | Path) -> list[dict[str, Any]]:
    """Every fill in a journal file as plain values (demo check, tests, reports)."""
    store = Journal(path)
    try:
        return [
            {"symbol": f.symbol, "trade_id": f.trade_id, "client_order_id": f.client_order_id,
             "order_id": f.order_id, "side": f.side.value, "price_ticks": f.price_ticks,
             "qty_lots": f.qty_lots, "time_ms": f.time_ms}
            for f in store.fills()
        ]
    finally:
        store.close()
