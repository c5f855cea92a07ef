"""Prometheus metrics of the connector (module-level singletons, ADR-003).

`grinder_orders_placed_total`, `grinder_orders_cancelled_total` and `grinder_connector_errors_total`
are the Runbook 17 contract. Every label is bounded: `mode` is a SafeMode, `gate` a `Gate`,
`reason` one of `ERROR_REASONS`, `code` an exchange code from the known set or "other"/"none".
`init_series` creates the series at 0 so `increase()` sees the first error (issue 19).
"""

from __future__ import annotations

from prometheus_client import Counter

from grinder.core.errors import ErrorCode

ORDERS_PLACED_TOTAL = Counter(
    "grinder_orders_placed_total", "Orders accepted by the exchange (or the paper venue), by mode", ["mode"]
)
ORDERS_CANCELLED_TOTAL = Counter(
    "grinder_orders_cancelled_total",
    "Orders cancelled on the exchange (or the paper venue), by mode",
    ["mode"],
)
ORDERS_AMENDED_TOTAL = Counter(
    "grinder_orders_amended_total", "Orders amended in place (price/quantity), by mode", ["mode"]
)
CONNECTOR_ERRORS_TOTAL = Counter(
    "grinder_connector_errors_total",
    "Connector writes that did not succeed, by bounded reason and exchange code",
    ["reason", "code"],
)
GATE_BLOCKS_TOTAL = Counter(
    "grinder_connector_gate_blocks_total", "Writes blocked by a Runbook 17 gate, by gate", ["gate"]
)
UNKNOWN_OUTCOMES_TOTAL = Counter(
    "grinder_connector_unknown_outcomes_total",
    "Writes whose outcome was unknown, by how it was resolved",
    ["resolution"],
)
ORDER_REQUESTS_OK_TOTAL = Counter(
    "grinder_connector_order_requests_ok_total",
    "Order writes and status queries answered with success, by transport (ws = WebSocket API, rest)",
    ["transport"],
)

ERROR_REASONS = frozenset(
    {
        "rejected",
        "unknown_outcome",
        "retryable",
        "rate_limited",
        "fenced",
        "limit",
        "invalid_order",
        "rules_unavailable",
    }
)
# Exchange codes kept as their own label value (every named one); any other code becomes "other".
KNOWN_CODES = frozenset(int(code) for code in ErrorCode)
UNKNOWN_RESOLUTIONS = frozenset({"found", "absent_resent", "unresolved"})


def code_label(code: int | None) -> str:
    if code is None:
        return "none"
    return str(code) if code in KNOWN_CODES else "other"


def count_error(reason: str, code: int | None = None) -> None:
    CONNECTOR_ERRORS_TOTAL.labels(reason=reason if reason in ERROR_REASONS else "rejected",
                                  code=code_label(code)).inc()


def init_series() -> None:
    """Every mode, gate, error reason (code "none") and resolution at 0."""
    from grinder.connector.gates import Gate
    from grinder.core.enums import SafeMode

    for mode in SafeMode:
        for counter in (ORDERS_PLACED_TOTAL, ORDERS_CANCELLED_TOTAL, ORDERS_AMENDED_TOTAL):
            counter.labels(mode=mode.value)
    for reason in sorted(ERROR_REASONS):
        CONNECTOR_ERRORS_TOTAL.labels(reason=reason, code=code_label(None))
    for gate in Gate:
        GATE_BLOCKS_TOTAL.labels(gate=gate.value)
    for resolution in sorted(UNKNOWN_RESOLUTIONS):
        UNKNOWN_OUTCOMES_TOTAL.labels(resolution=resolution)
