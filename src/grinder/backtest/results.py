"""Backtest figures from a run log: PnL split, fills, round trips, drawdown, Sharpe/Sortino, inventory.

Money is summed in Decimal from the venue's fills (fees, realized PnL, funding); curves (equity,
drawdown, inventory) are floats sampled every `bar_ms` at the last quote at or before each bar's
close; risk ratios use returns every `sharpe_bar_ms` relative to the starting balance, annualised
over 365 days. A round trip is one FIFO match of an opening lot with a closing fill.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from grinder.backtest.engine import RunLog
from grinder.core.commands import AmendOrder, CancelOrder, PlaceOrder
from grinder.core.rules import SymbolRules
from grinder.data.tape import QUOTE, Tape

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
YEAR_MS = 365 * 86_400_000


@dataclass(slots=True)
class SymbolSeries:
    """Per-symbol curves at bar closes, plus the fills for the price chart."""

    mid: F64
    position_qty: F64
    fill_times_ms: I64
    fill_prices: F64
    fill_sides: npt.NDArray[np.int8]  # +1 buy, -1 sell


@dataclass(slots=True)
class BacktestResult:
    summary: dict[str, Any]
    symbols: dict[str, dict[str, Any]]
    bar_times_ms: I64
    equity: F64
    series: dict[str, SymbolSeries] = field(default_factory=dict)
    digest: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "symbols": self.symbols, "digest": self.digest}


def _mid_at(tape: Tape, sym: int, rows: I64, rules: SymbolRules) -> F64:
    """Mid price (float) of the last quote of `sym` at or before each row (NaN before the first quote)."""
    multi = len(tape.symbols) > 1
    r = rows.copy()
    ok = np.zeros(len(r), dtype=np.bool_)
    for _ in range(256):
        valid = r >= 0
        cand = np.where(valid, r, 0)
        hit = valid & (tape.kind[cand] == QUOTE)
        if multi:
            hit &= tape.sym[cand] == sym
        ok |= hit
        if ok.all() or not (valid & ~ok).any():
            break
        r = np.where(ok, r, r - 1)
    if not ok.all():  # sparse symbol: resolve the rest exactly
        q = np.flatnonzero((tape.kind == QUOTE) & (tape.sym == sym) if multi else tape.kind == QUOTE)
        k = np.searchsorted(q, rows[~ok], side="right") - 1
        r[~ok] = np.where(k >= 0, q[np.maximum(k, 0)], -1)
        ok = r >= 0
    mid2 = np.full(len(r), np.nan)
    idx = r[ok]
    mid2[ok] = tape.a[idx].astype(np.float64) + tape.b[idx].astype(np.float64)
    return mid2 / 2.0 * float(rules.tick_size)


def _round_trips(fills: list[tuple[int, int, int]]) -> list[float]:
    """FIFO round-trip PnL (tick*lot units) from (side, price ticks, lots) fills of one symbol."""
    book: deque[list[int]] = deque()  # [signed lots, price]
    out: list[float] = []
    for side, px, lots in fills:
        left = lots
        while left and book and (book[0][0] > 0) != (side > 0):
            open_lots, open_px = book[0]
            m = min(left, abs(open_lots))
            direction = 1 if open_lots > 0 else -1
            out.append(float((px - open_px) * m * direction))
            book[0][0] -= m * direction
            left -= m
            if book[0][0] == 0:
                book.popleft()
        if left:
            book.append([side * left, px])
    return out


def _ratios(equity: F64, step: int, initial: float) -> tuple[float | None, float | None, float]:
    eq = equity[::step] if step > 1 else equity
    if len(eq) < 3 or initial <= 0:
        return None, None, 0.0
    r = np.diff(eq) / initial
    return _sharpe(r), _sortino(r), float(len(r))


def _sharpe(r: F64) -> float | None:
    sd = float(r.std(ddof=1)) if len(r) > 1 else 0.0
    return None if sd == 0 else float(r.mean()) / sd


def _sortino(r: F64) -> float | None:
    down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return None if down == 0 else float(r.mean()) / down


def _funding_summary(tape: Tape, log: RunLog) -> str:
    """One line: funding known (and from what) or unknown and why; never a silent 0."""
    if log.funding_unknown:
        parts = []
        for sym, t, lots in log.funding_unknown:
            step = tape.rules[tape.symbol_index(sym)].step_size
            when = datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
            parts.append(f"{sym} held {lots * step} at {when}")
        return (
            "unknown: no funding rate for "
            + "; ".join(parts)
            + " (the data has no mark-price stream covering it: pass --funding with Binance's fundingRate "
            "history, net PnL excludes it)"
        )
    states = sorted(set(log.funding_status.values()))
    return "; ".join(states) if states else ""


def summarize(
    tape: Tape, log: RunLog, *, initial_balance: Decimal, bar_ms: int, sharpe_bar_ms: int, wall_s: float = 0.0
) -> BacktestResult:
    n = log.rows_processed + log.rows_skipped
    t0, t1 = int(tape.clock_ms[0]), int(tape.clock_ms[n - 1])
    bars = np.arange(t0 + bar_ms, t1 + bar_ms, bar_ms, dtype=np.int64)
    if len(bars) == 0 or bars[-1] != t1:
        bars = np.append(bars[bars < t1], t1)
    bar_rows = np.searchsorted(tape.clock_ms[:n], bars, side="right").astype(np.int64) - 1
    init = float(initial_balance)
    equity = np.full(len(bars), init)
    symbols: dict[str, dict[str, Any]] = {}
    series: dict[str, SymbolSeries] = {}
    tot_fees = tot_rpnl = tot_funding = Decimal(0)
    tot_turnover = 0.0
    all_trips: list[float] = []
    unknown_syms = {u[0] for u in log.funding_unknown}
    for si, sym in enumerate(tape.symbols):
        rules = tape.rules[si]
        unit = float(rules.tick_size * rules.step_size)
        fl = [f.fill for f in log.fills if f.fill.symbol == sym]
        times = np.array([f.time_ms for f in fl], dtype=np.int64)
        sides = np.array([f.side.sign for f in fl], dtype=np.int8)
        px = np.array([f.price_ticks for f in fl], dtype=np.float64)
        lots = np.array([f.qty_lots for f in fl], dtype=np.float64)
        fees = sum((f.commission for f in fl), Decimal(0))
        rpnl = sum((f.realized_pnl for f in fl), Decimal(0))
        funding = sum((a for _, s, a in log.funding if s == sym), Decimal(0))
        # position and cash at each bar close
        k = np.searchsorted(times, bars, side="right")
        pos_cum = np.concatenate([[0.0], np.cumsum(sides * lots)])
        cash_cum = np.concatenate([[0.0], np.cumsum(-sides * lots * px * unit)])
        fee_cum = np.concatenate([[0.0], np.cumsum([float(f.commission) for f in fl])])
        mid = _mid_at(tape, si, bar_rows, rules)
        pos_lots = pos_cum[k]
        value = (
            cash_cum[k]
            - fee_cum[k]
            + np.where(pos_lots != 0, pos_lots * float(rules.step_size) * np.nan_to_num(mid), 0.0)
        )
        equity += value
        fund_times = np.array([t for t, s, _ in log.funding if s == sym], dtype=np.int64)
        fund_amt = np.array([float(a) for _, s, a in log.funding if s == sym], dtype=np.float64)
        if len(fund_times):
            equity += np.concatenate([[0.0], np.cumsum(fund_amt)])[
                np.searchsorted(fund_times, bars, side="right")
            ]
        trips = _round_trips(
            list(
                zip(sides.tolist(), px.astype(np.int64).tolist(), lots.astype(np.int64).tolist(), strict=True)
            )
        )
        all_trips.extend(t * unit for t in trips)
        # exact time-weighted inventory from the fill times
        edges = np.concatenate([[t0], np.clip(times, t0, t1), [t1]])
        durations = np.diff(edges).astype(np.float64)
        levels = pos_cum  # position in force on each interval
        span = float(max(1, t1 - t0))
        step = float(rules.step_size)
        final_pos = float(pos_cum[-1])
        last_mid = float(mid[-1]) if len(mid) and math.isfinite(mid[-1]) else 0.0
        turnover = float((lots * px).sum()) * unit
        symbols[sym] = {
            "fills": len(fl),
            "buys": int((sides > 0).sum()),
            "sells": int((sides < 0).sum()),
            "maker_fills": sum(1 for f in fl if f.is_maker),
            "volume_qty": float(lots.sum()) * step,
            "turnover_usdt": turnover,
            "fees_usdt": str(fees),
            "realized_pnl_usdt": str(rpnl),
            "funding_usdt": None if sym in unknown_syms else str(funding),
            "funding_status": log.funding_status.get(sym, ""),
            "final_position_qty": final_pos * step,
            "last_mid": last_mid,
            "round_trips": len(trips),
            "win_rate": (sum(1 for t in trips if t > 0) / len(trips)) if trips else None,
            "max_abs_position_qty": float(np.abs(pos_cum).max()) * step,
            "avg_position_qty": float((levels * durations).sum() / span) * step,
            "avg_abs_position_qty": float((np.abs(levels) * durations).sum() / span) * step,
            "time_flat_pct": 100.0 * float(durations[levels == 0].sum()) / span,
            "time_long_pct": 100.0 * float(durations[levels > 0].sum()) / span,
            "time_short_pct": 100.0 * float(durations[levels < 0].sum()) / span,
            "paused_s": log.paused_ms.get(sym, 0) / 1000.0,
            "paused_pct": 100.0 * log.paused_ms.get(sym, 0) / span,
            **log.strategy_stats.get(sym, {}),
        }
        series[sym] = SymbolSeries(mid, pos_lots * step, times, px * float(rules.tick_size), sides)
        tot_fees += fees
        tot_rpnl += rpnl
        tot_funding += funding
        tot_turnover += turnover
    net = float(equity[-1]) - init if len(equity) else 0.0
    peak = np.maximum.accumulate(equity)
    dd = equity - peak
    dd_i = int(dd.argmin()) if len(dd) else 0
    step = max(1, sharpe_bar_ms // bar_ms)
    sharpe, sortino, periods = _ratios(equity, step, init)
    ann = math.sqrt(YEAR_MS / sharpe_bar_ms)
    counts = {"place": 0, "cancel": 0, "amend": 0, "rejected": 0}
    for c in log.commands:
        if isinstance(c.command, PlaceOrder):
            counts["place"] += 1
        elif isinstance(c.command, CancelOrder):
            counts["cancel"] += 1
        elif isinstance(c.command, AmendOrder):
            counts["amend"] += 1
        if c.outcome == "rejected":
            counts["rejected"] += 1
    unrealized = net - float(tot_rpnl) + float(tot_fees) - float(tot_funding)
    summary: dict[str, Any] = {
        "events": n,
        "events_processed": log.rows_processed,
        "events_skipped": log.rows_skipped,
        "symbols": list(tape.symbols),
        "start_ms": t0,
        "end_ms": t1,
        "duration_s": (t1 - t0) / 1000.0,
        "initial_balance_usdt": str(initial_balance),
        "final_equity_usdt": float(equity[-1]) if len(equity) else init,
        "net_pnl_usdt": net,
        "realized_pnl_usdt": str(tot_rpnl),
        "unrealized_pnl_usdt": unrealized,
        "fees_usdt": str(tot_fees),
        "funding_usdt": None if unknown_syms else str(tot_funding),
        "funding_status": _funding_summary(tape, log),
        "fills": len(log.fills),
        "round_trips": len(all_trips),
        "win_rate": (sum(1 for t in all_trips if t > 0) / len(all_trips)) if all_trips else None,
        "avg_round_trip_pnl_usdt": (sum(all_trips) / len(all_trips)) if all_trips else None,
        "max_drawdown_usdt": float(-dd.min()) if len(dd) else 0.0,
        "max_drawdown_pct": float(-dd[dd_i] / peak[dd_i] * 100.0) if len(dd) and peak[dd_i] > 0 else 0.0,
        "sharpe_annualized": None if sharpe is None else sharpe * ann,
        "sortino_annualized": None if sortino is None else sortino * ann,
        "return_periods": int(periods),
        "turnover_usdt": tot_turnover,
        "turnover_x_balance": tot_turnover / init if init else None,
        "orders_placed": counts["place"],
        "orders_cancelled": counts["cancel"],
        "orders_amended": counts["amend"],
        "commands_rejected": counts["rejected"],
        "commands_blocked": len(log.blocked),
        "paused_s": sum(log.paused_ms.values()) / 1000.0,
        "band_breaks": log.band_breaks,
        "depth_gaps": log.depth_gaps,
        "wall_s": wall_s,
        "digest": log.digest,
    }
    return BacktestResult(summary, symbols, bars, equity, series, log.digest)
