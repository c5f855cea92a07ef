"""`VenueConfig`: fees, balance, leverage, position mode, fill model and latency of the venue model."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

FILL_MODELS = ("queue", "touch")


@dataclass(frozen=True)
class VenueConfig:
    """Configuration of one simulated Binance USDⓈ-M account (TOML section `[venue]`).

    fill_model: "queue" (queue position behind displayed liquidity, ADR-011) or "touch"
    (the REFERENCE_GRID rule: full fill at the limit price as soon as the market touches it).
    order_latency_ms: an order/cancel/amend sent at t reaches the matching engine at t + latency.
    feed_latency_ms: user-data events become visible to `drain_events(now_ms)` at E + latency.
    maint_margin_ratio / maint_amount: the single leverage bracket used for maintenance margin
    and the liquidation-price estimate (protocol sheet §10.3).
    """

    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    initial_balance: Decimal = Decimal("10000")
    default_leverage: int = 20
    dual_side_position: bool = False
    fill_model: str = "queue"  # "queue" | "touch" (REFERENCE_GRID rule)
    order_latency_ms: int = 0
    feed_latency_ms: int = 0
    seed: int = 0
    asset: str = "USDT"
    maint_margin_ratio: Decimal = Decimal("0.004")
    maint_amount: Decimal = Decimal("0")
    funding_interval_ms: int = 8 * 3_600_000

    def __post_init__(self) -> None:
        if self.fill_model not in FILL_MODELS:
            raise ValueError(
                f"venue.fill_model={self.fill_model!r} is not a fill model: "
                f"use one of {', '.join(FILL_MODELS)}"
            )
        if not 1 <= self.default_leverage <= 125:
            raise ValueError(f"venue.default_leverage={self.default_leverage} must be within 1..125")
        if self.order_latency_ms < 0 or self.feed_latency_ms < 0:
            raise ValueError("venue.order_latency_ms and venue.feed_latency_ms must be >= 0")
        if self.maker_fee < -1 or self.taker_fee < 0 or self.maker_fee >= 1 or self.taker_fee >= 1:
            raise ValueError(
                f"venue fees must be fractions (maker_fee={self.maker_fee}, taker_fee={self.taker_fee}); "
                "0.0002 means 0.02 %"
            )
        if self.initial_balance < 0:
            raise ValueError(f"venue.initial_balance={self.initial_balance} must be >= 0")
        if self.funding_interval_ms <= 0:
            raise ValueError("venue.funding_interval_ms must be > 0")
