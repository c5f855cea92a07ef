"""Benchmark: GridStrategy decisions (quote set + diff) and the per-event cost when nothing changes.

Runs on a seeded synthetic BTCUSDT-like stream (quotes and trades, mean-reverting mid with rare
jumps, like ../shared/bench/gen_data.py) and measures, in one process:

* nochange: `on_event` + `desired_quotes` for events inside the quiet band (the cached answer),
  for the reference grid (no features) and for the default config (features, controller, gate);
* decisions: a full decision on every event (the position alternates, so each quote set differs)
  plus the diff against the previous set;
* stream: the whole stream with fills from the reference fill model, diffing each new quote set
  against the previous one — decisions/s and events/s;
* baseline: a naive per-event transcription of REFERENCE_GRID.md (set of quotes + set diff on every
  event), measured in the same run; the ratios are printed against it.

Timings are process CPU time (time.process_time_ns): on a shared machine wall time mostly measures
the other tenants. Usage: python bench/strategy_decisions.py [--events N] [--small] [--seed S]
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from grinder.core.enums import PositionSide, Side
from grinder.core.events import BookTicker, Fill, Trade
from grinder.core.rules import btcusdt_rules
from grinder.strategy import GridStrategy, StrategyConfig
from grinder.strategy.types import QuoteSet

SYM = "BTCUSDT"
T0 = 1_700_000_000_000


def make_stream(n: int, seed: int) -> list[BookTicker | Trade]:
    """Quotes (70%) and trades (30%); latent mid mean-reverts to the start with rare jumps."""
    rng = random.Random(seed)
    start = 600_000
    lat = float(start)
    t = T0
    out: list[BookTicker | Trade] = []
    bid = ask = start
    for i in range(n):
        t += rng.randint(1, 20)
        if rng.random() < 0.7:
            lat += -0.001 * (lat - start) + rng.gauss(0.0, 12.0)
            if rng.random() < 0.0005:
                lat += rng.choice((-1, 1)) * 900
            mid = round(lat)
            spread = 1 + (rng.random() < 0.2)
            bid, ask = mid - spread // 2, mid - spread // 2 + spread
            out.append(BookTicker(SYM, bid, rng.randint(1, 40), ask, rng.randint(1, 40), i, t, t))
        else:
            px = bid if rng.random() < 0.5 else ask
            out.append(Trade(SYM, i, px + rng.randint(-3, 3), rng.randint(1, 30), rng.random() < 0.5, t, t))
    return out


def quiet_stream(n: int) -> list[BookTicker | Trade]:
    """Events that never leave the quiet band of a grid anchored at 600_000 (mid jitters ±2 ticks)."""
    out: list[BookTicker | Trade] = []
    for i in range(n):
        t = T0 + i
        j = (i * 7) % 5 - 2
        if i % 3 == 2:
            out.append(Trade(SYM, i, 600_000 + j, 3, i % 2 == 0, t, t))
        else:
            out.append(BookTicker(SYM, 599_999 + j, 10, 600_001 + j, 10, i, t, t))
    return out


def ev_time(ev: BookTicker | Trade) -> int:
    return ev.transaction_time_ms if type(ev) is BookTicker else ev.trade_time_ms  # type: ignore[union-attr]


def diff(prev: QuoteSet | None, new: QuoteSet) -> tuple[int, int]:
    """(cancels, places) between two quote sets, keyed by (side, price, qty)."""
    old = set() if prev is None else {(q.side, q.price_ticks, q.qty_lots) for q in prev.quotes}
    cur = {(q.side, q.price_ticks, q.qty_lots) for q in new.quotes}
    return len(old - cur), len(cur - old)


def bench_nochange(cfg: StrategyConfig, events: list[BookTicker | Trade]) -> float:
    """ns per event for on_event + desired_quotes on in-band events (the cached answer)."""
    s = GridStrategy(SYM, btcusdt_rules("0"), cfg)
    s.on_event(events[0])
    first = s.desired_quotes(0, ev_time(events[0]))
    on_event, desired = s.on_event, s.desired_quotes
    times = [ev_time(e) for e in events]
    gc.disable()
    t0 = time.process_time_ns()
    for ev, t in zip(events, times, strict=True):
        on_event(ev)
        desired(0, t)
    dt = time.process_time_ns() - t0
    gc.enable()
    assert s.desired_quotes(0, times[-1]) is first, "quiet stream left the band"
    # the reference grid never recomputes here; with features, once per evaluation interval
    assert s.recomputes * 500 <= len(events), s.recomputes
    return dt / len(events)


def bench_decisions(cfg: StrategyConfig, events: list[BookTicker | Trade]) -> float:
    """ns per full decision: on_event + a recomputed quote set + its diff against the previous one.

    The position alternates between flat and 60 lots, so every quote set differs from the last
    (the cap removes a buy level) and the diff is never empty.
    """
    s = GridStrategy(SYM, btcusdt_rules("0"), cfg)
    on_event, desired = s.on_event, s.desired_quotes
    times = [ev_time(e) for e in events]
    prev: QuoteSet | None = None
    changes = 0
    gc.disable()
    t0 = time.process_time_ns()
    for k, (ev, t) in enumerate(zip(events, times, strict=True)):
        on_event(ev)
        qs = desired(60 if k & 1 else 0, t)
        c, p = diff(prev, qs)
        changes += c + p
        prev = qs
    dt = time.process_time_ns() - t0
    gc.enable()
    assert s.recomputes == len(events) and changes >= len(events) - 1, (s.recomputes, changes)
    return dt / len(events)


def run_stream(cfg: StrategyConfig, events: list[BookTicker | Trade]) -> dict[str, float]:
    """The whole stream with the reference fill model; diff on every new quote set."""
    s = GridStrategy(SYM, btcusdt_rules("0"), cfg)
    resting: list[tuple[Side, int, int, str]] = []
    pos = 0
    prev: QuoteSet | None = None
    fills = decisions = places = cancels = 0
    seen_quote = False
    gc.disable()
    t0 = time.process_time_ns()
    for ev in events:
        if type(ev) is BookTicker:
            seen_quote = True
            lo, hi, t = ev.ask_ticks, ev.bid_ticks, ev.transaction_time_ms
        else:
            lo = hi = ev.price_ticks  # type: ignore[union-attr]
            t = ev.trade_time_ms  # type: ignore[union-attr]
        filled = False
        if resting:
            hit = [o for o in resting if (o[1] >= lo if o[0] is Side.BUY else o[1] <= hi)]
            if hit:
                filled = True
                for side, price, qty, level in hit:
                    pos += qty if side is Side.BUY else -qty
                    s.on_fill(
                        Fill(
                            SYM,
                            0,
                            f"grinder_grid_{SYM}_{level}_1_1",
                            fills,
                            side,
                            PositionSide.BOTH,
                            price,
                            qty,
                            True,
                            Decimal(0),
                            "USDT",
                            Decimal(0),
                            t,
                        )
                    )
                    fills += 1
                resting = [o for o in resting if o not in hit]
        s.on_event(ev)
        if not seen_quote:
            continue
        qs = s.desired_quotes(pos, t)
        if qs is not prev:
            decisions += 1
            c, p = diff(prev, qs)
            cancels += c
            places += p
            prev = qs
            resting = [(q.side, q.price_ticks, q.qty_lots, q.level) for q in qs.quotes]
        elif filled:
            # same quote set after a fill: the filled levels are placed again
            places += len(qs.quotes) - len(resting)
            resting = [(q.side, q.price_ticks, q.qty_lots, q.level) for q in qs.quotes]
    dt = time.process_time_ns() - t0
    gc.enable()
    return {
        "seconds": dt / 1e9,
        "events_per_s": len(events) / (dt / 1e9),
        "decisions": decisions,
        "recomputes": s.recomputes,
        "fills": fills,
        "places": places,
        "cancels": cancels,
        "reanchors": s.reanchors,
        "final_position_lots": pos,
    }


def run_naive_baseline(events: list[BookTicker | Trade]) -> dict[str, float]:
    """REFERENCE_GRID.md written plainly: recompute the desired set and diff it on every event."""
    L, s_bps, qty, max_pos = 5, 10, 10, 100
    anchor: int | None = None
    resting: set[tuple[Side, int]] = set()
    pos = fills = 0
    bid = ask = 0
    gc.disable()
    t0 = time.process_time_ns()
    for ev in events:
        if type(ev) is BookTicker:
            bid, ask = ev.bid_ticks, ev.ask_ticks
            hit = {o for o in resting if (ask <= o[1] if o[0] is Side.BUY else bid >= o[1])}
        else:
            p = ev.price_ticks  # type: ignore[union-attr]
            hit = {o for o in resting if (p <= o[1] if o[0] is Side.BUY else p >= o[1])}
        for o in hit:
            pos += qty if o[0] is Side.BUY else -qty
            fills += 1
        resting -= hit
        if not bid:
            continue
        mid2 = bid + ask
        if anchor is None or abs(mid2 - 2 * anchor) > 2 * (anchor * s_bps // 10000):
            anchor = mid2 // 2
        d = [anchor * s_bps * i // 10000 for i in range(1, L + 1)]
        nb, ns = min(L, (max_pos - pos) // qty), min(L, (max_pos + pos) // qty)
        desired = {(Side.BUY, anchor - d[i]) for i in range(nb)} | {
            (Side.SELL, anchor + d[i]) for i in range(ns)
        }
        if desired != resting:
            resting = desired
    dt = time.process_time_ns() - t0
    gc.enable()
    return {
        "seconds": dt / 1e9,
        "events_per_s": len(events) / (dt / 1e9),
        "fills": fills,
        "final_position_lots": pos,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--small", action="store_true", help="20k events: runs in seconds")
    ap.add_argument("--seed", type=int, default=20240101)
    args = ap.parse_args()
    n = 20_000 if args.small else args.events
    ref = StrategyConfig.reference()
    default = StrategyConfig()
    quiet = quiet_stream(n)
    stream = make_stream(n, args.seed)

    ns_nochange = bench_nochange(ref, quiet)
    ns_nochange_feat = bench_nochange(default, quiet)
    n_rc = max(2_000, n // 10)
    ns_recompute = bench_decisions(ref, quiet[:n_rc])
    ns_recompute_feat = bench_decisions(default, quiet[:n_rc])
    ref_run = run_stream(ref, stream)
    def_run = run_stream(default, stream)
    naive = run_naive_baseline(stream)
    assert (
        ref_run["fills"] == naive["fills"] and ref_run["final_position_lots"] == naive["final_position_lots"]
    ), "reference config diverged from the naive transcription"
    decisions_per_s = 1e9 / ns_recompute
    print(f"events: {n:,} (quiet stream for the no-change path; synthetic market for the stream runs)")
    print(f"no-change path, reference grid : {ns_nochange:8.0f} ns/event")
    print(f"no-change path, default config : {ns_nochange_feat:8.0f} ns/event (features updated every event)")
    print(f"decision + diff, reference grid: {ns_recompute:8.0f} ns/event  -> {decisions_per_s:,.0f}/s")
    print(f"decision + diff, default config: {ns_recompute_feat:8.0f} ns/event")
    print(f"no-change vs full decision     : {ns_recompute / ns_nochange:6.1f}x cheaper")
    r = ref_run
    print(
        f"stream, reference grid  : {r['events_per_s']:,.0f} events/s, {r['recomputes']:,} recomputes, "
        f"{r['decisions']:,} new quote sets, {r['fills']:,} fills"
    )
    d = def_run
    print(f"stream, default config  : {d['events_per_s']:,.0f} events/s, {d['recomputes']:,} recomputes")
    print(f"baseline (naive per-event reference grid, same run): {naive['events_per_s']:,.0f} events/s")
    print(f"ratio stream/baseline (reference grid): {ref_run['events_per_s'] / naive['events_per_s']:.2f}x")
    print(
        json.dumps(
            {
                "events": n,
                "ns_per_event_nochange": round(ns_nochange, 1),
                "ns_per_event_nochange_features": round(ns_nochange_feat, 1),
                "ns_per_decision_reference": round(ns_recompute, 1),
                "ns_per_decision_default": round(ns_recompute_feat, 1),
                "decisions_per_s": round(decisions_per_s),
                "stream_events_per_s_reference": round(ref_run["events_per_s"]),
                "stream_events_per_s_default": round(def_run["events_per_s"]),
                "baseline_naive_events_per_s": round(naive["events_per_s"]),
                "ratio_stream_vs_baseline": round(ref_run["events_per_s"] / naive["events_per_s"], 3),
                "ratio_nochange_vs_decision": round(ns_recompute / ns_nochange, 2),
                "stream_recomputes_reference": ref_run["recomputes"],
                "stream_fills_reference": ref_run["fills"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
