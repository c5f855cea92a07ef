"""Terminal views of an engine status snapshot: a rich live dashboard, or plain lines for non-TTYs.

Both read the same dict that /status serves, so what the operator sees on screen is what the ops
endpoint reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _fmt_us(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}µs"


def _fmt_money(value: Any) -> Text:
    amount = float(value or 0)
    style = "green" if amount > 0 else "red" if amount < 0 else ""
    return Text(f"{amount:+.2f}", style=style)


def _grid_text(sym: Mapping[str, Any]) -> str:
    """Our resting grid in a few characters: count and best price per side."""
    bids = sym.get("working_bids") or []
    asks = sym.get("working_asks") or []
    bid_s = f"{len(bids)}b≤{bids[0]}" if bids else "0b"
    ask_s = f"{len(asks)}a≥{asks[0]}" if asks else "0a"
    return f"{bid_s} {ask_s}"


def _mid(sym: Mapping[str, Any]) -> str:
    bid, ask = sym.get("bid"), sym.get("ask")
    if not bid or not ask:
        return "-"
    return f"{(float(bid) + float(ask)) / 2:.2f}"


def render(status: Mapping[str, Any], *, title: str = "GRINDER") -> Group:
    """A rich renderable of one status snapshot (prices, grid, position, fills, PnL, latency, gates)."""
    head = Text()
    head.append(f"{title}  ", style="bold")
    head.append(f"mode={status.get('mode')} armed={status.get('armed')} role={status.get('role')} ")
    head.append("(realized is net of fees) ", style="dim")
    ready = bool(status.get("ready"))
    head.append("READY" if ready else "NOT READY", style="bold green" if ready else "bold red")
    elapsed = status.get("uptime_s")
    if elapsed is not None:
        head.append(f"  t={float(elapsed):.1f}s")

    table = Table(expand=True, show_lines=False, box=box.SIMPLE_HEAD)
    for col in ("symbol", "mid", "our grid", "pos", "fills", "realized", "unreal.", "net"):
        grid = col == "our grid"
        table.add_column(col, no_wrap=not grid, overflow="fold", min_width=11 if grid else None)
    feed = status.get("feed", {})
    for name, sym in (status.get("symbols") or {}).items():
        realized = float(sym.get("realized_pnl") or 0) - float(sym.get("fees") or 0)
        table.add_row(
            name,
            _mid(sym),
            _grid_text(sym),
            str(sym.get("position_qty")),
            str(sym.get("fills")),
            _fmt_money(realized),
            _fmt_money(sym.get("unrealized_pnl")),
            _fmt_money(sym.get("net_pnl")),
        )

    lat = status.get("latency", {})
    t2o = lat.get("tick_to_first_order") or lat.get("tick_to_order", {})
    rtt = lat.get("order_roundtrip", {})
    orders = status.get("orders", {})
    gates = status.get("gates", {})
    foot = Text()
    foot.append(
        f"tick→first order p50={_fmt_us(t2o.get('p50_us'))} p99={_fmt_us(t2o.get('p99_us'))}   "
        f"order RTT p50={_fmt_us(rtt.get('p50_us'))} p99={_fmt_us(rtt.get('p99_us'))}\n"
    )
    counts = " ".join(
        f"{k}={orders.get(k, 0)}" for k in ("placed", "cancelled", "rejected", "blocked", "unknown")
    )
    foot.append(f"orders {counts}\n")
    ages = "  ".join(
        f"{name} {'-' if (a := v.get('age_s')) is None else f'{float(a):.1f}s'}"
        for name, v in feed.items() if isinstance(v, Mapping)
    )
    foot.append(f"feed age: {ages}\n")
    foot.append("gates: " + "  ".join(f"{k}={'pass' if v else 'BLOCK'}" for k, v in gates.items()))
    reasons = status.get("reasons") or []
    if reasons:
        foot.append("\nnot ready: " + "; ".join(str(r) for r in reasons), style="yellow")
    recent = status.get("recent_fills") or []
    fills = Table(title="recent fills", expand=True, show_edge=False)
    for col in ("time", "symbol", "side", "price", "qty", "maker"):
        fills.add_column(col)
    for f in recent[-6:]:
        fills.add_row(str(f.get("time")), f.get("symbol", ""), f.get("side", ""), str(f.get("price")),
                      str(f.get("qty")), "yes" if f.get("is_maker") else "no")
    return Group(Panel(head), table, fills, Panel(foot, title="latency / orders / gates"))


def plain_line(status: Mapping[str, Any]) -> str:
    """One log-style line per snapshot for CI logs and pipes (no terminal control codes)."""
    parts = [
        f"t={float(status.get('uptime_s') or 0):.1f}s",
        f"mode={status.get('mode')}",
        f"armed={status.get('armed')}",
        f"ready={status.get('ready')}",
    ]
    for name, sym in (status.get("symbols") or {}).items():
        parts.append(
            f"{name} bid={sym.get('bid')} ask={sym.get('ask')} pos={sym.get('position_qty')} "
            f"fills={sym.get('fills')} net_pnl={float(sym.get('net_pnl') or 0):+.2f} "
            f"orders={sym.get('working_orders')}"
        )
    t2o = (status.get("latency") or {}).get("tick_to_order", {})
    parts.append(f"tick_to_order_p99={_fmt_us(t2o.get('p99_us'))}")
    return "status " + " ".join(parts)
