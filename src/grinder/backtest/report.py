"""Backtest output: a rich table for the terminal, a JSON document and the HTML report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from grinder.backtest.results import BacktestResult
from grinder.report import (
    Section,
    equity_drawdown_chart,
    inventory_chart,
    key_values,
    price_fills_chart,
    render_report,
    table,
)

SUMMARY_ROWS = (
    ("strategy", "strategy"),
    ("events", "events"),
    ("events processed in full", "events_processed"),
    ("period (UTC)", "period"),
    ("duration (s)", "duration_s"),
    ("initial balance (USDT)", "initial_balance_usdt"),
    ("net PnL (USDT)", "net_pnl_usdt"),
    ("realized PnL (USDT)", "realized_pnl_usdt"),
    ("unrealized PnL (USDT)", "unrealized_pnl_usdt"),
    ("fees (USDT)", "fees_usdt"),
    ("funding (USDT)", "funding_usdt"),
    ("funding", "funding_status"),
    ("fills", "fills"),
    ("round trips", "round_trips"),
    ("win rate", "win_rate"),
    ("max drawdown (USDT)", "max_drawdown_usdt"),
    ("max drawdown (%)", "max_drawdown_pct"),
    ("Sharpe (annualised)", "sharpe_annualized"),
    ("Sortino (annualised)", "sortino_annualized"),
    ("risk ratios", "risk_ratios_note"),
    ("turnover (USDT)", "turnover_usdt"),
    ("orders placed / cancelled / amended", "orders"),
    ("commands rejected / blocked", "rejects"),
    ("time paused by gates (s)", "paused_s"),
    ("wall time, load + run (s)", "wall_s"),
    ("  load / run (s)", "load_run"),
    ("latency model", "latency_text"),
)


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1e5 else f"{v:,.2f}"
    return str(v)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def summary_rows(result: BacktestResult) -> list[tuple[str, str]]:
    s = dict(result.summary)
    s["orders"] = f"{s['orders_placed']} / {s['orders_cancelled']} / {s['orders_amended']}"
    s["rejects"] = f"{s['commands_rejected']} / {s['commands_blocked']}"
    if "start_ms" in s:
        s["period"] = f"{_utc(s['start_ms'])} → {_utc(s['end_ms'])}"
    if s.get("sharpe_annualized") is None and s.get("risk_ratios_note"):
        s["sharpe_annualized"] = s["sortino_annualized"] = "n/a (see risk ratios)"
    if "load_s" in s:
        s["load_run"] = f"{s['load_s']:.3f} / {s['run_s']:.3f}"
    lat = s.get("latency") or {}
    if lat:
        order, feed = lat.get("order_latency_ms"), lat.get("feed_latency_ms")
        s["latency_text"] = f"order {order} ms, feed {feed} ms ({lat.get('model')})"
    if s.get("funding_usdt") is None:
        s["funding_usdt"] = "unknown"
    return [(label, _fmt(s.get(key))) for label, key in SUMMARY_ROWS if s.get(key, "") != ""]


def print_table(result: BacktestResult) -> None:
    """The summary and per-symbol figures as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="GRINDER backtest", show_header=False)
    t.add_column("figure")
    t.add_column("value", justify="right")
    for label, value in summary_rows(result):
        t.add_row(label, value)
    console.print(t)
    if result.symbols:
        st = Table(title="per symbol")
        st.add_column("figure")
        syms = list(result.symbols)
        for sym in syms:
            st.add_column(sym, justify="right")
        for key in result.symbols[syms[0]]:
            st.add_row(key, *(_fmt(result.symbols[sym].get(key)) for sym in syms))
        console.print(st)


TRADE_COLUMNS = ("time", "symbol", "side", "price", "qty", "maker", "fee_usdt", "realized_pnl_usdt")
TRADE_HEADERS = ("time (UTC)", "symbol", "side", "price", "qty", "maker", "fee (USDT)", "realized PnL (USDT)")


def html_report(
    result: BacktestResult, title: str = "GRINDER backtest", config: dict[str, Any] | None = None
) -> str:
    """The HTML report; `config` (the effective configuration, section -> values) is shown in full."""
    s = result.summary
    sections = [Section("Summary", key_values(dict(summary_rows(result))))]
    sections.append(
        Section(
            "Equity and drawdown",
            equity_drawdown_chart(result.bar_times_ms, result.equity),
            note="Account equity (wallet + open positions at mid) sampled at bar closes; drawdown from the "
            "running peak.",
        )
    )
    for sym, ser in result.series.items():
        buys = ser.fill_sides > 0
        sells = ~buys
        sections.append(
            Section(
                f"{sym}: price and fills",
                price_fills_chart(
                    result.bar_times_ms,
                    ser.mid,
                    (ser.fill_times_ms[buys], ser.fill_prices[buys]),
                    (ser.fill_times_ms[sells], ser.fill_prices[sells]),
                    label=f"{sym} mid",
                ),
            )
        )
        sections.append(Section(f"{sym}: inventory", inventory_chart(result.bar_times_ms, ser.position_qty)))
        sections.append(
            Section(f"{sym}: figures", key_values({k: _fmt(v) for k, v in result.symbols[sym].items()}))
        )
    sections.append(
        Section(
            "Trades",
            table(TRADE_HEADERS, ([t[c] for c in TRADE_COLUMNS] for t in result.trades))
            if result.trades
            else "<p>No fills.</p>",
            note="Every fill of ours, in order (the JSON output has the same rows with client order ids).",
        )
    )
    if config:
        rows = [
            (section, key, str(value))
            for section, values in config.items()
            for key, value in (values.items() if isinstance(values, dict) else [("", values)])
        ]
        sections.append(
            Section(
                "Configuration",
                table(("section", "key", "value"), rows, max_rows=1000),
                note=f"The effective configuration of this run (defaults included); initial balance "
                f"{s['initial_balance_usdt']} USDT.",
            )
        )
    span = f"{len(s['symbols'])} symbol(s), {s['events']:,} events, {s['duration_s']:,.0f} s of data"
    sections.append(
        Section("Run", key_values({"digest": result.digest, "events skipped (quiet)": s["events_skipped"]}))
    )
    return render_report(title, sections, subtitle=span)


def bars_to_list(result: BacktestResult, max_points: int = 2000) -> dict[str, list[float]]:
    """Equity curve (reduced) for JSON output."""
    step = max(1, len(result.bar_times_ms) // max_points)
    return {
        "time_ms": result.bar_times_ms[::step].astype(np.int64).tolist(),
        "equity": result.equity[::step].tolist(),
    }
