"""`grinder orders list|cancel-all|flatten --config F [--symbol S] [--confirm]`: our orders on the exchange.

Same config file and environment as `grinder live` (keys from BINANCE_API_KEY / BINANCE_API_SECRET,
BINANCE_FUTURES_BASE_URL overrides the URL). The documented way to clear our resting orders after a
Runbook 17 rollback: `cancel-all` is an explicit operator cancel, allowed while disarmed (ADR-100);
it only cancels orders with the GRINDER prefix, on symbols of the `[connector] symbols` allow-list,
and it never places. `flatten` closes a position with one reduce-only MARKET order and passes every
gate (armed included): it places. Exit codes: 0 done and confirmed by query; 2 bad input or no
--confirm (nothing sent); 3 orders of ours (or the position) still open afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp

from grinder.binance.rest import BinanceRestClient
from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.config import BinanceFuturesPortConfig, LiveConnectorConfig
from grinder.connector.live import LiveConnectorV0
from grinder.core.commands import CancelOrder, CommandResult, PlaceOrder
from grinder.core.enums import OrderType, SafeMode, Side
from grinder.core.ids import ClientOrderIdFactory
from grinder.live.config import resolve_urls
from grinder.live.operator import CancelReport, cancel_ours, our_open_orders
from grinder.live.shutdown import EXIT_CONFIG, EXIT_OK, EXIT_ORDERS_LEFT
from grinder.live.wiring import EngineSettings
from grinder.ops.logging import register_secret, setup_logging
from grinder.store import Journal

OPERATOR_TAG = "op"  # strategy part of the client ids the operator's flatten orders carry


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "cancel-all", "flatten"),
                        help="list our open orders and positions; cancel all of ours; flatten one symbol")
    parser.add_argument("--config", type=Path, required=True, help="the engine's TOML configuration file")
    parser.add_argument("--symbol", default=None, help="only this symbol (must be in [connector] symbols)")
    parser.add_argument("--confirm", action="store_true", help="really send (cancel-all, flatten)")
    parser.set_defaults(func=run)


class JournalRecorder:
    """Journals the operator's cancels into the engine's journal, when that file exists."""

    def __init__(self, store: Journal | None, now_ms: Any) -> None:
        self.store = store
        self._now_ms = now_ms

    def before(self, cmd: CancelOrder) -> None:
        if self.store is not None:
            self.store.append_command(cmd, self._now_ms())

    def after(self, res: CommandResult) -> None:
        if self.store is not None:
            self.store.append_result(res, self._now_ms())


def _fail(text: str) -> int:
    print(f"grinder orders: {text}", file=sys.stderr)
    return EXIT_CONFIG


def run(args: argparse.Namespace) -> int:
    from grinder.config import load_config

    try:
        settings = EngineSettings.from_config(load_config(args.config))
    except (ValueError, OSError) as exc:
        return _fail(f"configuration error: {exc}")
    conn = settings.connector
    if conn.mode is SafeMode.PAPER:
        return _fail("[connector] mode = PAPER: paper orders live inside the engine process, not on an "
                     "exchange; stop the engine to drop them")
    symbols = tuple(conn.symbols)
    if args.symbol is not None:
        if args.symbol not in symbols:
            return _fail(f"--symbol {args.symbol} is not in [connector] symbols {list(symbols)}")
        symbols = (args.symbol,)
    if args.action == "flatten" and args.symbol is None:
        return _fail("flatten needs --symbol S (one position at a time)")
    api_key = os.environ.get("BINANCE_API_KEY") or None
    api_secret = os.environ.get("BINANCE_API_SECRET") or None
    if not (api_key and api_secret):
        return _fail("set BINANCE_API_KEY and BINANCE_API_SECRET in the environment "
                     "(the same as `grinder live`)")
    register_secret(api_key)
    register_secret(api_secret)
    setup_logging("WARNING", "human")
    try:
        return asyncio.run(_run(args, settings, symbols, api_key, api_secret))
    except (aiohttp.ClientError, OSError) as exc:
        print(f"grinder orders: cannot reach the exchange: {exc}", file=sys.stderr)
        return EXIT_ORDERS_LEFT


async def _run(args: argparse.Namespace, settings: EngineSettings, symbols: tuple[str, ...],
               api_key: str, api_secret: str) -> int:
    rest_url, _ = resolve_urls(settings.binance.rest_url, settings.binance.ws_url)
    rest = BinanceRestClient(rest_url, api_key=api_key, api_secret=api_secret)
    port = BinanceFuturesPort(BinanceFuturesPortConfig(base_url=rest_url), http_client=rest)
    conn = settings.connector
    connector = LiveConnectorV0(LiveConnectorConfig(
        mode=conn.mode, armed=conn.armed, futures_port=port, symbols=conn.symbols,
        max_notional_per_order=conn.max_notional_per_order, strategy_tag=conn.strategy_tag,
    ))
    try:
        await connector.connect()
        await rest.sync_time()
        if args.action == "list":
            return await _list(connector, symbols)
        if args.action == "cancel-all":
            return await _cancel_all(args, settings, connector, symbols, rest)
        return await _flatten(args, connector, args.symbol, rest)
    finally:
        await connector.close()


async def _list(connector: LiveConnectorV0, symbols: tuple[str, ...]) -> int:
    orders = await our_open_orders(connector, symbols)
    positions = [p for p in await connector.positions() if p.symbol in symbols]
    for o in orders:
        print(f"order {o.symbol} {o.client_order_id} {o.side.value} remaining_lots={o.remaining_lots} "
              f"price_ticks={o.price_ticks} status={o.status.value}")
    for p in positions:
        print(f"position {p.symbol} amount_lots={p.amount_lots} entry={p.entry_price}")
    print(json.dumps({"open_orders": len(orders), "positions": {p.symbol: p.amount_lots for p in positions}}))
    return EXIT_OK


async def _cancel_all(args: argparse.Namespace, settings: EngineSettings, connector: LiveConnectorV0,
                      symbols: tuple[str, ...], rest: BinanceRestClient) -> int:
    if not args.confirm:
        orders = await our_open_orders(connector, symbols)
        for o in orders:
            print(f"would cancel {o.symbol} {o.client_order_id}")
        print(f"grinder orders: nothing sent; add --confirm to cancel these {len(orders)} orders",
              file=sys.stderr)
        return EXIT_CONFIG
    store = None
    if settings.store is not None and Path(settings.store.journal_path).exists():
        store = Journal(settings.store.journal_path, busy_timeout_ms=settings.store.busy_timeout_ms)
    try:
        report = await cancel_ours(connector, symbols, action="operator_cancel_all", operator=True,
                                   recorder=JournalRecorder(store, rest.server_now_ms))
    finally:
        if store is not None:
            store.close()
    return _print_report(report)


def _print_report(report: CancelReport) -> int:
    for o in report.outcomes:
        print(f"cancel {o.symbol} {o.client_order_id}: {o.outcome}" + (f" ({o.reason})" if o.reason else ""))
    body = report.as_dict()
    print(json.dumps({k: v for k, v in body.items() if k != "orders"}, sort_keys=True))
    if not report.clean:
        print(f"grinder orders: {len(report.open_after)} orders of ours still open "
              f"({report.query_error or 'see the outcomes above'})", file=sys.stderr)
        return EXIT_ORDERS_LEFT
    return EXIT_OK


async def _flatten(args: argparse.Namespace, connector: LiveConnectorV0, symbol: str,
                   rest: BinanceRestClient) -> int:
    position = next((p for p in await connector.positions() if p.symbol == symbol), None)
    lots = position.amount_lots if position is not None else 0
    if not args.confirm:
        print(f"grinder orders: nothing sent; add --confirm to close {symbol} position of {lots} lots "
              "(reduce-only MARKET)", file=sys.stderr)
        return EXIT_CONFIG
    report = await cancel_ours(connector, (symbol,), action="operator_flatten_cancel", operator=True)
    if not report.clean:
        return _print_report(report)
    if lots:
        ids = ClientOrderIdFactory(OPERATOR_TAG, rest.server_now_ms() // 1000)
        cmd = PlaceOrder(symbol=symbol, side=Side.SELL if lots > 0 else Side.BUY, order_type=OrderType.MARKET,
                         qty_lots=abs(lots), client_order_id=ids.next_id(symbol, "flat"), reduce_only=True,
                         level="flat")
        res = await connector.submit(cmd)
        print(f"flatten {symbol} {cmd.side.value} {abs(lots)} lots: {res.outcome.value} {res.reason}")
    after = next((p.amount_lots for p in await connector.positions() if p.symbol == symbol), 0)
    print(json.dumps({"symbol": symbol, "position_lots_before": lots, "position_lots_after": after}))
    return EXIT_OK if after == 0 else EXIT_ORDERS_LEFT
