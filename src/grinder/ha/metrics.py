"""HA metrics (module-level singletons, ADR-003); `grinder_ha_is_leader` is a Runbook 17 name."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

HA_IS_LEADER = Gauge(
    "grinder_ha_is_leader", "1 while this instance holds the leader lease (or runs standalone)"
)
HA_FENCING_TOKEN = Gauge(
    "grinder_ha_fencing_token", "Fencing token of the lease this instance holds (0 if none)"
)
HA_TRANSITIONS = Counter("grinder_ha_transitions_total", "Leadership changes of this instance", ["to"])
HA_REDIS_ERRORS = Counter("grinder_ha_redis_errors_total", "Failed lease operations against Redis")


def init_series() -> None:
    """Both transition directions at 0."""
    for role in ("leader", "follower"):
        HA_TRANSITIONS.labels(to=role)
