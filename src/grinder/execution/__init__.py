"""Order management and the trading pipeline (pure decision code: no I/O, time is passed in)."""

from grinder.execution.config import ExecutionConfig
from grinder.execution.order_manager import OrderManager, WorkingOrder, WorkingState, level_tag
from grinder.execution.pipeline import BlockedCommand, TradingPipeline

__all__ = [
    "BlockedCommand",
    "ExecutionConfig",
    "OrderManager",
    "TradingPipeline",
    "WorkingOrder",
    "WorkingState",
    "level_tag",
]
