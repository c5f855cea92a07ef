"""`RiskConfig`: the [risk] section: pre-trade limits and latches, with safe (small) defaults."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from grinder.binance.constants import DEFAULT_ORDERS_1M, DEFAULT_ORDERS_10S
from grinder.core.checks import require_at_least


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Limits in the quote currency (USDT). A limit of 0 is refused: every check stays on.

    Defaults follow Runbook 17 (`max_notional_per_order` $125) and Binance's ORDERS limits
    (300 per 10 s, 1200 per minute per account).
    """

    max_notional_per_order: Decimal = Decimal("125")
    max_position_notional: Decimal = Decimal("500")  # per symbol, worst case if every working order fills
    max_total_position_notional: Decimal = Decimal("1000")  # all symbols together
    max_open_orders_per_symbol: int = 20  # also capped by the symbol's MAX_NUM_ORDERS filter
    orders_per_10s: int = DEFAULT_ORDERS_10S  # Binance ORDERS limit (10 SECOND); cancels and amends count too
    orders_per_minute: int = DEFAULT_ORDERS_1M  # Binance ORDERS limit (1 MINUTE)
    max_drawdown_pct: Decimal = Decimal("10")  # from the equity high-water mark; engages the kill switch
    daily_loss_limit: Decimal = Decimal("100")  # loss since the UTC day's first equity; engages it too
    block_without_equity: bool = True  # no equity seen yet -> block risk-increasing orders (fail closed)
    block_without_price: bool = True  # no reference price -> block risk-increasing orders (fail closed)
    # After a DAILY_LOSS / DRAWDOWN trip (live engine, LIVE_TRADE and PAPER): stop quoting, cancel
    # our orders and close each position with reduce-only IOC slices priced at most
    # flatten_slippage_bps through the mid seen when flattening began (the slippage budget).
    flatten_on_trip: bool = True
    flatten_slippage_bps: Decimal = Decimal("50")
    flatten_slice_notional: Decimal = Decimal("250")  # quote value of one slice
    flatten_interval_s: float = 0.5  # pause between slices (fills arrive, the book refills)

    def __post_init__(self) -> None:
        positive = {
            "max_notional_per_order": self.max_notional_per_order,
            "max_position_notional": self.max_position_notional,
            "max_total_position_notional": self.max_total_position_notional,
            "max_drawdown_pct": self.max_drawdown_pct,
            "daily_loss_limit": self.daily_loss_limit,
            "flatten_slippage_bps": self.flatten_slippage_bps,
            "flatten_slice_notional": self.flatten_slice_notional,
        }
        for key, value in positive.items():
            if not value > 0:
                raise ValueError(f"[risk] {key} must be > 0 (got {value}); set a positive limit")
        require_at_least(
            self, "[risk] ", 1, ("max_open_orders_per_symbol", "orders_per_10s", "orders_per_minute")
        )
        if not 0 < self.flatten_interval_s <= 60:
            raise ValueError(
                f"[risk] flatten_interval_s must be in (0, 60] seconds (got {self.flatten_interval_s})"
            )
        if self.flatten_slippage_bps >= 5000:
            raise ValueError(
                f"[risk] flatten_slippage_bps must be below 5000 (got {self.flatten_slippage_bps})"
            )
        if self.max_drawdown_pct >= 100:
            raise ValueError(f"[risk] max_drawdown_pct must be below 100 (got {self.max_drawdown_pct})")
