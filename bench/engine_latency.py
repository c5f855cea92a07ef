"""Engine tick-to-order latency and memory against `grinder sim` on loopback (sim in its own process).

Latency, for a market message that caused order commands, from the moment the stream hands it to
the engine (decoded) to the order requests written to the socket (the WebSocket API frame handed
to the socket, or for REST the request headers written, by aiohttp trace):
- tick-to-first-order: the first of its requests written (what a quote update waits for);
- tick-to-all-orders: the last of its requests written (a re-anchoring grid sends several);
- decision: the pipeline alone (strategy, risk guard, order manager), for the same messages.
The path includes the journal append (SQLite WAL, synchronous=NORMAL here), the connector's gates,
filter checks, signing and aiohttp.

Orders go over the WebSocket API (`[binance] order_transport = "ws"`, the default); the headline
phase is also run with `order_transport = "rest"`, its figures prefixed `rest_` in the same JSON.

Baseline, same run, same market: on every 20th book ticker a bare task sends one request over the
same transport (a `ticker.price` frame on its own WebSocket API connection; GET /fapi/v1/time for
REST): the floor set by the stream, asyncio and aiohttp alone.
The simulator runs at niceness 10 (`--sim-nice`): on a shared 2-core box, waking it at every
request write would otherwise let it preempt the engine, which a remote exchange never does.
The machine's load average is reported with the figures: other processes' CPU use shows up
directly in the p99s.

The order path alone is compared too (`--order-path-pairs`): against the headline's simulator,
`BinanceFuturesPort.submit` → request written, WebSocket API and REST interleaved in rounds.

Two phases, each with its own simulator and baseline:
1. headline: market speed 5 for 90 s (the process is far from saturated: a few % CPU);
2. accelerated: market speed 20 for 300 s (100 market-minutes): latency under load, and memory:
   RSS at the end of each quarter and the slope of the last half. Latency samples go into
   arrays allocated and touched before the RSS start, so the benchmark's own records do not
   show up as engine growth.

    python bench/engine_latency.py            # 90 s at speed 5 (WS API, REST) + 300 s at speed 20 (~9 min)
    python bench/engine_latency.py --quick    # ~30 s, for CI
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import numpy as np

from grinder.binance.auth import Credentials
from grinder.binance.config import BinanceConfig
from grinder.binance.rest import BinanceRestClient
from grinder.binance.streams import MarketStreams
from grinder.binance.ws_api import BinanceWsApiClient, ws_api_url_for
from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.config import BinanceFuturesPortConfig, LiveConnectorConfig
from grinder.core.commands import CancelOrder, PlaceOrder
from grinder.core.enums import OrderType, SafeMode, Side
from grinder.core.events import BookTicker
from grinder.core.ids import ClientOrderIdFactory
from grinder.live.config import EngineConfig
from grinder.live.journal import open_journal
from grinder.live.wiring import EngineSettings, build_engine
from grinder.ops.logging import setup_logging
from grinder.risk.config import RiskConfig
from grinder.store import StoreConfig, Synchronous
from grinder.strategy import GridConfig, StrategyConfig

SYMBOLS = ("BTCUSDT", "ETHUSDT")
KEY, SECRET = "grinder-sim-key", "grinder-sim-secret"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sched_ns() -> tuple[int, int]:
    """(on-CPU ns, runnable-but-waiting-for-a-CPU ns) of this process's main thread."""
    try:
        on_cpu, waiting, _ = Path("/proc/self/schedstat").read_text().split()
        return int(on_cpu), int(waiting)
    except (OSError, ValueError):
        return 0, 0


def start_sim(speed: float, nice: int = 0) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "grinder.cli", "sim", "--port", "0", "--speed", str(speed), "--seed", "11",
         "--symbols", ",".join(SYMBOLS), "--orders-limit-10s", "100000", "--orders-limit-1m", "1000000",
         "--weight-limit", "1000000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
    assert proc.stdout is not None
    for _ in range(50):
        m = re.search(r"REST (http://\S+)\s+WS (ws://\S+)", proc.stdout.readline())
        if m:
            return proc, m.group(1), m.group(2)
    proc.kill()
    raise SystemExit("grinder sim did not start")


