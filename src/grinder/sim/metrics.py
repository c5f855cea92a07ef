"""Prometheus metrics of the simulator (module-level singletons, ADR-003); served on its `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

REST_REQUESTS_TOTAL = Counter(
    "grinder_sim_rest_requests_total", "REST requests answered by the simulator", ["endpoint", "status"]
)
FAULTS_INJECTED_TOTAL = Counter(
    "grinder_sim_faults_injected_total", "Faults the simulator injected, by kind", ["fault"]
)
WS_CONNECTIONS = Gauge("grinder_sim_ws_connections", "Open WebSocket stream connections")
WS_MESSAGES_TOTAL = Counter("grinder_sim_ws_messages_total", "Stream frames queued to clients")
MARKET_BATCHES_TOTAL = Counter(
    "grinder_sim_market_batches_total", "Market batches applied (synthetic or replay)"
)
USER_EVENTS_TOTAL = Counter("grinder_sim_user_events_total", "User-data events published, by type", ["event"])
