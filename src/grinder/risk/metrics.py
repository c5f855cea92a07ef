"""Risk metrics (module-level singletons, ADR-003).

The limit gauges publish the configured limits so alerts compare usage against them without
repeating the numbers in rule files (`init_series`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from grinder.risk.config import RiskConfig

RISK_BLOCKS = Counter(
    "grinder_risk_blocks_total", "Commands refused by the pre-trade risk guard, by stable reason", ["reason"]
)
KILL_SWITCH_ENGAGED = Gauge(
    "grinder_kill_switch_engaged",
    "1 while the kill switch is latched (only risk-reducing orders and cancels pass)",
)
KILL_SWITCH_TRIPS = Counter(
    "grinder_kill_switch_trips_total", "Times the kill switch was engaged, by reason", ["reason"]
)
DRAWDOWN_RATIO = Gauge(
    "grinder_risk_drawdown_ratio", "Equity drawdown from its high-water mark, as a fraction (0.05 = 5%)"
)
MAX_DRAWDOWN_RATIO = Gauge(
    "grinder_risk_max_drawdown_ratio", "Configured drawdown that engages the kill switch, as a fraction"
)
MAX_POSITION_NOTIONAL = Gauge(
    "grinder_risk_max_position_notional_usdt", "Configured per-symbol position notional limit, USDT"
)
MAX_TOTAL_POSITION_NOTIONAL = Gauge(
    "grinder_risk_max_total_position_notional_usdt", "Configured all-symbol position notional limit, USDT"
)
DAILY_LOSS_LIMIT = Gauge("grinder_risk_daily_loss_limit_usdt", "Configured daily loss limit, USDT")


def init_series(config: RiskConfig) -> None:
    """Publish the configured limits and create every block / kill reason series at 0."""
    from grinder.risk.guard import KillReason, RiskReason

    MAX_DRAWDOWN_RATIO.set(float(config.max_drawdown_pct) / 100)
    MAX_POSITION_NOTIONAL.set(float(config.max_position_notional))
    MAX_TOTAL_POSITION_NOTIONAL.set(float(config.max_total_position_notional))
    DAILY_LOSS_LIMIT.set(float(config.daily_loss_limit))
    for reason in RiskReason:
        RISK_BLOCKS.labels(reason=reason.value)
    for kill in KillReason:
        KILL_SWITCH_TRIPS.labels(reason=kill.value)
