"""Core value types, events, symbol rules and clocks shared by every layer (no I/O)."""

from grinder.core.clock import Clock, VirtualClock, WallClock
from grinder.core.enums import (
    ExecutionType,
    MarginType,
    OrderStatus,
    OrderType,
    PositionSide,
    SafeMode,
    Side,
    TimeInForce,
)
from grinder.core.rules import OrderRuleError, SymbolRules

__all__ = [
    "Clock",
    "ExecutionType",
    "MarginType",
    "OrderRuleError",
    "OrderStatus",
    "OrderType",
    "PositionSide",
    "SafeMode",
    "Side",
    "SymbolRules",
    "TimeInForce",
    "VirtualClock",
    "WallClock",
]
