"""Warm-up from history: Binance klines turned into the feature engine's bars before live data.

`bars_from_klines` is pure. `fetch_warmup_bars` takes the REST call as a parameter (the wire lives in
`grinder.binance`), so the strategy package stays free of I/O libraries. When the exchange cannot
serve klines, warm-up degrades with one log line: NATR then starts from the first closed live bar
(ADR-172).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

# bar length (ms) -> Binance kline interval
KLINE_INTERVALS = {
    60_000: "1m",
    180_000: "3m",
    300_000: "5m",
    900_000: "15m",
    1_800_000: "30m",
    3_600_000: "1h",
}

Bar = tuple[float, float, float]  # high, low, close, in ticks
Fetch = Callable[[str, dict[str, object]], Awaitable[Any]]


def bars_from_klines(rows: Sequence[Any], rules: SymbolRules, now_ms: int) -> list[Bar]:
    """(high, low, close) in ticks of every kline that closed before `now_ms`, oldest first.

    Rows are Binance's arrays `[open time, open, high, low, close, volume, close time, ...]`;
    a malformed row raises ValueError naming it.
    """
    out: list[Bar] = []
    tick = rules.tick_size
    for i, row in enumerate(rows):
        try:
            close_ms = int(row[6])
            high, low, close = (Decimal(str(row[k])) / tick for k in (2, 3, 4))
        except (IndexError, TypeError, ValueError, InvalidOperation):
            raise ValueError(f"kline row {i} is malformed: {str(row)[:80]}") from None
        if close_ms >= now_ms:
            continue  # still open: its range is not final
        out.append((float(high), float(low), float(close)))
    return out


async def fetch_warmup_bars(
    fetch: Fetch, symbol: str, rules: SymbolRules, *, bar_ms: int, count: int, now_ms: int
) -> list[Bar] | None:
    """The last `count` closed bars of `symbol` from `GET /fapi/v1/klines`, or None (logged) when
    they cannot be had: the bar length has no kline interval, or the exchange refused or failed."""
    interval = KLINE_INTERVALS.get(bar_ms)
    if count <= 0:
        return None
    if interval is None:
        log.warning(
            "strategy_warm_up_unavailable symbol=%s reason=no kline interval for bar_ms=%d: NATR starts "
            "from the first closed bar (use [features] bar_ms of 60000, 300000, ...)",
            symbol,
            bar_ms,
        )
        return None
    try:
        rows = await fetch("/fapi/v1/klines", {"symbol": symbol, "interval": interval, "limit": count + 1})
        return bars_from_klines(rows, rules, now_ms)[-count:]
    except Exception as exc:  # any failure only costs the warm-up, never the start
        log.warning(
            "strategy_warm_up_unavailable symbol=%s reason=GET /fapi/v1/klines failed (%s): NATR starts "
            "from the first closed bar instead",
            symbol,
            str(exc)[:160] or type(exc).__name__,
        )
        return None
