"""`ReconcileConfig` (TOML section `[reconcile]`): what reconciliation compares and what remediation may do.

Remediation is off by default. When enabled it only ever cancels orders carrying GRINDER's
`grinder_` prefix and flattens unexpected positions with reduce-only MARKET orders, each through
`LiveConnectorV0` (so every Runbook 17 gate still applies), within per-run limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from grinder.core.checks import require_at_least


@dataclass(frozen=True)
class ReconcileConfig:
    """remediation_enabled: master switch; False = report mismatches only (Runbook 11).
    cancel_unexpected_enabled / flatten_enabled: the two remediation kinds (Runbook 12).
    max_cancels_per_run / max_flattens_per_run: actions beyond these are skipped and reported.
    max_flatten_notional: a position larger than this (at mark, quote asset) is left to the operator.
    price_tolerance_ticks / qty_tolerance_lots / position_tolerance_lots: differences ignored.
    """

    remediation_enabled: bool = False
    cancel_unexpected_enabled: bool = True
    flatten_enabled: bool = False
    max_cancels_per_run: int = 10
    max_flattens_per_run: int = 1
    max_flatten_notional: Decimal = Decimal("1000")
    price_tolerance_ticks: int = 0
    qty_tolerance_lots: int = 0
    position_tolerance_lots: int = 0
    interval_s: float = 60.0

    def __post_init__(self) -> None:
        require_at_least(
            self,
            "reconcile.",
            0,
            (
                "max_cancels_per_run",
                "max_flattens_per_run",
                "price_tolerance_ticks",
                "qty_tolerance_lots",
                "position_tolerance_lots",
            ),
        )
        if self.max_flatten_notional < 0:
            raise ValueError(f"reconcile.max_flatten_notional must be >= 0 (got {self.max_flatten_notional})")
        if self.interval_s <= 0:
            raise ValueError(f"reconcile.interval_s must be > 0 (got {self.interval_s})")
