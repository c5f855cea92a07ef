"""Order sizing against the exchange minimum notional and our `max_notional_per_order` cap.

One function decides for both paths (runbook-style Decimal API and the integer engine path): an
order that is not reduce-only must satisfy  MIN_NOTIONAL ≤ price × quantity ≤ max_notional_per_order.
Reduce-only orders only shrink a position: Binance exempts them from MIN_NOTIONAL and we exempt them
from the cap, so a position can always be flattened.
"""

from __future__ import annotations

from decimal import Decimal

from grinder.core.rules import SymbolRules, format_decimal


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def notional_problem(
    rules: SymbolRules, price_ticks: int, qty_lots: int, cap: Decimal, *, reduce_only: bool, op: str
) -> str | None:
    """None if the order's notional fits, else an operator message with the numbers and the fix."""
    if reduce_only:
        return None
    price = rules.ticks_to_price(price_ticks)
    qty = rules.lots_to_qty(qty_lots)
    notional = rules.notional(price_ticks, qty_lots)
    if notional < rules.min_notional:
        need = rules.min_lots_for_notional(price_ticks)
        return (
            f"Cannot {op}: notional {_money(notional)} USDT ({rules.symbol} price {price} × quantity "
            f"{qty}) is below the exchange minimum {format_decimal(rules.min_notional)} USDT "
            "(Binance -4164). "
            f"Fix: use quantity >= {rules.lots_to_qty(need)} at this price."
        )
    if notional > cap:
        return (
            f"Cannot {op}: notional {_money(notional)} USDT ({rules.symbol} price {price} × quantity {qty}) "
            f"exceeds max_notional_per_order={format_decimal(cap)} USDT. Fix: reduce quantity, or raise "
            "max_notional_per_order in LiveConnectorConfig / BinanceFuturesPortConfig."
        )
    return None


def feasible_lots(rules: SymbolRules, price_ticks: int, cap: Decimal, *, op: str) -> tuple[int, str | None]:
    """The smallest step multiple meeting MIN_NOTIONAL at this price, or (0, why none fits under the cap)."""
    lots = rules.min_lots_for_notional(price_ticks)
    notional = rules.notional(price_ticks, lots)
    if notional <= cap:
        return lots, None
    price = rules.ticks_to_price(price_ticks)
    qty = rules.lots_to_qty(lots)
    return 0, (
        f"Cannot {op}: no {rules.symbol} quantity fits between the exchange minimum notional "
        f"{format_decimal(rules.min_notional)} USDT and max_notional_per_order={format_decimal(cap)} USDT at "
        f"price {price}: the smallest step multiple meeting the minimum is {qty} "
        f"(step {format_decimal(rules.step_size)}), notional {_money(notional)} USDT. Fix: raise "
        f"max_notional_per_order to at least {_money(notional)} or place at a lower price."
    )
