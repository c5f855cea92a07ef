"""Engine-level Prometheus metrics (module-level singletons, ADR-003).

The Runbook 17 names live in the packages that update them (grinder.binance.metrics,
grinder.connector.metrics, grinder.ha.metrics); `RUNBOOK17_METRICS` lists them so the ops server
test can pin every one on /metrics. This module adds what only the engine can see: tick-to-order
latency, order round trips, per-symbol position and PnL, blocked commands and engine state.
`init_series` creates the engine's labelled series for the configured symbols before the first scrape.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from grinder.core.commands import Outcome
from grinder.core.enums import SafeMode, Side

RUNBOOK17_METRICS: tuple[str, ...] = (
    "grinder_ws_connected",
    "grinder_ws_reconnect_total",
    "grinder_ticks_received_total",
    "grinder_last_tick_ts",
    "grinder_orders_placed_total",
    "grinder_orders_cancelled_total",
    "grinder_connector_errors_total",
    "grinder_ha_is_leader",
)

# Microsecond-scale buckets: the in-process budget is < 1 ms from message receipt to request write.
_LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)
_ROUNDTRIP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TICK_TO_ORDER_SECONDS = Histogram(
    "grinder_tick_to_order_seconds",
    "Market message received to order request written, seconds (in-process decision latency)",
    ["symbol"],
    buckets=_LATENCY_BUCKETS,
)
TICK_TO_FIRST_ORDER_SECONDS = Histogram(
    "grinder_tick_to_first_order_seconds",
    "Market message received to the first order request it caused written, seconds",
    ["symbol"],
    buckets=_LATENCY_BUCKETS,
)
TICK_TO_ALL_ORDERS_SECONDS = Histogram(
    "grinder_tick_to_all_orders_seconds",
    "Market message received to the last order request it caused written, seconds",
    ["symbol"],
    buckets=_LATENCY_BUCKETS,
)
ORDER_ROUNDTRIP_SECONDS = Histogram(
    "grinder_order_roundtrip_seconds",
    "Order request sent to exchange answer received, by command kind and outcome",
    ["kind", "outcome"],
    buckets=_ROUNDTRIP_BUCKETS,
)
COMMANDS_TOTAL = Counter(
    "grinder_engine_commands_total", "Commands the engine submitted, by kind and outcome", ["kind", "outcome"]
)
COMMANDS_BLOCKED_TOTAL = Counter(
    "grinder_commands_blocked_total",
    "Commands refused before reaching the exchange (connector gate or risk guard), by stable reason",
    ["reason"],
)
FILLS_TOTAL = Counter("grinder_fills_total", "Fills of our orders, by symbol and side", ["symbol", "side"])
POSITION_QTY = Gauge("grinder_position_qty", "Signed position in base-asset units, by symbol", ["symbol"])
POSITION_NOTIONAL = Gauge(
    "grinder_position_notional_usdt", "Position notional at the last mid, USDT", ["symbol"]
)
REALIZED_PNL = Gauge("grinder_realized_pnl_usdt", "Realized PnL net of fees since start-up, USDT", ["symbol"])
UNREALIZED_PNL = Gauge("grinder_unrealized_pnl_usdt", "Unrealized PnL at the last mid, USDT", ["symbol"])
WORKING_ORDERS = Gauge("grinder_working_orders", "Our open orders on the exchange, by symbol", ["symbol"])
ENGINE_ARMED = Gauge("grinder_engine_armed", "1 while the connector is armed for writes")
ENGINE_READY = Gauge("grinder_engine_ready", "1 while the engine is ready to trade (/readyz 200)")
ENGINE_TRADING_MODE = Gauge(
    "grinder_engine_mode", "1 for the connector's current SafeMode", ["mode"]
)
ENGINE_EVENT_ERRORS_TOTAL = Counter(
    "grinder_engine_event_errors_total",
    "Events the engine could not process (skipped, engine kept running), by stage",
    ["stage"],
)
FEED_AGE_SECONDS = Gauge(
    "grinder_feed_age_seconds", "Seconds since the last market event of a symbol", ["symbol"]
)
LOOP_LAG_SECONDS = Gauge(
    "grinder_event_loop_lag_seconds", "Event-loop scheduling lag measured by the ops heartbeat"
)

COMMAND_KINDS = ("place", "cancel", "amend")
EVENT_ERROR_STAGES = ("market", "user", "journal", "submit", "result")


def init_series(symbols: Iterable[str]) -> None:
    """Every engine series for these symbols, command kinds, outcomes, sides and modes, at 0."""
    for kind in COMMAND_KINDS:
        for outcome in Outcome:
            COMMANDS_TOTAL.labels(kind, outcome.value)
    for stage in EVENT_ERROR_STAGES:
        ENGINE_EVENT_ERRORS_TOTAL.labels(stage)
    for mode in SafeMode:
        ENGINE_TRADING_MODE.labels(mode.value)
    for kind in COMMAND_KINDS:
        for outcome in Outcome:
            ORDER_ROUNDTRIP_SECONDS.labels(kind, outcome.value)
    for symbol in symbols:
        for histogram in (TICK_TO_ORDER_SECONDS, TICK_TO_FIRST_ORDER_SECONDS, TICK_TO_ALL_ORDERS_SECONDS):
            histogram.labels(symbol)
        for side in Side:
            FILLS_TOTAL.labels(symbol, side.value)
        for gauge in (POSITION_QTY, POSITION_NOTIONAL, REALIZED_PNL, UNREALIZED_PNL, WORKING_ORDERS):
            gauge.labels(symbol)
