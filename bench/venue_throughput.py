#!/usr/bin/env python3
"""Events per second through the venue model (grinder.venue) on the synthetic benchmark market.

Data: <repo>/../shared/bench/gen_data.py output (Parquet), generated into --data when missing.
Runs, on the same quotes:
  baseline       a plain Python loop that only reads each quote (bid, ask, lots, time)
  per_event      Venue.on_book_ticker on every quote (BookTicker built per event), orders resting
                 far from the market (no quote touches them)
  batch          Venue.apply_quotes over the same quotes and orders (the vectorised fast path)
  grid_mixed     quotes and trades merged by time, a 5-level 10 bps grid that re-centres after
                 every fill (touch model, then queue model); quiet stretches go through
                 apply_quotes/apply_trades, touching events through on_book_ticker/on_trade one by one
Prints each figure with its ratio to the baseline, then ONE JSON line last.

    python bench/venue_throughput.py            # 2M events
    python bench/venue_throughput.py --small    # 200k events, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.events import BookTicker, OrderUpdate, Trade
from grinder.core.rules import btcusdt_rules
from grinder.venue import Venue, VenueConfig

SYM = "BTCUSDT"
GEN = str(Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "gen_data.py")


def load(data: Path, n: int, gen: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    bt = data / f"BTCUSDT-bookTicker-synth-{n}.parquet"
    at = data / f"BTCUSDT-aggTrades-synth-{n}.parquet"
    if not bt.exists() or not at.exists():
        print(f"generating {n} events into {data} with {gen}", file=sys.stderr)
        subprocess.run([sys.executable, gen, "-n", str(n), "--out", str(data)], check=True)
    q = pq.read_table(bt).to_pydict()
    t = pq.read_table(at).to_pydict()
    # Floats exist only in the Parquet file; convert to ticks/lots once, exactly, here.
    quotes = {
        "bid": np.rint(np.asarray(q["best_bid_price"]) * 10).astype(np.int64),
        "bid_lots": np.rint(np.asarray(q["best_bid_qty"]) * 1000).astype(np.int64),
        "ask": np.rint(np.asarray(q["best_ask_price"]) * 10).astype(np.int64),
        "ask_lots": np.rint(np.asarray(q["best_ask_qty"]) * 1000).astype(np.int64),
        "time": np.asarray(q["transaction_time"], dtype=np.int64),
    }
    trades = {
        "price": np.rint(np.asarray(t["price"]) * 10).astype(np.int64),
        "lots": np.rint(np.asarray(t["quantity"]) * 1000).astype(np.int64),
        "buyer_is_maker": np.asarray(t["is_buyer_maker"], dtype=bool),
        "time": np.asarray(t["transact_time"], dtype=np.int64),
        "id": np.asarray(t["agg_trade_id"], dtype=np.int64),
    }
    return quotes, trades


def new_venue(fill_model: str = "queue") -> Venue:
    cfg = VenueConfig(
        maker_fee=Decimal(0), taker_fee=Decimal(0), initial_balance=Decimal(10**9), fill_model=fill_model
    )
    return Venue(cfg, {SYM: btcusdt_rules(min_notional="0")})


def far_orders(v: Venue, q: dict[str, np.ndarray]) -> None:
    """A buy and a sell far outside the whole price range: no quote ever touches them."""
    lo, hi = int(q["bid"].min()), int(q["ask"].max())
    t0 = int(q["time"][0])
    v.place(PlaceOrder(SYM, Side.BUY, OrderType.LIMIT, 10, "far-b", price_ticks=lo - 100), t0)
    v.place(PlaceOrder(SYM, Side.SELL, OrderType.LIMIT, 10, "far-s", price_ticks=hi + 100), t0)


def run_baseline(q: dict[str, np.ndarray]) -> float:
    bid, ask, bl, al, tm = (q[k].tolist() for k in ("bid", "ask", "bid_lots", "ask_lots", "time"))
    t0 = time.perf_counter()
    acc = 0
    for i in range(len(bid)):
        acc += bid[i] + ask[i] + bl[i] + al[i] + tm[i]
    dt = time.perf_counter() - t0
    assert acc != 0
    return len(bid) / dt


def run_per_event(q: dict[str, np.ndarray], limit: int) -> float:
    v = new_venue()
    far_orders(v, q)
    bid, ask, bl, al, tm = (q[k][:limit].tolist() for k in ("bid", "ask", "bid_lots", "ask_lots", "time"))
    on_quote = v.on_book_ticker
    t0 = time.perf_counter()
    for i in range(len(bid)):
        on_quote(BookTicker(SYM, bid[i], bl[i], ask[i], al[i], 0, tm[i], tm[i]))
    dt = time.perf_counter() - t0
    assert v.user_trades(SYM) == []
    return len(bid) / dt


def run_batch(q: dict[str, np.ndarray], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        v = new_venue()
        far_orders(v, q)
        t0 = time.perf_counter()
        k = v.apply_quotes(SYM, q["bid"], q["bid_lots"], q["ask"], q["ask_lots"], q["time"])
        dt = time.perf_counter() - t0
        assert k == len(q["bid"]) and v.best_bid_ask(SYM) == (
            int(q["bid"][-1]),
            int(q["bid_lots"][-1]),
            int(q["ask"][-1]),
            int(q["ask_lots"][-1]),
        )
        best = max(best, len(q["bid"]) / dt)
    return best


class Grid:
    """REFERENCE_GRID-like quoting: 5 levels each side, 10 bps apart, 10 lots, re-centred after a fill."""

    def __init__(self, v: Venue) -> None:
        self.v = v
        self.seq = 0
        self.fills = 0

    def recentre(self, now_ms: int) -> None:
        v = self.v
        v.cancel_all(SYM, now_ms)
        bb = v.best_bid_ask(SYM)
        if bb is None:
            return
        anchor = (bb[0] + bb[2]) // 2
        for i in range(1, 6):
            d = anchor * 10 * i // 10_000
            for side, px in ((Side.BUY, anchor - d), (Side.SELL, anchor + d)):
                self.seq += 1
                v.place(
                    PlaceOrder(
                        SYM,
                        side,
                        OrderType.LIMIT,
                        10,
                        f"g{self.seq}",
                        price_ticks=px,
                        time_in_force=TimeInForce.GTC,
                    ),
                    now_ms,
                )

    def idle(self) -> bool:
        return not self.v.open_orders(SYM)

    def after_event(self, now_ms: int) -> None:
        evs = self.v.drain_events()
        filled = sum(1 for e in evs if isinstance(e, OrderUpdate) and e.is_fill)
        if filled or not self.v.open_orders(SYM):
            self.fills += filled
            self.recentre(now_ms)


def run_grid_mixed(
    q: dict[str, np.ndarray], t: dict[str, np.ndarray], fill_model: str
) -> tuple[float, int, int]:
    v = new_venue(fill_model)
    grid = Grid(v)
    qt, tt = q["time"], t["time"]
    nq, nt = len(qt), len(tt)
    iq = it = 0
    individual = 0
    t0 = time.perf_counter()
    while iq < nq or it < nt:
        if grid.idle():  # the strategy acts on the next event: no skipping
            kt = it
            bound = int(np.searchsorted(qt, tt[kt])) if kt < nt else nq
            kq = iq
        else:
            kt = v.apply_trades(SYM, t["price"], tt, start=it)
            bound = int(np.searchsorted(qt, tt[kt])) if kt < nt else nq
            kq = v.apply_quotes(
                SYM, q["bid"], q["bid_lots"], q["ask"], q["ask_lots"], qt, start=iq, end=bound
            )
        individual += 1
        if kq < bound:
            now = int(qt[kq])
            v.on_book_ticker(
                BookTicker(
                    SYM,
                    int(q["bid"][kq]),
                    int(q["bid_lots"][kq]),
                    int(q["ask"][kq]),
                    int(q["ask_lots"][kq]),
                    0,
                    now,
                    now,
                )
            )
            iq = kq + 1
            it = max(it, int(np.searchsorted(tt, now)))
        elif kt < nt:
            now = int(tt[kt])
            v.on_trade(
                Trade(
                    SYM,
                    int(t["id"][kt]),
                    int(t["price"][kt]),
                    int(t["lots"][kt]),
                    bool(t["buyer_is_maker"][kt]),
                    now,
                    now,
                )
            )
            it = kt + 1
            iq = bound
        else:  # nothing touches in either stream until their ends
            iq, it = nq, nt
            continue
        grid.after_event(now)
    dt = time.perf_counter() - t0
    return (nq + nt) / dt, individual, grid.fills


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data",
        default=os.environ.get("GRINDER_BENCH_DATA") or "bench-data",
        help="directory with (or for) the gen_data.py Parquet files",
    )
    ap.add_argument("-n", "--events", type=int, default=2_000_000, help="events in the data set (all kinds)")
    ap.add_argument("--small", action="store_true", help="200k events: runs in seconds")
    ap.add_argument("--gen", default=GEN, help="path of gen_data.py")
    args = ap.parse_args()
    n = 200_000 if args.small else args.events
    q, t = load(Path(args.data), n, args.gen)
    nq = len(q["bid"])
    per_event_limit = min(nq, 300_000)

    base = run_baseline(q)
    per_event = run_per_event(q, per_event_limit)
    batch = run_batch(q, 3)
    mixed, individual, fills = run_grid_mixed(q, t, "touch")
    mixed_q, individual_q, fills_q = run_grid_mixed(q, t, "queue")

    print(f"quotes: {nq}, trades: {len(t['price'])}")
    print(f"baseline (plain loop reading each quote): {base:,.0f} events/s")
    print(f"per_event on_book_ticker, no touch: {per_event:,.0f} events/s ({per_event / base:.2f}x baseline)")
    print(f"batch apply_quotes, no touch:       {batch:,.0f} events/s ({batch / base:.2f}x baseline)")
    print(
        f"grid_mixed quotes+trades, 5x2 grid: {mixed:,.0f} events/s ({mixed / base:.2f}x baseline; "
        f"{individual} events handled one by one, {fills} fills)"
    )
    print(
        f"grid_mixed, queue fill model:        {mixed_q:,.0f} events/s ({mixed_q / base:.2f}x baseline; "
        f"{individual_q} events handled one by one, {fills_q} fills)"
    )
    target = 5_000_000
    print(f"target >= {target:,} events/s on non-touching quotes: {'met' if batch >= target else 'NOT met'}")
    print(
        json.dumps(
            {
                "quotes": nq,
                "trades": len(t["price"]),
                "baseline_events_per_s": round(base),
                "per_event_events_per_s": round(per_event),
                "batch_events_per_s": round(batch),
                "grid_mixed_events_per_s": round(mixed),
                "grid_mixed_individual_events": individual,
                "grid_mixed_fills": fills,
                "grid_mixed_queue_events_per_s": round(mixed_q),
                "grid_mixed_queue_fills": fills_q,
                "batch_vs_baseline_ratio": round(batch / base, 2),
                "per_event_vs_baseline_ratio": round(per_event / base, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
