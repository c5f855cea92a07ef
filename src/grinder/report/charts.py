"""The three trading charts of a report: price with fills, equity with drawdown, inventory."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from grinder.report.svg import Line, Markers, Panel, chart

ArrayLike = Sequence[float] | npt.NDArray[np.generic]


def price_fills_chart(
    times_ms: ArrayLike,
    prices: ArrayLike,
    buys: tuple[ArrayLike, ArrayLike] = ((), ()),
    sells: tuple[ArrayLike, ArrayLike] = ((), ()),
    *,
    title: str = "Price and fills",
    label: str = "mid",
) -> str:
    """Mid price line with buy fills (green ▲) and sell fills (red ▼); buys/sells are (times, prices)."""
    panel = Panel(
        title,
        [Line(label, times_ms, prices, color="#555")],
        [
            Markers("buy fill", buys[0], buys[1], "#2ca02c", "up"),
            Markers("sell fill", sells[0], sells[1], "#d62728", "down"),
        ],
        y_label="price",
    )
    return chart([panel])


def drawdown(equity: ArrayLike) -> npt.NDArray[np.float64]:
    """Equity minus its running peak (<= 0)."""
    eq = np.asarray(equity, dtype=np.float64)
    if not len(eq):
        return eq
    return eq - np.maximum.accumulate(eq)


def equity_drawdown_chart(times_ms: ArrayLike, equity: ArrayLike, *, title: str = "Equity") -> str:
    """Equity (PnL) on top, drawdown from the running peak below."""
    dd = drawdown(equity)
    return chart(
        [
            Panel(title, [Line("equity", times_ms, equity, color="#1f77b4")], y_label="USDT"),
            Panel(
                "Drawdown",
                [Line("drawdown", times_ms, dd, color="#d62728", fill_to_zero=True)],
                y_label="USDT",
            ),
        ],
        panel_height=180,
    )


def inventory_chart(
    times_ms: ArrayLike, position: ArrayLike, *, title: str = "Inventory", unit: str = ""
) -> str:
    """Position over time as a step line."""
    return chart(
        [
            Panel(
                title,
                [Line("position", times_ms, position, color="#9467bd", step=True, fill_to_zero=True)],
                y_label=unit,
            )
        ],
        panel_height=160,
    )
