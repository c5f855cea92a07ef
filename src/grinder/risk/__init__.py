"""Pre-trade risk checks and the kill-switch latch (pure: no I/O, time is passed in)."""

from grinder.risk.config import RiskConfig
from grinder.risk.guard import RiskDecision, RiskGuard, RiskReason, RiskSnapshot, RiskView, SymbolExposure
from grinder.risk.rate import OrderRateBudget, TokenBucket

__all__ = [
    "OrderRateBudget",
    "RiskConfig",
    "RiskDecision",
    "RiskGuard",
    "RiskReason",
    "RiskSnapshot",
    "RiskView",
    "SymbolExposure",
    "TokenBucket",
]
