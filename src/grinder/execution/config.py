"""`ExecutionConfig`: the [execution] section: how the order manager turns quotes into commands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    price_tolerance_ticks: int = 0  # a working order within this many ticks of its quote is kept
    qty_tolerance_lots: int = 0  # ... and within this many lots of the quoted remaining quantity
    amend_enabled: bool = True  # change price/qty in place (PUT) instead of cancel + place
    max_commands_per_event: int = 40  # cap on commands one market event may produce
    closed_order_memory: int = 10_000  # closed client ids remembered to ignore late events
    fill_memory: int = 100_000  # fill keys remembered for de-duplication
    equity_refresh_ms: int = 1_000  # how often unrealized PnL is re-marked into the equity watch
    margin_asset: str = "USDT"  # wallet asset whose balance is the account equity

    def __post_init__(self) -> None:
        for key in ("price_tolerance_ticks", "qty_tolerance_lots"):
            if getattr(self, key) < 0:
                raise ValueError(f"[execution] {key} must be >= 0 (got {getattr(self, key)})")
        for key in ("max_commands_per_event", "closed_order_memory", "fill_memory", "equity_refresh_ms"):
            if getattr(self, key) < 1:
                raise ValueError(f"[execution] {key} must be >= 1 (got {getattr(self, key)})")
        if not self.margin_asset:
            raise ValueError("[execution] margin_asset must name an asset, e.g. USDT")
