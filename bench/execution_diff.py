"""Order-manager diff throughput: nothing changed vs the grid shifted, against a baseline in the same run.

Baseline: the cheapest possible "did anything change?" check, a plain dict comparison of
(level -> side, price, qty) tuples; the order manager's unchanged diff is reported as a ratio to it.
Shifted: every level moves each round, so every order is amended (plan + submit + accepted result).
Pipeline: `TradingPipeline.on_market_event` with the real GridStrategy, quiet book vs moving book.

    python bench/execution_diff.py            # full size
    python bench/execution_diff.py --small    # a few seconds
Last line: one JSON object with unit-named keys.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from grinder.core.commands import CommandResult, Outcome
from grinder.core.enums import OrderStatus, Side
from grinder.core.events import BookTicker
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, OrderManager, TradingPipeline
from grinder.risk import RiskConfig
from grinder.strategy import DesiredQuote, StrategyConfig, grid_factory

SYM = "BTCUSDT"


def grid(mid: int, levels: int) -> list[DesiredQuote]:
    out = [DesiredQuote(SYM, Side.BUY, mid - 10 * i, 10, f"b{i}", True) for i in range(1, levels + 1)]
    out += [DesiredQuote(SYM, Side.SELL, mid + 10 * i, 10, f"s{i}", True) for i in range(1, levels + 1)]
    return out


def loaded_manager(levels: int) -> OrderManager:
    om = OrderManager(ExecutionConfig(), ClientOrderIdFactory("bench", 1))
    for cmd in om.plan(SYM, grid(500_000, levels), mid_ticks=500_000):
        om.on_submitted(cmd)
        om.on_result(CommandResult(cmd, Outcome.ACCEPTED, order_id=1, status=OrderStatus.NEW))
    return om


def per_s(n: int, fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return n / (time.perf_counter() - start)


def bench_baseline(rounds: int, levels: int) -> float:
    quotes = grid(500_000, levels)
    working = {q.level: (q.side, q.price_ticks, q.qty_lots) for q in quotes}

    def run() -> None:
        for _ in range(rounds):
            changed = [q for q in quotes if working.get(q.level) != (q.side, q.price_ticks, q.qty_lots)]
            assert not changed

    return per_s(rounds, run)


def bench_unchanged(rounds: int, levels: int) -> float:
    om = loaded_manager(levels)
    quotes = grid(500_000, levels)

    def run() -> None:
        for _ in range(rounds):
            assert not om.plan(SYM, quotes, mid_ticks=500_000)

    return per_s(rounds, run)


def bench_shifted(rounds: int, levels: int) -> float:
    om = loaded_manager(levels)
    grids = [grid(500_000 + 3 * (k % 7), levels) for k in range(7)]

    def run() -> None:
        for r in range(rounds):
            cmds = om.plan(SYM, grids[(r + 1) % 7], mid_ticks=500_000)
            for cmd in cmds:
                om.on_submitted(cmd)
                om.on_result(CommandResult(cmd, Outcome.ACCEPTED, status=OrderStatus.NEW))

    return per_s(rounds, run)


def bench_pipeline(events: int, moving: bool) -> float:
    rules = btcusdt_rules("100")
    risk = RiskConfig(
        max_notional_per_order=Decimal("1000"),
        max_position_notional=Decimal("6000"),
        max_total_position_notional=Decimal("10000"),
        orders_per_10s=1_000_000,
        orders_per_minute=6_000_000,
    )
    p = TradingPipeline(
        {SYM: rules}, StrategyConfig.reference(), risk, ExecutionConfig(), ClientOrderIdFactory("bench", 1),
        strategy_factory=grid_factory,
    )
    t0 = 1_700_000_000_000
    p.on_wallet_balance(Decimal("100000"), t0)
    # moving: a zigzag of ±1 % (37 ticks per event) that keeps re-anchoring the grid; quiet: 1-tick jitter
    mids = [500_000 + (abs(37 * k % 20_000 - 10_000) - 5_000 if moving else k % 2) for k in range(events)]

    def run() -> None:
        for k, mid in enumerate(mids):
            now = t0 + k * 200
            cmds = p.on_market_event(BookTicker(SYM, mid - 1, 5, mid + 1, 5, k, now, now), now)
            for cmd in cmds:
                p.on_result(CommandResult(cmd, Outcome.ACCEPTED, status=OrderStatus.NEW))

    return per_s(events, run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="small sizes: runs in a few seconds")
    ap.add_argument("--levels", type=int, default=10, help="grid levels per side")
    args = ap.parse_args()
    rounds = 5_000 if args.small else 100_000
    events = 2_000 if args.small else 50_000
    baseline = bench_baseline(rounds, args.levels)
    unchanged = bench_unchanged(rounds, args.levels)
    shifted = bench_shifted(rounds // 5, args.levels)
    quiet = bench_pipeline(events, moving=False)
    moving = bench_pipeline(events // 5, moving=True)
    print(f"baseline dict compare      {baseline:12,.0f} /s  ({2 * args.levels} orders)")
    print(
        f"order manager, unchanged   {unchanged:12,.0f} /s  ({baseline / unchanged:.2f}x the baseline's cost)"
    )
    print(f"order manager, grid shift  {shifted:12,.0f} /s  (every order amended)")
    print(f"pipeline, quiet book       {quiet:12,.0f} events/s")
    print(f"pipeline, moving book      {moving:12,.0f} events/s")
    print(
        json.dumps(
            {
                "levels_per_side": args.levels,
                "baseline_compare_per_s": round(baseline),
                "unchanged_diffs_per_s": round(unchanged),
                "shifted_diffs_per_s": round(shifted),
                "unchanged_cost_vs_baseline_ratio": round(baseline / unchanged, 3),
                "shifted_cost_vs_unchanged_ratio": round(unchanged / shifted, 3),
                "pipeline_quiet_events_per_s": round(quiet),
                "pipeline_moving_events_per_s": round(moving),
            }
        )
    )


if __name__ == "__main__":
    main()
