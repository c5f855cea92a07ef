"""`grinder` command line: one sub-command per app, each living in its own package module.

Each entry names `module:configure` where `configure(parser)` adds the sub-command's arguments and
sets `parser.set_defaults(func=...)` to a callable taking the parsed args and returning an exit code.
Modules are imported only when their sub-command runs, so `grinder --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from grinder import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "config": ("grinder.config_cli", "check or print the effective configuration"),
    "sim": ("grinder.sim.cli", "run the Binance USDⓈ-M compatible simulator on loopback"),
    "live": ("grinder.live.cli", "run the trading engine (same as python -m grinder.live.run)"),
    "orders": ("grinder.live.orders_cli", "list / cancel our resting orders on the exchange (operator)"),
    "demo": ("grinder.live.demo", "simulator + bot end to end, with a live dashboard and a report"),
    "backtest": ("grinder.backtest.cli", "run the strategy on recorded data"),
    "record": ("grinder.backtest.record", "record live market streams to Parquet"),
    "data": ("grinder.data.fetch_cli", "download Binance public-data archives and convert them to Parquet"),
    "optimize": ("grinder.optimize.cli", "parameter search and walk-forward on Optuna + Dask"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grinder", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"grinder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            configure: Callable[[argparse.ArgumentParser], None] = importlib.import_module(module).configure
            configure(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
