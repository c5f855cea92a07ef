"""`ExecutionConfig`: the [execution] section: how the order manager turns quotes into commands."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from grinder.binance.constants import DEFAULT_ORDERS_1M, DEFAULT_ORDERS_10S, DEFAULT_REQUEST_WEIGHT_1M
from grinder.core.checks import require_at_least


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    price_tolerance_ticks: int = 1  # a working order within this many ticks of its quote is kept
    price_tolerance_bps: Decimal = Decimal("0.2")  # ... or within this many bps of the mid (the larger)
    qty_tolerance_lots: int = 0  # ... and within this many lots of the quoted remaining quantity
    amend_enabled: bool = True  # move an order in place (PUT) when that keeps or improves its priority
    crossed_hold_ms: int = 300  # an order the book or a trade reached is left alone this long (its fill)
    max_commands_per_event: int = 40  # cap on commands one market event may produce
    write_share: Decimal = Decimal("0.45")  # share of Binance's per-account limits our writes may use
    orders_per_10s_limit: int = DEFAULT_ORDERS_10S  # Binance ORDERS (10 SECOND) per account
    orders_per_minute_limit: int = DEFAULT_ORDERS_1M  # Binance ORDERS (1 MINUTE) per account
    weight_per_minute_limit: int = DEFAULT_REQUEST_WEIGHT_1M  # REQUEST_WEIGHT (1 MINUTE); a write weighs 1
    closed_order_memory: int = 10_000  # closed client ids remembered to ignore late events
    fill_memory: int = 100_000  # fill keys remembered for de-duplication
    equity_refresh_ms: int = 1_000  # how often unrealized PnL is re-marked into the equity watch
    margin_asset: str = "USDT"  # wallet asset whose balance is the account equity

    def __post_init__(self) -> None:
        require_at_least(
            self, "[execution] ", 0, ("price_tolerance_ticks", "qty_tolerance_lots", "crossed_hold_ms")
        )
        if not 0 <= self.price_tolerance_bps < 100:
            raise ValueError(
                f"[execution] price_tolerance_bps must be in [0, 100) (got {self.price_tolerance_bps})"
            )
        if not 0 < self.write_share <= 1:
            raise ValueError(
                f"[execution] write_share must be in (0, 1] (got {self.write_share}); e.g. 0.4 keeps every "
                "window under 40% of Binance's order limits"
            )
        require_at_least(
            self,
            "[execution] ",
            1,
            (
                "max_commands_per_event",
                "closed_order_memory",
                "fill_memory",
                "equity_refresh_ms",
                "orders_per_10s_limit",
                "orders_per_minute_limit",
                "weight_per_minute_limit",
            ),
        )
        if not self.margin_asset:
            raise ValueError("[execution] margin_asset must name an asset, e.g. USDT")