async def baseline(rest_url: str, ws_url: str, seconds: float, transport: str = "rest") -> list[int]:
    """Tick → request written, for a bare task (no decision, no journal): a `ticker.price` frame on a
    WebSocket API connection (transport "ws"), or GET /fapi/v1/time headers (transport "rest")."""
    samples: list[int] = []
    recv_of: dict[int, int] = {}
    trace = aiohttp.TraceConfig()

    async def on_sent(session: Any, ctx: Any, params: Any) -> None:
        recv = recv_of.pop(id(ctx.trace_request_ctx), None) if ctx.trace_request_ctx is not None else None
        if recv is not None:
            samples.append(time.monotonic_ns() - recv)

    trace.on_request_headers_sent.append(on_sent)
    session = aiohttp.ClientSession(trace_configs=[trace])
    rest = BinanceRestClient(rest_url)
    rules = {s: r for s, r in (await _rules(rest)).items() if s in SYMBOLS}
    seen = 0
    tasks: set[asyncio.Task[None]] = set()
    ws_api = await session.ws_connect(ws_api_url_for(ws_url)) if transport == "ws" else None
    drain = asyncio.get_running_loop().create_task(_drain(ws_api)) if ws_api is not None else None

    async def ping(recv: int) -> None:
        if ws_api is not None:
            await ws_api.send_str(json.dumps({"id": seen, "method": "ticker.price",
                                              "params": {"symbol": SYMBOLS[0]}}))
            samples.append(time.monotonic_ns() - recv)
            return
        marker = SimpleNamespace()
        recv_of[id(marker)] = recv
        async with session.get(f"{rest_url}/fapi/v1/time", trace_request_ctx=marker) as resp:
            await resp.read()

    def on_event(ev: Any) -> None:
        nonlocal seen
        recv = time.monotonic_ns()
        if isinstance(ev, BookTicker):
            seen += 1
            if seen % 20 == 0:
                t = asyncio.get_running_loop().create_task(ping(recv))
                tasks.add(t)
                t.add_done_callback(tasks.discard)

    streams = MarketStreams(rules, config=BinanceConfig(rest_url=rest_url, ws_url=ws_url), rest=rest,
                            on_event=on_event)
    for s in SYMBOLS:
        await streams.subscribe(s, ("bookTicker",))
    await streams.start()
    await asyncio.sleep(seconds)
    await streams.stop()
    if tasks:
        await asyncio.wait(tasks, timeout=5)
    if ws_api is not None and drain is not None:
        await ws_api.close()
        await drain
    await session.close()
    await rest.close()
    return samples


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:
        pass


async def _rules(rest: BinanceRestClient) -> dict[str, Any]:
    info = await rest.exchange_info()
    return dict(info.rules)


def settings_for(rest_url: str, ws_url: str, journal: Path, transport: str = "ws") -> EngineSettings:
    grid = GridConfig(levels=3, spacing_bps=Decimal("3"), order_notional=Decimal("110"),
                      max_position=Decimal("0.2"))
    return EngineSettings(
        engine=EngineConfig(symbols=SYMBOLS, stale_feed_s=5.0),
        connector=LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, symbols=SYMBOLS,
                                      max_notional_per_order=Decimal("125")),
        binance=BinanceConfig(rest_url=rest_url, ws_url=ws_url, order_transport=transport),
        strategy=StrategyConfig(grid=grid, strategy_tag="bench"),
        risk=RiskConfig(max_notional_per_order=Decimal("125"), max_position_notional=Decimal("3000"),
                        max_total_position_notional=Decimal("6000"), daily_loss_limit=Decimal("100000"),
                        max_drawdown_pct=Decimal("99"), orders_per_10s=100000, orders_per_minute=1000000),
        store=StoreConfig(journal_path=str(journal), synchronous=Synchronous.NORMAL),
    )


