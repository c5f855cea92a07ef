"""`grinder sim`: run the Binance USDⓈ-M compatible simulator on loopback until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Coroutine
from dataclasses import fields, replace
from typing import Any

from grinder.sim.config import SimConfig
from grinder.sim.faults import FaultPlan

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    d = SimConfig()
    parser.add_argument("--host", default=d.host, help="bind address (default 127.0.0.1: loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = pick a free one); default 8765")
    parser.add_argument(
        "--symbols", default=",".join(d.symbols), help="comma-separated, e.g. BTCUSDT,ETHUSDT"
    )
    parser.add_argument(
        "--data", default=None, help="replay this market-data file instead of a synthetic market"
    )
    parser.add_argument(
        "--rules",
        default=None,
        metavar="EXCHANGEINFO_JSON",
        help="symbol rules from a saved GET /fapi/v1/exchangeInfo (default: built-in rules)",
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the synthetic market and faults")
    parser.add_argument("--speed", type=float, default=d.speed, help="market speed: 1 = real time, 0 = max")
    parser.add_argument("--log-level", default="INFO", help="log level (INFO)")
    parser.add_argument("--log-format", default="human", choices=("human", "json"), help="log format (human)")
    parser.add_argument("--api-key", default=d.api_key, help="API key the simulator accepts")
    parser.add_argument("--api-secret", default=d.api_secret, help="API secret the simulator accepts")
    parser.add_argument(
        "--weight-limit", type=int, default=d.weight_limit_1m, help="REQUEST_WEIGHT per minute"
    )
    parser.add_argument("--orders-limit-10s", type=int, default=d.orders_limit_10s, help="ORDERS per 10 s")
    parser.add_argument("--orders-limit-1m", type=int, default=d.orders_limit_1m, help="ORDERS per minute")
    parser.add_argument(
        "--faults",
        default=None,
        metavar="JSON",
        help="initial fault plan, e.g. '{\"unknown_after_execute_rate\": 0.05}' (see docs/simulator.md)",
    )
    faults = parser.add_argument_group("faults", "one flag per fault-plan field (docs/simulator.md)")
    for f in fields(FaultPlan):
        if f.name.startswith("_"):
            continue
        kind = type(f.default)
        faults.add_argument(
            f"--fault-{f.name.replace('_', '-')}", dest=f"fault_{f.name}", type=kind, default=None,
            metavar=kind.__name__.upper(), help=f"(default {f.default!r})",
        )  # fmt: skip
    parser.add_argument("--clock-skew-ms", type=int, default=0, help="same as --fault-clock-skew-ms")
    parser.add_argument("--delay-ms", type=int, default=0, help="same as --fault-delay-ms")
    parser.set_defaults(func=run)


def faults_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The initial fault plan: --faults JSON, then the individual --fault-* flags on top."""
    plan: dict[str, Any] = {}
    if args.faults:
        try:
            loaded = json.loads(args.faults)
        except ValueError as exc:
            raise ValueError(f"--faults is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError("--faults must be a JSON object, e.g. '{\"delay_ms\": 50}'")
        plan.update(loaded)
    if args.clock_skew_ms:
        plan["clock_skew_ms"] = args.clock_skew_ms
    if args.delay_ms:
        plan["delay_ms"] = args.delay_ms
    for f in fields(FaultPlan):
        value = getattr(args, f"fault_{f.name}", None)
        if value is not None:
            plan[f.name] = value
    return plan


def _check_data_symbols(data: str, symbols: tuple[str, ...]) -> None:
    """A requested symbol without data would be an empty market forever: refuse it at start."""
    from grinder.data import expand_paths
    from grinder.data.binance_files import symbol_from_filename

    found = [symbol_from_filename(f) for f in expand_paths([data])]
    named = sorted({s for s in found if s is not None})
    if len(named) < len(set(found)):
        return  # a file name without a symbol: the replay itself decides
    missing = [s for s in symbols if s not in named]
    if missing:
        raise ValueError(f"--data {data} holds {','.join(named)} (by file name) but --symbols "
                         f"asks for {','.join(missing)}: pass --symbols {','.join(named)}")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    if not symbols:
        raise ValueError("--symbols is empty: name at least one symbol, e.g. --symbols BTCUSDT")
    if args.data:
        _check_data_symbols(args.data, symbols)
    if args.speed < 0:
        raise ValueError(f"--speed {args.speed} must be >= 0 (0 = as fast as possible)")
    return replace(
        SimConfig(),
        host=args.host,
        port=args.port,
        symbols=symbols,
        data_path=args.data,
        rules_path=args.rules,
        seed=args.seed,
        speed=args.speed,
        api_key=args.api_key,
        api_secret=args.api_secret,
        weight_limit_1m=args.weight_limit,
        orders_limit_10s=args.orders_limit_10s,
        orders_limit_1m=args.orders_limit_1m,
    )


async def serve(args: argparse.Namespace) -> int:
    from grinder.sim.server import SimServer

    faults = faults_from_args(args)
    server = SimServer(config_from_args(args))
    server.control.set_faults(**faults)
    await server.start()
    print(f"grinder sim: REST {server.rest_url}  WS {server.ws_url}", flush=True)
    print(
        f"  streams: {server.ws_url}/public/ws/btcusdt@bookTicker  {server.ws_url}/market/stream?streams=...",
        flush=True,
    )
    print(f"  credentials: api key {server.api_key}  api secret {server.api_secret}", flush=True)
    print(f"  WebSocket API: {server.ws_api_url}", flush=True)
    base = server.rest_url
    print(f"  control: {base}/_sim/faults  {base}/_sim/state  {base}/metrics", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    print("grinder sim: stopped", flush=True)
    return 0


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (about twice the request rate), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run(args: argparse.Namespace) -> int:
    from grinder.ops.logging import setup_logging

    setup_logging(args.log_level, args.log_format)
    try:
        return _run_loop(serve(args))
    except (ValueError, OSError) as exc:
        print(f"grinder sim: {exc}", file=sys.stderr)
        return 2
