"""A recording ExchangePort for unit tests of the gate logic: it stands in for the exchange boundary,
remembers every command that reached it and accepts them all. Integration tests use the simulator."""

from __future__ import annotations

from decimal import Decimal

from grinder.connector.gates import is_mainnet_url
from grinder.connector.port import BalanceState, OrderState, PositionState
from grinder.core.commands import Command, CommandResult, Outcome
from grinder.core.enums import OrderStatus, OrderType, Side
from grinder.core.rules import SymbolRules, btcusdt_rules


class RecordingPort:
    def __init__(self, base_url: str, name: str = "recording") -> None:
        self._url = base_url
        self.name = name
        self.received: list[Command] = []
        self.rules = btcusdt_rules()

    @property
    def base_url(self) -> str:
        return self._url

    @property
    def is_mainnet(self) -> bool:
        return self._url.startswith("http") and is_mainnet_url(self._url)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        return self.rules

    async def submit(self, cmd: Command) -> CommandResult:
        self.received.append(cmd)
        return CommandResult(cmd, Outcome.ACCEPTED, order_id=len(self.received), status=OrderStatus.NEW)

    async def query_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return OrderState(symbol=symbol, client_order_id=client_order_id, order_id=1, side=Side.BUY,
                          order_type=OrderType.LIMIT, status=OrderStatus.NEW,
                          price_ticks=self.rules.price_to_ticks("50000"), orig_lots=3, executed_lots=0)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return []

    async def positions(self) -> list[PositionState]:
        return []

    async def balance(self) -> BalanceState:
        return BalanceState(asset="USDT", wallet_balance=Decimal(0), available_balance=Decimal(0))

    async def mid_price(self, symbol: str) -> Decimal:
        return Decimal("60000")
