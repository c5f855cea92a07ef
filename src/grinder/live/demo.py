"""`grinder demo`: the simulator and the live engine end to end, on loopback, with no keys and no set-up.

Starts `grinder sim` in-process with a synthetic market for BTCUSDT and ETHUSDT, runs the real
engine against it in LIVE_TRADE (armed; the loopback target needs no ALLOW_MAINNET_TRADE), shows a
live dashboard (plain lines when stdout is not a terminal), then prints a summary, checks the
journal against the simulator's trade list, writes an HTML report and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from grinder.api import select
from grinder.binance.config import BinanceConfig
from grinder.connector.config import LiveConnectorConfig
from grinder.core.commands import Outcome
from grinder.core.enums import SafeMode
from grinder.execution.write_stats import WriteStats, write_stats
from grinder.live.config import EngineConfig
from grinder.live.dashboard import plain_line, render
from grinder.live.engine import LiveEngine
from grinder.live.report import write_report
from grinder.live.run import serve
from grinder.live.wiring import EngineSettings
from grinder.ops.config import OpsConfig
from grinder.ops.logging import repeat_summary, setup_logging
from grinder.ops.server import OpsServer
from grinder.risk.config import RiskConfig
from grinder.sim.config import SimConfig
from grinder.sim.server import SimServer
from grinder.strategy import GridConfig, StrategyConfig
from grinder.strategy.config import SpacingMode

log = logging.getLogger("grinder.live.demo")

DEMO_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEFAULT_OUT = Path("grinder-demo")  # listed in .gitignore
REPEATED_WARNINGS_SHOWN = 3  # per kind; the rest are counted in one summary line


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to trade (default 60)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="market fast-forward: 10 = the synthetic market runs 10x faster (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="synthetic market seed (default 7)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"directory for report.html and journal.sqlite3 (default ./{DEFAULT_OUT}, "
                             "git-ignored)")
    parser.add_argument("--ops-port", type=int, default=9090,
                        help="ops port for /metrics, /status, /readyz (default 9090; 0 = any free port)")
    parser.add_argument("--plain", action="store_true",
                        help="plain status lines instead of the live dashboard")
    parser.add_argument("--log-level", default="WARNING", help="log level on stderr (default WARNING)")
    parser.add_argument("--strategy", metavar="MODULE:CALLABLE", default=None,
                        help="trade this strategy factory instead of the grid (docs/strategy.md)")
    parser.set_defaults(func=run)


def demo_settings(sim: SimServer, out: Path, ops_port: int, speed: float = 1.0) -> EngineSettings:
    """A small two-symbol grid sized just above each symbol's minimum notional.

    `speed` (the market's fast-forward): bars and look-back windows are wall-clock time, so at speed S
    each holds S times as much market, whose range is about √S times a real one's. The thresholds
    that read price movement per unit of time (the controller's NATR thresholds, the toxicity gate's
    price impact and slide) are scaled by √S, so a fast-forwarded calm market is not taken for a
    violent one (ADR-311)."""
    # FIXED 3 bps: tighter than a maker round trip's fees (the strategy warns), kept so demo runs stay
    # comparable across versions; the default strategy is ADAPTIVE with a fee floor (ADR-172)
    grid = GridConfig(levels=3, spacing_mode=SpacingMode.FIXED, spacing_bps=Decimal("3"),
                      order_notional=Decimal("110"), max_position=Decimal("0.01"),
                      reanchor_spacings=Decimal("1"), min_spacing_ticks=1)
    k = math.sqrt(speed)
    base = StrategyConfig()
    controller = dataclasses.replace(
        base.controller,
        pause_vol_bps=base.controller.pause_vol_bps * k,
        widen_vol_bps=base.controller.widen_vol_bps * k,
        tighten_vol_bps=base.controller.tighten_vol_bps * k,
    )
    toxicity = dataclasses.replace(
        base.toxicity, impact_bps=base.toxicity.impact_bps * k, slide_bps=base.toxicity.slide_bps * k
    )
    btc = StrategyConfig(grid=grid, controller=controller, toxicity=toxicity, strategy_tag="demo")
    eth = dataclasses.replace(btc, grid=dataclasses.replace(grid, max_position=Decimal("0.2")))
    from grinder.store import StoreConfig, Synchronous

    return EngineSettings(
        engine=EngineConfig(symbols=DEMO_SYMBOLS, stale_feed_s=5.0, shutdown_timeout_s=10.0),
        connector=LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, symbols=DEMO_SYMBOLS,
                                      max_notional_per_order=Decimal("125")),
        binance=BinanceConfig(rest_url=sim.rest_url, ws_url=sim.ws_url, depth_speed="100ms"),
        strategy=btc,
        strategies={"BTCUSDT": btc, "ETHUSDT": eth},
        risk=RiskConfig(max_notional_per_order=Decimal("125"), max_position_notional=Decimal("2000"),
                        max_total_position_notional=Decimal("4000"), daily_loss_limit=Decimal("500")),
        ops=OpsConfig(port=ops_port),
        # NORMAL: every commit survives a crash of the process (kill -9); FULL also survives power loss
        # but puts an fsync on the path of every order. The demo shows trading latency, not disk latency.
        store=StoreConfig(journal_path=str(out / "journal.sqlite3"), synchronous=Synchronous.NORMAL),
    )


async def _show(engine: LiveEngine, plain: bool, stop_at: float, console: Console) -> None:
    """Refresh the dashboard (TTY) or print one status line per second (pipes, CI)."""
    if plain:
        while time.monotonic() < stop_at:
            await asyncio.sleep(1.0)
            print(plain_line(engine.status()), flush=True)
        return
    with Live(render(engine.status(), title="GRINDER demo"), console=console, refresh_per_second=4,
              transient=False) as live:
        while time.monotonic() < stop_at:
            await asyncio.sleep(0.25)
            live.update(render(engine.status(), title="GRINDER demo"))


async def run_demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    journal_file = out / "journal.sqlite3"
    for stale in (journal_file, Path(f"{journal_file}-wal"), Path(f"{journal_file}-shm")):
        stale.unlink(missing_ok=True)  # each demo is a fresh account on a fresh simulator
    console = Console()
    plain = args.plain or not sys.stdout.isatty()
    log_file = None
    if not plain:
        # Log lines would tear the live dashboard: they go to a file, named in the summary.
        log_file = open(out / "demo.log", "a", encoding="utf-8")  # noqa: SIM115 - closed below
        setup_logging(args.log_level if args.log_level != "WARNING" else "INFO", stream=log_file)
    sim = SimServer(SimConfig(port=0, symbols=DEMO_SYMBOLS, seed=args.seed, speed=args.speed))
    await sim.start()
    ops_port = args.ops_port
    if ops_port and not _port_free(ops_port):
        print(f"port {ops_port} is busy; serving ops endpoints on a free port instead", flush=True)
        ops_port = 0
    settings = demo_settings(sim, out, ops_port, args.speed)
    if args.strategy:
        settings = dataclasses.replace(settings, selection=select(None, args.strategy))
    holder: dict[str, Any] = {}
    started_ms = int(time.time() * 1000)

    def on_started(engine: LiveEngine, ops: OpsServer) -> None:
        holder["engine"] = engine
        print(f"GRINDER demo: simulator {sim.rest_url}  ·  metrics {ops.url}/metrics  ·  "
              f"status {ops.url}/status", flush=True)
        holder["task"] = asyncio.get_running_loop().create_task(_drive(engine, args, plain, console))

    try:
        code = await serve(settings, api_key=sim.api_key, api_secret=sim.api_secret, install_signals=True,
                           on_started=on_started)
        engine = holder.get("engine")
        if engine is None:
            return 1
        trades = await _sim_trades(sim)
    finally:
        task = holder.get("task")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await sim.stop()
        if log_file is not None:
            setup_logging(args.log_level, repeat_limit=REPEATED_WARNINGS_SHOWN)
            log_file.close()
    report = out / "report.html"
    checks = _journal_check(journal_file, trades)
    write_report(report, engine, settings, sim_trades=trades, checks=checks, started_ms=started_ms,
                 speed=args.speed, seed=args.seed)
    _summary(engine, checks, report)
    print(f"  {_journal_writes(journal_file, args.duration).summary_line()}", flush=True)
    if log_file is not None:
        print(f"  log: {(out / 'demo.log').resolve()}", flush=True)
    return code


async def _drive(engine: LiveEngine, args: argparse.Namespace, plain: bool, console: Console) -> None:
    stop_at = time.monotonic() + args.duration
    try:
        await _show(engine, plain, stop_at, console)
    finally:
        engine.stop()


async def _sim_trades(sim: SimServer) -> list[dict[str, Any]]:
    """The simulator's own record of our trades (the truth the journal is checked against)."""
    rows: list[dict[str, Any]] = []
    for sym in DEMO_SYMBOLS:
        for t in sim.venue.user_trades(sym):
            rows.append({"symbol": sym, "trade_id": t.trade_id, "order_id": t.order_id, "side": t.side.value,
                         "price_ticks": t.price_ticks, "qty_lots": t.qty_lots, "time_ms": t.time_ms})
    return rows


def _journal_check(journal_file: Path, trades: list[dict[str, Any]]) -> dict[str, Any]:
    from grinder.live.journal import journal_fills

    fills = journal_fills(journal_file)
    journal_ids = {(f["symbol"], f["trade_id"]) for f in fills}
    sim_ids = {(t["symbol"], t["trade_id"]) for t in trades}
    return {
        "journal_fills": len(fills),
        "simulator_trades": len(trades),
        "missing_in_journal": len(sim_ids - journal_ids),
        "unknown_to_simulator": len(journal_ids - sim_ids),
        "match": journal_ids == sim_ids and len(fills) == len(journal_ids),
    }


def _journal_writes(journal_file: Path, duration_s: float) -> WriteStats:
    """Writes per minute per symbol, rejects per 100 writes and the busiest windows, from the journal."""
    from grinder.store import Journal

    store = Journal(journal_file)
    try:
        sent = [r for r in store.results() if r.outcome is not Outcome.BLOCKED]
    finally:
        store.close()
    rejected = sum(1 for r in sent if r.outcome is Outcome.REJECTED)
    return write_stats([(r.time_ms, r.symbol) for r in sent], rejected, int(duration_s * 1000))


def _summary(engine: LiveEngine, checks: dict[str, Any], report: Path) -> None:
    status = engine.status()
    print("", flush=True)
    print("GRINDER demo summary", flush=True)
    total = Decimal(0)
    for name, sym in status["symbols"].items():
        net = Decimal(sym["net_pnl"])
        total += net
        print(f"  {name}: fills={sym['fills']} position={sym['position_qty']} "
              f"realized={Decimal(sym['realized_pnl']):.4f} fees={Decimal(sym['fees']):.4f} "
              f"unrealized={Decimal(sym['unrealized_pnl']):.4f} net={net:.4f} USDT", flush=True)
    lat = status["latency"]
    t2o, first, rtt = lat["tick_to_order"], lat["tick_to_first_order"], lat["order_roundtrip"]
    orders = status["orders"]
    counts = " ".join(f"{k}={orders[k]}" for k in ("placed", "cancelled", "amended", "rejected", "blocked",
                                                   "unknown"))
    print(f"  orders: {counts}", flush=True)
    print(f"  tick-to-first-order: p50={_us(first['p50_us'])} p99={_us(first['p99_us'])} "
          f"(n={first['count']})  every order: p50={_us(t2o['p50_us'])} p99={_us(t2o['p99_us'])}  "
          f"order round trip: p50={_us(rtt['p50_us'])} p99={_us(rtt['p99_us'])}", flush=True)
    verdict = "MATCH" if checks["match"] else "MISMATCH"
    print(f"  journal vs simulator trades: {verdict} (journal={checks['journal_fills']} "
          f"simulator={checks['simulator_trades']})", flush=True)
    print(f"  net PnL: {total:.4f} USDT", flush=True)
    print(f"  report: {report.resolve()}", flush=True)


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}µs"


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run(args: argparse.Namespace) -> int:
    if args.duration <= 0 or args.speed <= 0:
        print("grinder demo: --duration and --speed must be > 0 (e.g. --duration 30 --speed 10)",
              file=sys.stderr)
        return 2
    try:
        select(None, args.strategy)  # a bad --strategy stops here, before the simulator starts
        _check_out(args.out)
    except ValueError as exc:
        print(f"grinder demo: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level, repeat_limit=REPEATED_WARNINGS_SHOWN)
    try:
        return asyncio.run(run_demo(args))
    except KeyboardInterrupt:
        return 130
    finally:
        for line in repeat_summary():
            print(f"grinder demo: repeated warnings: {line}", file=sys.stderr)


def _check_out(out: Path) -> None:
    """--out must be a directory we can create and write, checked before the simulator starts."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out} cannot be created ({exc.strerror or exc}); "
                         "pick a writable folder") from None
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} is not a writable folder; pick another, e.g. --out /tmp/grinder-demo")
