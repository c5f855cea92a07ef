"""Risk metrics (module-level singletons, ADR-003)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
DRAWDOWN_PCT = Gauge("grinder_risk_drawdown_pct", "Equity drawdown from its high-water mark, percent")
