"""The HTML report of a live run (the demo's output): price with our fills, position and PnL per symbol.

Built with `grinder.report` (self-contained HTML, inline SVG, no JavaScript), from the engine's
status view and the simulator's trade list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grinder.live.engine import LiveEngine
from grinder.live.wiring import EngineSettings
from grinder.report import (
    Section,
    equity_drawdown_chart,
    inventory_chart,
    key_values,
    price_fills_chart,
    render_report,
    table,
)


def _symbol_sections(engine: LiveEngine) -> list[Section]:
    sections: list[Section] = []
    for name, view in engine.views.items():
        times = [t for t, _ in view.price_series]
        prices = [p for _, p in view.price_series]
        buys = [f for f in view.fills if f.side == "BUY"]
        sells = [f for f in view.fills if f.side == "SELL"]
        chart = price_fills_chart(
            times, prices,
            ([f.time_ms for f in buys], [float(f.price) for f in buys]),
            ([f.time_ms for f in sells], [float(f.price) for f in sells]),
            title=f"{name}: mid price and our fills",
        )
        sections.append(Section(f"{name} price and fills", chart,
                                note="green ▲ = our buy fills, red ▼ = our sell fills"))
        pos_t = [t for t, _ in view.position_series]
        pos_v = [v for _, v in view.position_series]
        sections.append(Section(f"{name} position", inventory_chart(pos_t, pos_v, title=f"{name} position",
                                                                     unit=view.rules.base_asset or "qty")))
        eq_t = [t for t, _ in view.equity_series]
        eq_v = [v for _, v in view.equity_series]
        pnl_chart = equity_drawdown_chart(eq_t, eq_v, title=f"{name} net PnL (USDT)")
        sections.append(Section(f"{name} PnL", pnl_chart,
                                note="realized - fees + unrealized at the mid, from our own fills"))
    return sections


def write_report(
    path: Path,
    engine: LiveEngine,
    settings: EngineSettings,
    *,
    sim_trades: list[dict[str, Any]],
    checks: dict[str, Any],
    started_ms: int,
    speed: float,
    seed: int,
) -> None:
    status = engine.status()
    lat = status["latency"]
    summary: dict[str, object] = {
        "exchange": f"{status['exchange']} (grinder sim, seed {seed}, market speed {speed:g}x)",
        "mode / armed": f"{status['mode']} / {settings.connector.armed}",
        "orders placed / cancelled / amended": (
            f"{status['orders']['placed']} / {status['orders']['cancelled']} / {status['orders']['amended']}"
        ),
        "rejected / blocked / unknown": (
            f"{status['orders']['rejected']} / {status['orders']['blocked']} / {status['orders']['unknown']}"
        ),
        "tick-to-order p50 / p99 (µs)": f"{_num(lat['tick_to_order']['p50_us'])} / "
                                        f"{_num(lat['tick_to_order']['p99_us'])}",
        "order round trip p50 / p99 (µs)": f"{_num(lat['order_roundtrip']['p50_us'])} / "
                                           f"{_num(lat['order_roundtrip']['p99_us'])}",
        "journal fills vs simulator trades": (
            f"{checks['journal_fills']} vs {checks['simulator_trades']}: "
            f"{'match' if checks['match'] else 'MISMATCH'}"
        ),
    }
    rows = []
    for name, sym in status["symbols"].items():
        rows.append([name, int(sym["fills"]), sym["position_qty"], f"{float(sym['realized_pnl']):.4f}",
                     f"{float(sym['fees']):.4f}", f"{float(sym['unrealized_pnl']):.4f}",
                     f"{float(sym['net_pnl']):.4f}", f"{float(sym['volume_quote']):.2f}"])
    per_symbol = table(["symbol", "fills", "position", "realized", "fees", "unrealized", "net PnL", "volume"],
                       rows)
    fills_rows = [
        [f"{t['time_ms']}", t["symbol"], t["side"], t["price_ticks"], t["qty_lots"], t["trade_id"]]
        for t in sim_trades[-200:]
    ]
    sections = [
        Section("Summary", key_values(summary)),
        Section("Per symbol (USDT)", per_symbol),
        *_symbol_sections(engine),
        Section("Last simulator trades of ours",
                table(["time ms", "symbol", "side", "price ticks", "qty lots", "trade id"], fills_rows)),
    ]
    html = render_report("GRINDER demo", sections, subtitle="live engine against the local simulator",
                         generated_ms=started_ms)
    path.write_text(html, encoding="utf-8")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
