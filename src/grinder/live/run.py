"""`python -m grinder.live.run --config FILE`: the live engine process (Runbook 17, step 5).

Without --config the defaults are safe: READ_ONLY, disarmed, Binance mainnet URLs unless
BINANCE_FUTURES_BASE_URL / BINANCE_FUTURES_WS_URL point elsewhere. Keys come only from
BINANCE_API_KEY / BINANCE_API_SECRET. SIGINT / SIGTERM stop quoting, cancel our orders (when
configured and the gates allow it), confirm by a query of open orders and flush the journal.

Exit codes: 0 stopped, no order of ours left open (confirmed by query); 1 the engine could not
start (the log says why, e.g. the account's position mode differs from the config); 2 bad
configuration; 3 stopped but orders of ours are still open on the exchange (one ERROR line lists
them and every position, with the command that clears them: `grinder orders cancel-all`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grinder.api import select
from grinder.ha import Leadership, leadership_from_config
from grinder.live.engine import LiveEngine
from grinder.live.instance import instance_store
from grinder.live.journal import open_journal
from grinder.live.series import init_engine_series
from grinder.live.status import EngineHooks
from grinder.live.wiring import EngineSettings, build_engine
from grinder.ops.config import OpsConfig, check_exposure
from grinder.ops.logging import register_secret, setup_logging
from grinder.ops.server import OpsServer

log = logging.getLogger("grinder.live.run")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML configuration file (default: safe defaults, READ_ONLY)")
    parser.add_argument("--log-level", default=None, help="override [engine] log_level (DEBUG, INFO, ...)")
    parser.add_argument("--log-format", choices=("human", "json"), default=None,
                        help="override [engine] log_format")
    parser.add_argument("--ops-port", type=int, default=None,
                        help="override [ops] port (0 = pick a free port)")
    parser.add_argument("--strategy", metavar="MODULE:CALLABLE", default=None,
                        help="strategy factory instead of [strategy] factory / the grid (docs/strategy.md)")
    parser.set_defaults(func=run)


def load_settings(path: Path | None, strategy: str | None = None) -> EngineSettings:
    """The engine settings of `path`; `strategy` (--strategy) replaces [strategy] factory, imported
    now so a bad one is a configuration error before anything connects."""
    from grinder.config import load_config

    settings = EngineSettings.from_config(load_config(path))
    selection = select(settings.selection, strategy)
    return settings if selection == settings.selection else dataclasses.replace(settings, selection=selection)


async def serve(
    settings: EngineSettings,
    *,
    api_key: str | None,
    api_secret: str | None,
    ops_port: int | None = None,
    install_signals: bool = True,
    on_started: Callable[[LiveEngine, OpsServer], None] | None = None,
    gc_freeze: bool = True,
) -> int:
    """Build the engine, serve ops endpoints, run until SIGINT/SIGTERM (or `engine.stop()`).

    `gc_freeze`: once started, move the start-up heap out of the garbage collector's sight (see
    `LiveEngine.gc_freeze`); tests running many engines in one process pass False."""
    lease = await start_lease(settings)
    journal, epoch = open_journal(instance_store(settings.store, settings.ha))
    try:
        engine = await build_engine(settings, journal=journal, api_key=api_key, api_secret=api_secret,
                                    lease=lease, id_epoch_s=epoch)
    except BaseException:
        journal.close()
        if lease is not None:
            await lease.stop()
        raise
    engine.gc_freeze = gc_freeze
    init_engine_series(settings)  # every labelled series exists at the first scrape
    ops_cfg = settings.ops if ops_port is None else _with_port(settings, ops_port)
    ops = OpsServer(ops_cfg, EngineHooks(engine))
    if ops_cfg.enabled:
        await ops.start()
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stopper(engine, sig))
    try:
        if on_started is not None:
            on_started(engine, ops)
        return await engine.run()
    finally:
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if ops_cfg.enabled:
            await ops.stop()


def _with_port(settings: EngineSettings, port: int) -> OpsConfig:
    return dataclasses.replace(settings.ops, port=port)


def _stopper(engine: LiveEngine, sig: signal.Signals) -> Callable[[], None]:
    def handler() -> None:
        log.info("signal received signal=%s: stopping", sig.name)
        engine.stop()

    return handler


async def start_lease(settings: EngineSettings) -> Leadership | None:
    """The HA leader lease when [ha] is enabled (started: its first acquire attempt done), else None."""
    ha = settings.ha
    if ha is None or not ha.enabled:
        return None
    lease = leadership_from_config(ha)
    await lease.start()
    log.info("ha lease started role=%s", lease.role)
    return lease


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, getattr(args, "strategy", None))
        check_exposure(settings.ops, os.environ)  # before connecting to anything
    except (ValueError, OSError) as exc:
        print(f"grinder live: configuration error: {exc}", file=sys.stderr)
        return 2
    eng = settings.engine
    setup_logging(args.log_level or eng.log_level, args.log_format or eng.log_format)
    api_key = os.environ.get("BINANCE_API_KEY") or None
    api_secret = os.environ.get("BINANCE_API_SECRET") or None
    register_secret(api_key)
    register_secret(api_secret)
    try:
        return asyncio.run(serve(settings, api_key=api_key, api_secret=api_secret, ops_port=args.ops_port))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.error("engine failed to start: %s: %s", type(exc).__name__, exc)
        log.debug("engine start failure", exc_info=True)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grinder.live.run", description=__doc__.splitlines()[0])
    configure(parser)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
