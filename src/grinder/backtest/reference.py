"""A straightforward per-event implementation of shared/bench/REFERENCE_GRID.md.

It is the oracle for the reference-grid benchmark (the real engine must produce the same fills)
and the "naive Python" baseline it is compared against. One symbol, integer ticks/lots, no fees,
no latency; every event is processed in order: 1) match the orders resting before the event,
2) the strategy step (anchor, position cap, reconcile).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from grinder.data.tape import QUOTE, Tape


@dataclass(frozen=True, slots=True)
class ReferenceParams:
    levels: int = 5
    spacing_bps: int = 10
    qty_lots: int = 10  # 0.01 BTC at stepSize 0.001
    max_pos_lots: int = 100  # 0.1 BTC


@dataclass(frozen=True, slots=True)
class RefFill:
    row: int  # tape row of the event that filled the order
    time_ms: int
    side: int  # +1 buy, -1 sell
    price_ticks: int
    qty_lots: int


@dataclass(slots=True)
class ReferenceResult:
    events: int = 0
    fills: list[RefFill] = field(default_factory=list)
    position_lots: int = 0
    realized_ticks_lots: float = 0.0  # realized PnL in tick*lot units (float: average-cost method)
    avg_price_ticks: float = 0.0
    last_mid2: int = 0
    reanchors: int = 0
    placements: int = 0
    cancels: int = 0

    def mtm_ticks_lots(self) -> float:
        return self.realized_ticks_lots + self.position_lots * (self.last_mid2 / 2.0 - self.avg_price_ticks)

    def fills_digest(self) -> str:
        return fills_digest((f.time_ms, f.side, f.price_ticks, f.qty_lots) for f in self.fills)


def fills_digest(fills: object) -> str:
    """sha256 over (time ms, side, price ticks, qty lots) of every fill, in order: engine-independent."""
    h = hashlib.sha256()
    for t, side, px, qty in fills:  # type: ignore[attr-defined]
        h.update(f"{t},{side},{px},{qty};".encode())
    return h.hexdigest()


def _apply_fill(res: ReferenceResult, side: int, px: int, qty: int) -> None:
    pos = res.position_lots
    signed = side * qty
    if pos == 0 or (pos > 0) == (signed > 0):  # opening / adding: new average cost
        new = pos + signed
        res.avg_price_ticks = (res.avg_price_ticks * abs(pos) + px * qty) / abs(new)
        res.position_lots = new
        return
    closing = min(qty, abs(pos))
    res.realized_ticks_lots += closing * (px - res.avg_price_ticks) * (1 if pos > 0 else -1)
    new = pos + signed
    if new == 0:
        res.avg_price_ticks = 0.0
    elif (new > 0) != (pos > 0):  # flipped: the remainder opens at the fill price
        res.avg_price_ticks = float(px)
    res.position_lots = new


def run_reference(
    tape: Tape, params: ReferenceParams = ReferenceParams(), stop: int | None = None
) -> ReferenceResult:
    """Run REFERENCE_GRID.md over the first `stop` rows of a one-symbol tape (quotes and trades)."""
    n = len(tape) if stop is None else min(stop, len(tape))
    kinds = tape.kind[:n].tolist()
    a = tape.a[:n].tolist()
    b = tape.b[:n].tolist()
    times = tape.time_ms[:n].tolist()
    L, s_bps, q, maxp = params.levels, params.spacing_bps, params.qty_lots, params.max_pos_lots
    res = ReferenceResult(events=n)
    buys: set[int] = set()  # resting buy prices (one order per price)
    sells: set[int] = set()
    anchor = 0
    have_quote = False
    offsets: list[int] = []
    for i in range(n):
        k = kinds[i]
        if k == QUOTE:
            bid, ask = a[i], b[i]
            lo, hi = ask, bid  # a buy fills if ask <= p, a sell if bid >= p
        else:
            lo = hi = a[i]
        # 1) match
        if buys and lo <= max(buys):
            for p in sorted((p for p in buys if lo <= p), reverse=True):
                buys.discard(p)
                res.fills.append(RefFill(i, times[i], 1, p, q))
                _apply_fill(res, 1, p, q)
        if sells and hi >= min(sells):
            for p in sorted(p for p in sells if hi >= p):
                sells.discard(p)
                res.fills.append(RefFill(i, times[i], -1, p, q))
                _apply_fill(res, -1, p, q)
        # 2) strategy step
        if k == QUOTE:
            have_quote = True
            mid2 = bid + ask
            res.last_mid2 = mid2
            if not offsets or abs(mid2 - 2 * anchor) > 2 * offsets[0]:
                if offsets:
                    res.reanchors += 1
                anchor = mid2 // 2
                offsets = [anchor * s_bps * j // 10_000 for j in range(1, L + 1)]
        if not have_quote:
            continue
        pos = res.position_lots
        nb = max(0, min(L, (maxp - pos) // q))
        ns = max(0, min(L, (maxp + pos) // q))
        want_b = {anchor - offsets[j] for j in range(nb)}
        want_s = {anchor + offsets[j] for j in range(ns)}
        if want_b != buys:
            res.cancels += len(buys - want_b)
            res.placements += len(want_b - buys)
            buys = want_b
        if want_s != sells:
            res.cancels += len(sells - want_s)
            res.placements += len(want_s - sells)
            sells = want_s
    return res


def reference_configs(backtest: Any = None, **venue: Any) -> dict[str, Any]:
    """REFERENCE_GRID.md as GRINDER configuration: keyword arguments for `Backtest(tape, **...)`.

    The reference has no risk layer, so the risk limits sit far out of reach (the guard still
    runs); fees are zero and fills happen at the touch. `venue` overrides VenueConfig fields;
    `backtest` is the BacktestConfig (default: no latency model, as REFERENCE_GRID.md defines).
    """
    from grinder.backtest.config import BacktestConfig
    from grinder.execution.config import ExecutionConfig
    from grinder.risk.config import RiskConfig
    from grinder.strategy.config import StrategyConfig
    from grinder.venue.config import VenueConfig

    big = Decimal("1e15")
    venue_fields: dict[str, Any] = {
        "fill_model": "touch",
        "maker_fee": Decimal(0),
        "taker_fee": Decimal(0),
        "initial_balance": Decimal(10**9),
        **venue,
    }
    return {
        "strategy_config": StrategyConfig.reference(),
        "risk_config": RiskConfig(
            max_notional_per_order=big,
            max_position_notional=big,
            max_total_position_notional=big,
            max_open_orders_per_symbol=200,
            orders_per_10s=10**9,
            orders_per_minute=10**9,
            max_drawdown_pct=Decimal("99.99"),
            daily_loss_limit=big,
        ),
        # the reference re-quotes exactly on every step: no tolerance, no holds, no write budget
        "execution_config": ExecutionConfig(
            equity_refresh_ms=10**15,
            price_tolerance_ticks=0,
            price_tolerance_bps=Decimal(0),
            crossed_hold_ms=0,
            write_share=Decimal(1),
            orders_per_10s_limit=10**9,
            orders_per_minute_limit=10**9,
            weight_per_minute_limit=10**9,
        ),
        "venue_config": VenueConfig(**venue_fields),
        "backtest_config": backtest if backtest is not None else BacktestConfig(latency=False),
    }
