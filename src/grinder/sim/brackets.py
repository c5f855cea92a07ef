"""Leverage brackets of the simulator: `GET /fapi/v1/leverageBracket` and the `maxNotionalValue` every
account answer derives from them (leverage change, symbolConfig, v2 positionRisk, v2 account).

One tier table for every symbol, shaped like Binance's BTCUSDT table: the higher the leverage, the
smaller the notional cap. Tier 1's maintenance ratio is the venue's (`VenueConfig.maint_margin_ratio`),
and `cum` is Binance's maintenance amount, cum_i = cum_(i-1) + floor_i × (mmr_i − mmr_(i-1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# (initial leverage, notional cap, maintenance ratio as a multiple of tier 1's)
_TIERS = (
    (125, 50_000, Decimal(1)),
    (100, 600_000, Decimal("1.25")),
    (75, 3_000_000, Decimal("1.625")),
    (50, 12_000_000, Decimal("2.5")),
    (25, 70_000_000, Decimal(5)),
    (20, 100_000_000, Decimal("6.25")),
    (10, 230_000_000, Decimal("12.5")),
    (5, 480_000_000, Decimal(25)),
    (4, 600_000_000, Decimal("31.25")),
    (3, 800_000_000, Decimal("37.5")),
    (2, 1_200_000_000, Decimal("62.5")),
    (1, 1_800_000_000, Decimal(125)),
)


@dataclass(frozen=True, slots=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_floor: int
    notional_cap: int
    maint_margin_ratio: Decimal
    cum: Decimal


class LeverageBrackets:
    """The tier table, and the largest position notional allowed at a leverage."""

    def __init__(self, tier1_maint_ratio: Decimal) -> None:
        brackets: list[Bracket] = []
        floor, cum, prev_mmr = 0, Decimal(0), Decimal(0)
        for i, (leverage, cap, scale) in enumerate(_TIERS, start=1):
            mmr = min(tier1_maint_ratio * scale, Decimal("0.5"))
            cum += floor * (mmr - prev_mmr)
            brackets.append(Bracket(i, leverage, floor, cap, mmr, cum))
            floor, prev_mmr = cap, mmr
        self.brackets = tuple(brackets)

    def max_notional(self, leverage: int) -> int:
        """Binance's `maxNotionalValue`: the cap of the widest tier that still allows `leverage`."""
        allowed = [b.notional_cap for b in self.brackets if b.initial_leverage >= leverage]
        return max(allowed) if allowed else 0

    def rows(self) -> list[dict[str, object]]:
        return [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalCap": b.notional_cap,
                "notionalFloor": b.notional_floor,
                "maintMarginRatio": float(b.maint_margin_ratio),
                "cum": float(b.cum),
            }
            for b in self.brackets
        ]