class Samples:
    """Latency samples (ns) in a preallocated array: constant memory while the run goes on."""

    def __init__(self, capacity: int) -> None:
        self.data = np.ones(capacity, dtype=np.int64)  # written once: pages resident before RSS start
        self.count = 0
        self.dropped = 0

    def add(self, ns: int) -> None:
        if self.count < len(self.data):
            self.data[self.count] = ns
            self.count += 1
        else:
            self.dropped += 1

    def percentile_us(self, q: float) -> float | None:
        return None if not self.count else float(np.quantile(self.data[: self.count], q)) / 1000

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "p50_us": self.percentile_us(0.5), "p99_us": self.percentile_us(0.99)}

    def since(self, start: int) -> np.ndarray:
        return self.data[start : self.count]


WINDOWS = ("tick_to_first_order", "tick_to_all_orders", "tick_to_order", "decision")


def q_us(a: np.ndarray, q: float) -> float | None:
    return round(float(np.quantile(a, q)) / 1000, 1) if len(a) else None


def slope_mb_per_min(t_s: list[float], mb: list[float]) -> float:
    if len(t_s) < 2:
        return float("nan")
    k, _ = np.polyfit(np.asarray(t_s), np.asarray(mb), 1)
    return float(k) * 60


async def engine_run(
    rest_url: str, ws_url: str, seconds: float, journal: Path, capacity: int, warmup_s: float = 600.0,
    transport: str = "ws",
) -> dict[str, Any]:
    settings = settings_for(rest_url, ws_url, journal, transport)
    jr, epoch = open_journal(settings.store)
    engine = await build_engine(settings, journal=jr, api_key=KEY, api_secret=SECRET, id_epoch_s=epoch)
    engine.gc_freeze = True  # as `grinder live` runs it (run.serve)
    windows = {name: Samples(capacity) for name in WINDOWS}
    for name, w in windows.items():
        setattr(engine.latency, name, w)  # the engine's LatencyTracker records into these
    port = engine.parts.connector.config.futures_port
    ws_client = getattr(port, "ws_client", None)
    ws_up = ws_client is not None and ws_client.is_connected
    if (transport == "ws") != ws_up:
        raise SystemExit(f"order transport {transport} was asked for but the engine's WebSocket API "
                         f"session is {'up' if ws_up else 'down'}")
    task = asyncio.get_running_loop().create_task(engine.run())
    await asyncio.sleep(min(3.0, seconds / 4))  # warm-up: connections, first quotes, caches
    gc.collect()
    marks = {name: w.count for name, w in windows.items()}
    t0 = time.monotonic()
    rss_t, rss = [0.0], [rss_mb()]
    cpu0 = time.process_time()
    sched0 = sched_ns()
    end = t0 + seconds
    while time.monotonic() < end:
        await asyncio.sleep(1.0)
        rss_t.append(time.monotonic() - t0)
        rss.append(rss_mb())
    cpu_s = time.process_time() - cpu0
    sched1 = sched_ns()
    engine.stop()
    await task
    n = len(rss) - 1
    quarters = [round(rss[round(n * k / 4)], 1) for k in (1, 2, 3, 4)]
    half = n // 2
    out: dict[str, Any] = {name: windows[name].since(marks[name]) for name in WINDOWS}
    out.update({
        "dropped": sum(w.dropped for w in windows.values()),
        "rss_start_mb": rss[0], "rss_end_mb": rss[-1], "rss_max_mb": max(rss), "rss_quarters_mb": quarters,
        "rss_last_half_slope_mb_per_min": slope_mb_per_min(rss_t[half:], rss[half:]),
        # Issue #13's target: the slope once caches have reached their bounds (after `warmup_s`).
        "rss_slope_after_warmup_mib_per_min": slope_mb_per_min(
            [t for t in rss_t if t >= warmup_s],
            [m for t, m in zip(rss_t, rss, strict=True) if t >= warmup_s]),
        "cpu_pct": 100 * cpu_s / max(1e-9, rss_t[-1]),
        # Time the engine was ready to run but another process had the CPU (machine noise).
        "cpu_wait_ms_per_s": (sched1[1] - sched0[1]) / 1e6 / max(1e-9, rss_t[-1]),
        "orders": engine.counts.as_dict(),
        "fills": sum(v.fill_count for v in engine.views.values()),
        "roundtrip": engine.latency.order_roundtrip.as_dict(),
    })
    return out


