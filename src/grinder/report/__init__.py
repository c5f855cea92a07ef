"""Self-contained HTML reports with inline SVG charts (no JavaScript, no CDN).

from grinder.report import Section, render_report, table, key_values
from grinder.report import price_fills_chart, equity_drawdown_chart, inventory_chart
html = render_report("Backtest", [Section("Summary", key_values({...})),
                                  Section("Equity", equity_drawdown_chart(t_ms, equity))])
"""

from grinder.report.charts import drawdown, equity_drawdown_chart, inventory_chart, price_fills_chart
from grinder.report.html import Section, key_values, paragraph, render_report, table
from grinder.report.svg import Line, Markers, Panel, chart, reduce_series

__all__ = [
    "Line",
    "Markers",
    "Panel",
    "Section",
    "chart",
    "drawdown",
    "equity_drawdown_chart",
    "inventory_chart",
    "key_values",
    "paragraph",
    "price_fills_chart",
    "reduce_series",
    "render_report",
    "table",
]
