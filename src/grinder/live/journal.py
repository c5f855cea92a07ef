"""The engine's view of the journal: what it appends while trading and what it reads at start-up.

A thin adapter over `grinder.store.Journal` (SQLite, WAL, append-only). Several commands from one
market event are appended in one transaction; a command is journaled before it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from grinder.connector.port import OrderState
from grinder.core.clock import WallClock
from grinder.core.commands import Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, Side
from grinder.core.errors import ErrorCode
from grinder.core.events import AccountUpdate, Fill, OrderUpdate
from grinder.execution.pipeline import BlockedCommand
from grinder.store import Journal, StoreConfig

log = logging.getLogger(__name__)

_EXECUTION_OF = {OrderStatus.CANCELED: ExecutionType.CANCELED, OrderStatus.EXPIRED: ExecutionType.EXPIRED}


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

    def record_epoch(self, epoch_s: int, now_ms: int) -> None:
        """A new client-id epoch (a new HA leadership term), above every earlier one."""
        self.store.append_epoch(max(epoch_s, self.store.next_epoch(now_ms // 1000)), now_ms)

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

    def record_resolution(
        self, symbol: str, client_order_id: str, state: OrderState | None, now_ms: int
    ) -> None:
        """What a start-up query found about an order the journal believed open: its final state (as
        an order update), or that the exchange never had it (a -2013 place result). Either way the
        journal stops believing it open, so the next start does not ask again."""
        if state is not None:
            execution = _EXECUTION_OF.get(state.status, ExecutionType.CALCULATED)
            at_ms = state.update_time_ms or now_ms
            self.store.append_order_update(OrderUpdate(
                symbol=symbol, order_id=state.order_id, client_order_id=client_order_id, side=state.side,
                order_type=state.order_type, time_in_force=state.time_in_force,
                position_side=state.position_side, reduce_only=state.reduce_only,
                price_ticks=state.price_ticks, orig_qty_lots=state.orig_lots, execution_type=execution,
                status=state.status, last_fill_lots=0, last_fill_price_ticks=0,
                cum_filled_lots=state.executed_lots, avg_price=Decimal(0), commission=Decimal(0),
                commission_asset="", realized_pnl=Decimal(0), is_maker=False, trade_id=0,
                event_time_ms=at_ms, transaction_time_ms=at_ms,
            ), now_ms)
            return
        cmd = PlaceOrder(symbol=symbol, side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=1,
                         client_order_id=client_order_id, price_ticks=1)
        self.store.append_result(CommandResult(cmd, Outcome.REJECTED, code=ErrorCode.NO_SUCH_ORDER,
                                               reason="not known to the exchange at start-up"), now_ms)

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
