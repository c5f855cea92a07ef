"""Create every labelled metric series the engine can produce before the ops server's first scrape.

A labelled counter that appears only at its first increment shows "no data" on a dashboard and
`increase()` misses that first event; Runbook 17's post-checks read such counters (issue 19).
"""

from __future__ import annotations

from grinder.binance import metrics as binance_metrics
from grinder.binance.constants import StreamGroup
from grinder.binance.governor import ORDERS_1M, ORDERS_10S, WEIGHT_1M
from grinder.connector import metrics as connector_metrics
from grinder.ha import metrics as ha_metrics
from grinder.live.wiring import EngineSettings
from grinder.ops import metrics as engine_metrics
from grinder.reconcile import metrics as reconcile_metrics
from grinder.risk import metrics as risk_metrics
from grinder.strategy import metrics as strategy_metrics


def init_engine_series(settings: EngineSettings) -> None:
    """All known label values (symbols, streams, pools, modes, reasons, kinds) at 0; limits set."""
    symbols = tuple(settings.engine.symbols)
    binance_metrics.init_series(symbols, [g.value for g in StreamGroup], (WEIGHT_1M, ORDERS_10S, ORDERS_1M))
    connector_metrics.init_series()
    engine_metrics.init_series(symbols)
    ha_metrics.init_series()
    reconcile_metrics.init_series()
    risk_metrics.init_series(settings.risk)
    strategy_metrics.init_series(symbols)
