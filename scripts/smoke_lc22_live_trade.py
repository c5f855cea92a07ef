"""LC-22 LIVE_TRADE smoke test (Runbook 17, steps 2-3).

Dry run (default): proves the write gates block, places nothing, needs no keys or network.
    PYTHONPATH=src python -m scripts.smoke_lc22_live_trade
Real run: places ONE limit BUY 50% below the market through LiveConnectorV0.place_order() and
cancels it through LiveConnectorV0.cancel_order(). Exit 0 only if both succeeded.
    BINANCE_API_KEY=... BINANCE_API_SECRET=... ALLOW_MAINNET_TRADE=1 \
    PYTHONPATH=src python -m scripts.smoke_lc22_live_trade --confirm LC22_LIVE_TRADE
The target is BINANCE_FUTURES_BASE_URL (default https://fapi.binance.com); point it at the testnet
or at `grinder sim` (with the simulator's keys) to rehearse. Keys come from the environment only
and are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from decimal import Decimal

from grinder.connector import (
    BinanceFuturesPort,
    BinanceFuturesPortConfig,
    ConnectorError,
    ConnectorNonRetryableError,
    ConnectorUnknownOutcomeError,
    LiveConnectorConfig,
    LiveConnectorV0,
    SafeMode,
)
from grinder.connector.config import MAINNET_REST_URL
from grinder.connector.notional import feasible_lots
from grinder.core.enums import Side

CONFIRM_TOKEN = "LC22_LIVE_TRADE"
BANNER = "=" * 60
# The smoke order rests 50% below the market and is cancelled at once; its cap only has to admit the
# smallest quantity meeting Binance's 100 USDT minimum at that price (e.g. 0.003 BTC at 48500 = 145.50).
SMOKE_MAX_NOTIONAL = Decimal("200")

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


def headline(message: str) -> str:
    """The part of a gate message that names the gate: 'Cannot place_order: armed=False'."""
    cut = len(message)
    for sep in (". ", " ("):
        pos = message.find(sep)
        if pos != -1:
            cut = min(cut, pos)
    return message[:cut]


def banner(title: str) -> None:
    print(BANNER)
    print(title)
    print(BANNER)


async def _expect_block(title: str, connector: LiveConnectorV0, want: str) -> bool:
    print(f"### {title}")
    try:
        await connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=Decimal("48500.00"),
                                    quantity=Decimal("0.003"))
    except ConnectorNonRetryableError as exc:
        if want in str(exc):
            print(f"PASS: Blocked with: {headline(str(exc))}...")
            print()
            return True
        print(f"FAIL: Blocked by the wrong gate: {exc}")
        print()
        return False
    print("FAIL: place_order was NOT blocked")
    print()
    return False


async def dry_run() -> int:
    """Gate checks only. An empty environment stands in for the process one, so the result does
    not depend on what the operator exported; the Gate 3 port targets mainnet and is never called."""
    print()
    print("## Dry-run mode: Testing gate checks only")
    print()
    ok = await _expect_block(
        "Gate 1: armed=False should block",
        LiveConnectorV0(LiveConnectorConfig(), environ={}),
        "Cannot place_order: armed=False",
    )
    port = BinanceFuturesPort(config=BinanceFuturesPortConfig(base_url=MAINNET_REST_URL))
    try:
        config = LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port)
        ok = await _expect_block(
            "Gate 3: ALLOW_MAINNET_TRADE not set should block",
            LiveConnectorV0(config, environ={}),
            "Cannot place_order: ALLOW_MAINNET_TRADE=1 not set",
        ) and ok
    finally:
        await port.close()
    if not ok:
        banner("DRY-RUN FAILED: a gate did not block")
        return EXIT_FAIL
    banner("DRY-RUN COMPLETE: All gate checks passed")
    return EXIT_PASS


async def live_run(symbol: str, max_notional: Decimal) -> int:
    """Place one far-from-market BUY and cancel it."""
    if not os.environ.get("BINANCE_API_KEY") or not os.environ.get("BINANCE_API_SECRET"):
        print("ERROR: BINANCE_API_KEY and BINANCE_API_SECRET must be set in the environment", file=sys.stderr)
        return EXIT_USAGE
    port = BinanceFuturesPort(config=BinanceFuturesPortConfig(max_notional_per_order=max_notional))
    config = LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port, symbols=(symbol,),
                                 max_notional_per_order=max_notional)
    connector = LiveConnectorV0(config)
    allow = os.environ.get("ALLOW_MAINNET_TRADE", "")
    print(f"  target: {port.base_url} ({'MAINNET' if port.is_mainnet else 'not mainnet'})")
    print(f"  ALLOW_MAINNET_TRADE: {allow or 'NOT SET'}")
    print(f"  max_notional_per_order: {max_notional} (smoke order cap)")
    print()
    block = connector.check_gates("place_order")
    if block is not None:  # refuse before any network traffic
        print(f"FAIL: Blocked with: {block.message}")
        await port.close()
        return EXIT_FAIL
    try:
        await connector.connect()
        rules = await port.symbol_rules(symbol)
        mid = await connector.mid_price(symbol)
        price = rules.round_price(mid / 2, "floor")
        lots, why = feasible_lots(rules, rules.price_to_ticks(price), max_notional, op="place_order")
        if why is not None:
            print(f"FAIL: {why} (smoke: --max-notional)")
            return EXIT_FAIL
        quantity = rules.lots_to_qty(lots)
        print("## Placing order via LiveConnectorV0.place_order()")
        print(f"  symbol: {symbol}")
        print("  side: BUY")
        print(f"  price: {rules.price_str(rules.price_to_ticks(price))} (50% below market)")
        print(f"  quantity: {quantity}")
        print()
        try:
            order_id = await connector.place_order(symbol=symbol, side=Side.BUY, price=price,
                                                   quantity=quantity)
        except ConnectorUnknownOutcomeError as exc:
            print(f"FAIL: place_order outcome unknown: {exc}")
            return await _cleanup(connector, symbol, exc.client_order_id)
        except ConnectorError as exc:
            print(f"FAIL: place_order raised {type(exc).__name__}: {exc}")
            return EXIT_FAIL
        print("### Order placed!")
        print(f"  order_id: {order_id}")
        print()
        print("## Cancelling order via LiveConnectorV0.cancel_order()")
        print(f"  order_id: {order_id}")
        print()
        try:
            result = await connector.cancel_order(order_id)
        except ConnectorError as exc:
            print(f"FAIL: cancel_order raised {type(exc).__name__}: {exc}")
            print(f"  order {order_id} may still be open: cancel it in the Binance console")
            return EXIT_FAIL
        print("### Order cancelled!")
        print(f"  result: {result}")
        print()
    except ConnectorError as exc:
        print(f"FAIL: {type(exc).__name__}: {exc}")
        return EXIT_FAIL
    except Exception as exc:  # the operator needs one clear line, not a traceback
        print(f"FAIL: {type(exc).__name__}: {exc}")
        return EXIT_FAIL
    finally:
        await connector.close()
    banner("SMOKE TEST PASSED")
    return EXIT_PASS


async def _cleanup(connector: LiveConnectorV0, symbol: str, order_id: str) -> int:
    """After an unknown place outcome: cancel the order if it turns out to exist."""
    try:
        state = await connector.query_order(symbol, order_id)
        if state is not None and state.is_open:
            await connector.cancel_order(order_id, symbol)
            print(f"  order {order_id} existed and was cancelled")
        else:
            print(f"  order {order_id}: {'not on the exchange' if state is None else state.status.value}")
    except Exception as exc:  # any failure here only changes the printed hint
        print(f"  could not settle order {order_id} ({type(exc).__name__}); check the Binance console")
    return EXIT_FAIL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.smoke_lc22_live_trade",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--confirm", metavar="TOKEN",
                        help=f"place a real order: must be exactly {CONFIRM_TOKEN}; omit for the dry run")
    parser.add_argument("--symbol", default="BTCUSDT", help="symbol of the smoke order (default BTCUSDT)")
    parser.add_argument("--max-notional", type=Decimal, default=SMOKE_MAX_NOTIONAL,
                        help=f"notional cap of the smoke order in USDT (default {SMOKE_MAX_NOTIONAL})")
    parser.add_argument("--log-level", default="WARNING", help="log level on stderr (default WARNING)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from grinder.ops.logging import setup_logging

    setup_logging(args.log_level.upper(), stream=sys.stderr)
    if args.confirm is not None and args.confirm != CONFIRM_TOKEN:
        print(f"ERROR: --confirm must be exactly {CONFIRM_TOKEN} to place a real order "
              f"(got {args.confirm!r}); nothing was sent. Omit --confirm for the dry run.", file=sys.stderr)
        return EXIT_USAGE
    banner("LC-22 LIVE_TRADE SMOKE TEST")
    if args.confirm is None:
        return asyncio.run(dry_run())
    return asyncio.run(live_run(args.symbol.upper(), args.max_notional))


if __name__ == "__main__":
    raise SystemExit(main())
