"""Strategy metrics (module-level singletons, ADR-003). Updated only on rare transitions, never per event."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

MODE_SWITCHES = Counter(
    "grinder_strategy_mode_switches_total",
    "Controller mode switches, by symbol, new mode and reason code",
    ["symbol", "mode", "reason"],
)
TOXICITY_TRIGGERS = Counter(
    "grinder_strategy_toxicity_triggers_total",
    "Toxicity-gate conditions triggered, by symbol and reason code",
    ["symbol", "reason"],
)
REANCHORS = Counter("grinder_strategy_reanchors_total", "Grid re-anchors, by symbol", ["symbol"])


def init_series(symbols: Iterable[str]) -> None:
    """Re-anchor counters per symbol at 0 (mode switches and toxicity triggers carry open-ended reasons)."""
    for symbol in symbols:
        REANCHORS.labels(symbol)