async def phase(
    speed: float, seconds: float, baseline_s: float, capacity: int, nice: int, warmup_s: float = 600.0,
    transport: str = "ws", transport_pairs: int = 0,
) -> dict[str, Any]:
    sim, rest_url, ws_url = start_sim(speed, nice)
    try:
        base = await baseline(rest_url, ws_url, baseline_s, transport)
        with tempfile.TemporaryDirectory() as tmp:
            eng = await engine_run(rest_url, ws_url, seconds, Path(tmp) / "journal.sqlite3", capacity,
                                   warmup_s, transport)
        if transport_pairs:
            eng["order_path"] = await transport_only(rest_url, ws_url, transport_pairs)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(10)
    eng["baseline"] = np.asarray(base, dtype=np.int64)
    return eng


async def transport_only(rest_url: str, ws_url: str, pairs: int) -> dict[str, Any]:
    """The order path alone, both transports against the same simulator, interleaved in rounds:
    `BinanceFuturesPort.submit(place)` → the request written (frame handed to the socket / REST
    headers written), for `pairs` place+cancel pairs per transport. No stream, no decision, no journal."""
    written: list[int] = []
    start = [0]

    def stamp() -> None:
        if start[0]:
            written.append(time.monotonic_ns() - start[0])
            start[0] = 0

    async def on_sent(session: Any, ctx: Any, params: Any) -> None:
        stamp()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_sent)
    session = aiohttp.ClientSession(trace_configs=[trace])
    rest = BinanceRestClient(rest_url, api_key=KEY, api_secret=SECRET, session=session)
    ws = BinanceWsApiClient(ws_api_url_for(ws_url), rest, Credentials(KEY, SECRET))
    ws.on_written = stamp
    port_cfg = BinanceFuturesPortConfig(base_url=rest_url)
    ports = {"ws": BinanceFuturesPort(port_cfg, http_client=rest, ws_client=ws),
             "rest": BinanceFuturesPort(port_cfg, http_client=rest)}
    samples: dict[str, list[int]] = {"ws": [], "rest": []}
    try:
        for port in ports.values():
            await port.start()
        await rest.sync_time()
        rules = await ports["ws"].symbol_rules(SYMBOLS[0])
        mid = await ports["ws"].mid_price(SYMBOLS[0])
        price_ticks = rules.price_to_ticks(rules.round_price(mid / 2, "floor"))
        ids = ClientOrderIdFactory("tx", int(time.time()))
        lots = max(rules.min_lots_for_notional(price_ticks), 1)
        rounds = 10
        for _ in range(rounds):
            for name, port in ports.items():
                for _ in range(max(1, pairs // rounds)):
                    cmd = PlaceOrder(symbol=SYMBOLS[0], side=Side.BUY, order_type=OrderType.LIMIT,
                                     qty_lots=lots, client_order_id=ids.next_id(SYMBOLS[0], "b1"),
                                     price_ticks=price_ticks)
                    written.clear()
                    start[0] = time.monotonic_ns()
                    await port.submit(cmd)
                    start[0] = 0
                    samples[name] += written[:1]
                    await port.submit(CancelOrder(symbol=SYMBOLS[0], client_order_id=cmd.client_order_id))
    finally:
        await ports["ws"].close()
        await session.close()
    out: dict[str, Any] = {}
    for name, values in samples.items():
        arr = np.asarray(values, dtype=np.int64)
        out[f"order_path_{name}_p50_us"] = q_us(arr, 0.5)
        out[f"order_path_{name}_p99_us"] = q_us(arr, 0.99)
        out[f"order_path_{name}_count"] = len(values)
    return out


def figures(prefix: str, r: dict[str, Any], speed: float, seconds: float) -> dict[str, Any]:
    first, last, every, dec, base = (r["tick_to_first_order"], r["tick_to_all_orders"], r["tick_to_order"],
                                     r["decision"], r["baseline"])
    p99_first, p99_base = q_us(first, 0.99), q_us(base, 0.99)
    if r["orders"]["placed"] and not len(every):
        # The engine wrote orders but none reached these windows: the hook is broken, not the engine.
        raise SystemExit(f"{prefix or 'headline '}phase: {r['orders']['placed']} orders placed but no "
                         "tick-to-order sample recorded (bench/engine_latency.py no longer attaches its "
                         "windows to the engine's LatencyTracker)")
    return {
        f"{prefix}market_speed": speed,
        f"{prefix}duration_s": seconds,
        f"{prefix}ticks_with_orders": len(first),
        f"{prefix}order_requests": len(every),
        f"{prefix}tick_to_first_order_p50_us": q_us(first, 0.5),
        f"{prefix}tick_to_first_order_p99_us": p99_first,
        f"{prefix}tick_to_all_orders_p50_us": q_us(last, 0.5),
        f"{prefix}tick_to_all_orders_p99_us": q_us(last, 0.99),
        f"{prefix}tick_to_order_every_p50_us": q_us(every, 0.5),
        f"{prefix}tick_to_order_every_p99_us": q_us(every, 0.99),
        f"{prefix}decision_p50_us": q_us(dec, 0.5),
        f"{prefix}decision_p99_us": q_us(dec, 0.99),
        f"{prefix}baseline_p50_us": q_us(base, 0.5),
        f"{prefix}baseline_p99_us": p99_base,
        f"{prefix}first_order_p99_vs_baseline_p99_ratio": (round(p99_first / p99_base, 2)
                                                           if p99_first and p99_base else None),
        f"{prefix}cpu_pct": round(r["cpu_pct"], 1),
        f"{prefix}cpu_wait_ms_per_s": round(r["cpu_wait_ms_per_s"], 2),
        f"{prefix}orders_placed": r["orders"]["placed"],
        f"{prefix}orders_amended": r["orders"]["amended"],
        f"{prefix}orders_cancelled": r["orders"]["cancelled"],
        f"{prefix}fills": r["fills"],
        f"{prefix}order_roundtrip_p50_us": r["roundtrip"]["p50_us"],
    }


def describe(title: str, f: dict[str, Any], p: str) -> str:
    return (f"{title} (speed {f[p + 'market_speed']}, {f[p + 'duration_s']} s, "
            f"{f[p + 'ticks_with_orders']} ticks with orders, {f[p + 'order_requests']} requests, "
            f"CPU {f[p + 'cpu_pct']}%, waited for a CPU {f[p + 'cpu_wait_ms_per_s']} ms/s):\n"
            f"  tick-to-first-order p50={f[p + 'tick_to_first_order_p50_us']}µs "
            f"p99={f[p + 'tick_to_first_order_p99_us']}µs\n"
            f"  tick-to-all-orders  p50={f[p + 'tick_to_all_orders_p50_us']}µs "
            f"p99={f[p + 'tick_to_all_orders_p99_us']}µs\n"
            f"  decision            p50={f[p + 'decision_p50_us']}µs p99={f[p + 'decision_p99_us']}µs\n"
            f"  baseline (bare req) p50={f[p + 'baseline_p50_us']}µs p99={f[p + 'baseline_p99_us']}µs; "
            f"first-order p99 / baseline p99 = {f[p + 'first_order_p99_vs_baseline_p99_ratio']}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=5.0, help="headline market speed (default 5)")
    parser.add_argument("--duration", type=float, default=90.0, help="headline seconds after warm-up")
    parser.add_argument("--accel-speed", type=float, default=20.0,
                        help="accelerated market speed (default 20)")
    parser.add_argument("--accel-duration", type=float, default=300.0,
                        help="accelerated seconds after warm-up, for memory (default 300; 0 skips)")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=600.0,
                        help="RSS slope is also reported over the samples after this many seconds of the "
                             "accelerated phase (default 600: e.g. --accel-duration 3600 for issue #13)")
    parser.add_argument("--sim-nice", type=int, default=10,
                        help="niceness of the simulator process (default 10; 0 = same as the engine)")
    parser.add_argument("--capacity", type=int, default=400_000, help="latency samples kept per series")
    parser.add_argument("--quick", action="store_true", help="small run for CI: 8 s + 12 s, 3 s baselines")
    parser.add_argument("--order-path-pairs", type=int, default=600,
                        help="place+cancel pairs per transport for the order-path-alone comparison (0 skips)")
    parser.add_argument("--no-rest", action="store_true",
                        help="skip the REST headline phase (run for comparison by default)")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.accel_duration, args.baseline_seconds, args.capacity = 8.0, 12.0, 3.0, 50_000
        args.order_path_pairs = min(args.order_path_pairs, 100)
        args.warmup_s = 4.0
    setup_logging("ERROR")
    load_start = os.getloadavg()[0]
    head = asyncio.run(phase(args.speed, args.duration, args.baseline_seconds, args.capacity, args.sim_nice,
                             transport_pairs=args.order_path_pairs))
    result: dict[str, Any] = {"order_transport": "ws"}
    result.update(figures("", head, args.speed, args.duration))
    print(describe("headline, orders over the WebSocket API", result, ""))
    if "order_path" in head:
        result.update(head["order_path"])
        print(f"order path alone (port.submit -> request written, {result['order_path_ws_count']} orders "
              f"each): WebSocket API p50={result['order_path_ws_p50_us']}µs "
              f"p99={result['order_path_ws_p99_us']}µs; REST p50={result['order_path_rest_p50_us']}µs "
              f"p99={result['order_path_rest_p99_us']}µs")
    if not args.no_rest:
        rest = asyncio.run(phase(args.speed, args.duration, args.baseline_seconds, args.capacity,
                                 args.sim_nice, transport="rest"))
        result.update(figures("rest_", rest, args.speed, args.duration))
        print(describe("headline, orders over REST (comparison)", result, "rest_"))
    if args.accel_duration > 0:
        acc = asyncio.run(phase(args.accel_speed, args.accel_duration, args.baseline_seconds, args.capacity,
                                args.sim_nice, args.warmup_s))
        result.update(figures("accel_", acc, args.accel_speed, args.accel_duration))
        result.update({
            "rss_start_mb": round(acc["rss_start_mb"], 1),
            "rss_end_mb": round(acc["rss_end_mb"], 1),
            "rss_max_mb": round(acc["rss_max_mb"], 1),
            "rss_growth_mb": round(acc["rss_end_mb"] - acc["rss_start_mb"], 1),
            "rss_quarter_ends_mb": acc["rss_quarters_mb"],
            "rss_last_half_slope_mb_per_min": round(acc["rss_last_half_slope_mb_per_min"], 3),
            "rss_warmup_s": args.warmup_s,
            "rss_slope_after_warmup_mib_per_min": round(acc["rss_slope_after_warmup_mib_per_min"], 3),
            "samples_dropped": acc["dropped"],
        })
        print(describe("accelerated", result, "accel_"))
        print(f"RSS start={result['rss_start_mb']}MB quarter ends={result['rss_quarter_ends_mb']}MB "
              f"max={result['rss_max_mb']}MB; "
              f"last-half slope {result['rss_last_half_slope_mb_per_min']} MB/min; "
              f"after {args.warmup_s:.0f} s: {result['rss_slope_after_warmup_mib_per_min']} MiB/min")
    result["load_avg_1m_start"] = round(load_start, 2)
    result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print(f"machine load average (1 min): {result['load_avg_1m_start']} at start, "
          f"{result['load_avg_1m_end']} at end (2 cores)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
