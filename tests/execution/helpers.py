"""Builders shared by the execution tests: quotes, exchange answers and order updates."""

from __future__ import annotations

from decimal import Decimal

from grinder.core.commands import Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import OrderUpdate
from grinder.strategy.types import DesiredQuote

SYM = "BTCUSDT"


def quote(side: Side, level: str, price: int, lots: int = 2, post_only: bool = True) -> DesiredQuote:
    return DesiredQuote(SYM, side, price, lots, level, post_only)


def grid(mid: int, levels: int = 3, step: int = 10, lots: int = 2) -> list[DesiredQuote]:
    out = [quote(Side.BUY, f"b{i}", mid - i * step, lots) for i in range(1, levels + 1)]
    out += [quote(Side.SELL, f"s{i}", mid + i * step, lots) for i in range(1, levels + 1)]
    return out


def result(cmd: Command, outcome: Outcome = Outcome.ACCEPTED, **kw: object) -> CommandResult:
    return CommandResult(command=cmd, outcome=outcome, **kw)  # type: ignore[arg-type]


def update(
    cmd: PlaceOrder,
    status: OrderStatus,
    *,
    execution: ExecutionType = ExecutionType.NEW,
    fill_lots: int = 0,
    cum_lots: int = 0,
    trade_id: int = 0,
    price: int | None = None,
    qty: int | None = None,
    order_id: int = 1,
) -> OrderUpdate:
    px = cmd.price_ticks if price is None else price
    return OrderUpdate(
        symbol=cmd.symbol,
        order_id=order_id,
        client_order_id=cmd.client_order_id,
        side=cmd.side,
        order_type=OrderType.LIMIT,
        time_in_force=cmd.time_in_force or TimeInForce.GTC,
        position_side=PositionSide.BOTH,
        reduce_only=False,
        price_ticks=px or 0,
        orig_qty_lots=cmd.qty_lots if qty is None else qty,
        execution_type=execution,
        status=status,
        last_fill_lots=fill_lots,
        last_fill_price_ticks=px or 0 if fill_lots else 0,
        cum_filled_lots=cum_lots,
        avg_price=Decimal(0),
        commission=Decimal("0.01") if fill_lots else Decimal(0),
        commission_asset="USDT",
        realized_pnl=Decimal(0),
        is_maker=True,
        trade_id=trade_id,
        event_time_ms=1,
        transaction_time_ms=1,
    )
