"""`ExchangePort`: the one interface every write and account read goes through, live or paper.

Implemented by `BinanceFuturesPort` (the wire) and `PaperPort` (the in-process venue model). The
engine speaks integer commands (`submit(PlaceOrder | CancelOrder | AmendOrder) -> CommandResult`);
reads return the small frozen states below, in ticks and lots. A port never raises for an exchange
outcome on `submit`: every write ends as ACCEPTED, REJECTED, BLOCKED or UNKNOWN.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from grinder.core.commands import Command, CommandResult
from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import Fill
from grinder.core.rules import SymbolRules


class OrderState(msgspec.Struct, frozen=True, gc=False):
    """One order as the exchange reports it (prices in ticks, quantities in lots)."""

    symbol: str
    client_order_id: str
    order_id: int
    side: Side
    order_type: OrderType
    status: OrderStatus
    price_ticks: int  # 0 for MARKET
    orig_lots: int
    executed_lots: int
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    update_time_ms: int = 0

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def remaining_lots(self) -> int:
        return self.orig_lots - self.executed_lots


class PositionState(msgspec.Struct, frozen=True, gc=False):
    """One position: signed size in lots (> 0 long, < 0 short)."""

    symbol: str
    amount_lots: int
    entry_price: Decimal
    position_side: PositionSide = PositionSide.BOTH
    mark_price: Decimal = Decimal(0)
    unrealized_pnl: Decimal = Decimal(0)


class BalanceState(msgspec.Struct, frozen=True, gc=False):
    """The account's margin asset."""

    asset: str
    wallet_balance: Decimal
    available_balance: Decimal
    unrealized_pnl: Decimal = Decimal(0)


@runtime_checkable
class ExchangePort(Protocol):
    """Where orders go. `base_url` and `is_mainnet` decide whether Gate 3 (ALLOW_MAINNET_TRADE) applies."""

    @property
    def name(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def is_mainnet(self) -> bool: ...

    async def start(self) -> None:
        """Load symbol rules (and anything else needed before the first write)."""
        ...

    async def close(self) -> None: ...

    async def symbol_rules(self, symbol: str) -> SymbolRules: ...

    async def submit(self, cmd: Command) -> CommandResult: ...

    async def query_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order's state, or None when the exchange does not know the id."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]: ...

    async def positions(self) -> list[PositionState]: ...

    async def balance(self) -> BalanceState: ...

    async def mid_price(self, symbol: str) -> Decimal:
        """(best bid + best ask) / 2 from the exchange's book ticker."""
        ...


@runtime_checkable
class TradeHistory(Protocol):
    """An exchange that keeps our trade list across restarts (Binance, the simulator, a paper venue).

    `fills_after` returns our fills of `symbol` with a trade id above `after_trade_id`, oldest
    first, client order ids resolved; with `after_trade_id=None`, those since `start_time_ms`.
    Start-up recovery pages through it by trade id, never by time (ADR-101)."""

    async def fills_after(
        self, symbol: str, after_trade_id: int | None, start_time_ms: int = 0, limit: int = 1000
    ) -> list[Fill]: ...


@runtime_checkable
class AccountSettings(Protocol):
    """Account-wide settings read at start-up and the dead-man's switch (Binance and the simulator)."""

    async def dual_side_position(self) -> bool:
        """True in hedge mode, False in one-way mode (`GET /fapi/v1/positionSide/dual`)."""
        ...

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> None:
        """`POST /fapi/v1/countdownCancelAll`: cancel every open order of `symbol` unless refreshed."""
        ...
