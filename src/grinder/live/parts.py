"""What the live engine drives: the journal, feeds, reconciliation loop and HA lease it talks to,
and `EngineParts`, the bundle `grinder.live.wiring` (or a test / benchmark) builds them into."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from grinder.connector.live import LiveConnectorV0
from grinder.connector.port import ExchangePort
from grinder.core.commands import Command, CommandResult
from grinder.core.events import AccountUpdate, Fill, OrderUpdate
from grinder.core.rules import SymbolRules
from grinder.execution.pipeline import BlockedCommand, TradingPipeline
from grinder.live.config import EngineConfig
from grinder.live.startup import FillRecovery
from grinder.store import Journal as Store


class Journal(Protocol):
    """What the engine appends to the journal (grinder.live.journal adapts grinder.store)."""

    def record_command(self, cmd: Command, now_ms: int) -> None: ...

    def record_result(self, res: CommandResult, now_ms: int) -> None: ...

    def record_blocked(self, blocked: BlockedCommand) -> None: ...

    def record_fill(self, fill: Fill, now_ms: int) -> None: ...

    def record_recovered_fill(self, fill: Fill, now_ms: int) -> bool: ...

    def record_epoch(self, epoch_s: int, now_ms: int) -> None: ...

    def record_user_event(self, ev: OrderUpdate | AccountUpdate, now_ms: int) -> None: ...

    def open_order_ids(self) -> dict[str, str]: ...

    def batch(self) -> contextlib.AbstractContextManager[None]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Feed(Protocol):
    """A market or user-data stream."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Reconciliation(Protocol):
    """The reconciliation loop (`grinder.live.reconcile_loop`): started, stopped, asked for a pass."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    def request(self, why: str) -> None: ...

    async def recover_fills(self) -> int: ...


class Lease(Protocol):
    """The HA leader lease: `role` is "leader", "follower" or "standalone"."""

    @property
    def role(self) -> str: ...

    def write_permit(self) -> str | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class EngineParts:
    """Everything the engine drives, built by `grinder.live.wiring` (or a test / benchmark)."""

    config: EngineConfig
    rules: Mapping[str, SymbolRules]
    port: ExchangePort
    connector: LiveConnectorV0
    pipeline: TradingPipeline
    journal: Journal
    market_feed: Feed
    user_feed: Feed
    market_connected: Callable[[], bool]
    user_connected: Callable[[], bool]
    lease: Lease | None = None
    want_armed: bool = False
    recovery: FillRecovery | None = None  # journals fills missed while we were down
    trip_store: Store | None = None  # where the loss-limit trip state is journaled (ADR-102)
    exchange_block: Callable[[], str | None] | None = None  # why the exchange refuses us now (418/429)
    poll_user_events: Callable[[], None] | None = None  # PAPER: deliver the venue's order/account events
    on_close: Sequence[Callable[[], Awaitable[None] | None]] = field(default_factory=tuple)
