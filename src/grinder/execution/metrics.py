"""Order-manager metrics (module-level singletons, ADR-003)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OM_COMMANDS = Counter("grinder_om_commands_total", "Commands planned by the order manager, by kind", ["kind"])
OM_UNKNOWN_ORDERS = Gauge(
    "grinder_om_unknown_orders", "Orders whose last command had an unknown outcome (levels frozen)"
)
OM_DUPLICATE_FILLS = Counter(
    "grinder_om_duplicate_fills_total", "Fill events seen more than once and ignored (idempotent replay)"
)
