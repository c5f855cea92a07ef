"""Engine tick-to-order latency and memory against `grinder sim` on loopback (sim in its own process).

Tick-to-order: a market message handed to the engine by the stream → the order request's headers
written to the socket (aiohttp trace), for every command a tick caused. This covers the strategy,
risk guard, order manager, journal append (SQLite WAL) and the connector's gates.

Baseline, same run, same market: on every 20th book ticker a bare task sends GET /fapi/v1/time
through the same kind of session — the floor set by asyncio scheduling and aiohttp alone.
RSS is sampled through an accelerated run; start (after warm-up) and end are reported.

    python bench/engine_latency.py            # 60 s at market speed 20 (20 minutes of market)
    python bench/engine_latency.py --quick    # 8 s, for CI
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from grinder.binance.config import BinanceConfig
from grinder.binance.rest import BinanceRestClient
from grinder.binance.streams import MarketStreams
from grinder.connector.config import LiveConnectorConfig
from grinder.core.enums import SafeMode
from grinder.core.events import BookTicker
from grinder.live.config import EngineConfig
from grinder.live.journal import open_journal
from grinder.live.state import LatencyWindow
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


def pct(samples: list[int], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1000.0


def start_sim(speed: float) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "grinder.cli", "sim", "--port", "0", "--speed", str(speed), "--seed", "11",
         "--symbols", ",".join(SYMBOLS), "--orders-limit-10s", "100000", "--orders-limit-1m", "1000000",
         "--weight-limit", "1000000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    for _ in range(50):
        m = re.search(r"REST (http://\S+)\s+WS (ws://\S+)", proc.stdout.readline())
        if m:
            return proc, m.group(1), m.group(2)
    proc.kill()
    raise SystemExit("grinder sim did not start")


async def baseline(rest_url: str, ws_url: str, seconds: float) -> list[int]:
    """Tick → GET /fapi/v1/time headers written, for a bare task (no decision, no journal)."""
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

    async def ping(recv: int) -> None:
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
    await session.close()
    await rest.close()
    return samples


async def _rules(rest: BinanceRestClient) -> dict[str, Any]:
    info = await rest.exchange_info()
    return dict(info.rules)


def settings_for(rest_url: str, ws_url: str, journal: Path) -> EngineSettings:
    grid = GridConfig(levels=3, spacing_bps=Decimal("3"), order_notional=Decimal("110"),
                      max_position=Decimal("0.2"))
    return EngineSettings(
        engine=EngineConfig(symbols=SYMBOLS, stale_feed_s=5.0),
        connector=LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, symbols=SYMBOLS,
                                      max_notional_per_order=Decimal("125")),
        binance=BinanceConfig(rest_url=rest_url, ws_url=ws_url),
        strategy=StrategyConfig(grid=grid, strategy_tag="bench"),
        risk=RiskConfig(max_notional_per_order=Decimal("125"), max_position_notional=Decimal("3000"),
                        max_total_position_notional=Decimal("6000"), daily_loss_limit=Decimal("100000"),
                        max_drawdown_pct=Decimal("99"), orders_per_10s=100000, orders_per_minute=1000000),
        store=StoreConfig(journal_path=str(journal), synchronous=Synchronous.NORMAL),
    )


async def engine_run(rest_url: str, ws_url: str, seconds: float, journal: Path) -> dict[str, Any]:
    settings = settings_for(rest_url, ws_url, journal)
    jr, epoch = open_journal(settings.store)
    engine = await build_engine(settings, journal=jr, api_key=KEY, api_secret=SECRET, id_epoch_s=epoch)
    engine.tick_to_order = LatencyWindow(size=10_000_000)
    engine.decision = LatencyWindow(size=10_000_000)
    task = asyncio.get_running_loop().create_task(engine.run())
    await asyncio.sleep(min(3.0, seconds / 4))  # warm-up: connections, first quotes, caches
    rss_start = rss_mb()
    warm_count = engine.tick_to_order.count
    warm_decisions = engine.decision.count
    rss_samples = [rss_start]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(1.0)
        rss_samples.append(rss_mb())
    engine.stop()
    await task
    samples = list(engine.tick_to_order._samples)[warm_count:]
    return {
        "samples": samples,
        "decisions": list(engine.decision._samples)[warm_decisions:],
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_samples[-1],
        "rss_max_mb": max(rss_samples),
        "rss_quartiles_mb": [round(rss_samples[int(q * (len(rss_samples) - 1))], 1)
                             for q in (0.25, 0.5, 0.75)],
        "orders": engine.counts.as_dict(),
        "fills": sum(v.fill_count for v in engine.views.values()),
        "roundtrip": engine.order_roundtrip.as_dict(),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sim, rest_url, ws_url = start_sim(args.speed)
    try:
        base = await baseline(rest_url, ws_url, args.baseline_seconds)
        with tempfile.TemporaryDirectory() as tmp:
            eng = await engine_run(rest_url, ws_url, args.duration, Path(tmp) / "journal.sqlite3")
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(10)
    s = eng["samples"]
    result = {
        "duration_s": args.duration,
        "market_speed": args.speed,
        "tick_to_order_count": len(s),
        "tick_to_order_p50_us": round(pct(s, 0.5), 1),
        "tick_to_order_p99_us": round(pct(s, 0.99), 1),
        "tick_to_order_mean_us": round(statistics.fmean(s) / 1000, 1) if s else None,
        "decision_p50_us": round(pct(eng["decisions"], 0.5), 1),
        "decision_p99_us": round(pct(eng["decisions"], 0.99), 1),
        "baseline_count": len(base),
        "baseline_p50_us": round(pct(base, 0.5), 1),
        "baseline_p99_us": round(pct(base, 0.99), 1),
        "p99_ratio_vs_baseline": round(pct(s, 0.99) / pct(base, 0.99), 2) if s and base else None,
        "order_roundtrip_p50_us": eng["roundtrip"]["p50_us"],
        "orders_placed": eng["orders"]["placed"],
        "orders_amended": eng["orders"]["amended"],
        "fills": eng["fills"],
        "rss_start_mb": round(eng["rss_start_mb"], 1),
        "rss_end_mb": round(eng["rss_end_mb"], 1),
        "rss_max_mb": round(eng["rss_max_mb"], 1),
        "rss_growth_mb": round(eng["rss_end_mb"] - eng["rss_start_mb"], 1),
        "rss_at_25_50_75pct_mb": eng["rss_quartiles_mb"],
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0,
                        help="engine seconds after warm-up (default 60)")
    parser.add_argument("--speed", type=float, default=20.0, help="simulator market speed (default 20)")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="small run for CI: 8 s engine, 3 s baseline")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.baseline_seconds = 8.0, 3.0
    setup_logging("ERROR")
    result = asyncio.run(main_async(args))
    print(f"tick-to-order p50={result['tick_to_order_p50_us']}µs p99={result['tick_to_order_p99_us']}µs "
          f"(n={result['tick_to_order_count']}); decision p50={result['decision_p50_us']}µs "
          f"p99={result['decision_p99_us']}µs; baseline p50={result['baseline_p50_us']}µs "
          f"p99={result['baseline_p99_us']}µs; p99 ratio {result['p99_ratio_vs_baseline']}x")
    print(f"orders placed={result['orders_placed']} amended={result['orders_amended']} "
          f"fills={result['fills']}; "
          f"RSS start={result['rss_start_mb']}MB end={result['rss_end_mb']}MB max={result['rss_max_mb']}MB")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
