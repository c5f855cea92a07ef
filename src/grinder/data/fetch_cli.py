"""`grinder data fetch|convert`: Binance public-data archives -> verified cache -> backtest Parquet.

    grinder data fetch --symbols BTCUSDT --kinds bookTicker aggTrades --start 2024-01-01 --end 2024-01-07
    grinder data convert --out data/btc            # every archive in the cache
    grinder data convert --out data/cap btcusdt_20240808.gz   # a raw capture -> a .tape.parquet
    grinder backtest --data data/btc

Bad input and refused downloads (checksum mismatch, truncation, 404) print one `error:` line and
exit 2. See docs/research.md for the cache layout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp

from grinder.data.capture import is_capture
from grinder.data.convert import convert_archive, find_archives
from grinder.data.errors import DataError
from grinder.data.fetch import (
    DEFAULT_BASE_URL,
    KINDS,
    Archive,
    Fetcher,
    FetchResult,
    parse_day,
    plan_archives,
)
from grinder.data.tape_file import convert_capture

DEFAULT_CACHE = "~/.cache/grinder/binance-public-data"


def default_cache() -> Path:
    return Path(os.environ.get("GRINDER_DATA_CACHE", DEFAULT_CACHE)).expanduser()


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    f = sub.add_parser("fetch", help="download archives from Binance public data, checksum-verified")
    f.add_argument("--symbols", nargs="+", required=True, metavar="SYMBOL")
    f.add_argument(
        "--kinds",
        nargs="+",
        default=["bookTicker", "aggTrades"],
        metavar="KIND",
        help=f"any of {', '.join(KINDS)} (default: bookTicker aggTrades)",
    )
    f.add_argument("--start", required=True, metavar="YYYY-MM-DD")
    f.add_argument("--end", metavar="YYYY-MM-DD", help="inclusive (default: --start)")
    f.add_argument("--monthly", action="store_true", help="monthly archives instead of daily ones")
    f.add_argument("--interval", default="1m", help="kline interval (default 1m)")
    f.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"cache directory (default $GRINDER_DATA_CACHE or {DEFAULT_CACHE})",
    )
    f.add_argument(
        "--base-url",
        default=os.environ.get("GRINDER_DATA_BASE_URL", DEFAULT_BASE_URL),
        help=f"public-data server (default $GRINDER_DATA_BASE_URL or {DEFAULT_BASE_URL})",
    )
    f.add_argument("--parallel", type=int, default=4, help="concurrent downloads (default 4)")
    f.add_argument("--retries", type=int, default=2, help="resume attempts per archive (default 2)")
    f.add_argument("--convert", type=Path, metavar="OUT_DIR", help="also write Parquet into OUT_DIR")
    f.add_argument("--quiet", action="store_true", help="no progress display")
    f.set_defaults(func=run_fetch)
    c = sub.add_parser(
        "convert", help="fetched archives (or raw stream captures) -> Parquet that grinder backtest loads"
    )
    c.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="ARCHIVE_OR_DIR",
        help="archives, directories, or raw stream captures (*.gz) (default: the whole cache)",
    )
    c.add_argument("--cache", type=Path, default=None, help="cache directory (when no paths are given)")
    c.add_argument("--out", type=Path, required=True, metavar="OUT_DIR")
    c.add_argument("--overwrite", action="store_true", help="rewrite Parquet files that exist")
    c.set_defaults(func=run_convert)


def _progress(quiet: bool) -> tuple[Any, Any]:
    if quiet:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[Archive, Any] = {}

    def update(archive: Archive, done: int, total: int | None) -> None:
        if archive not in tasks:
            tasks[archive] = bar.add_task(archive.name, total=total)
        bar.update(tasks[archive], completed=done, total=total)
        if total is not None and done >= total:  # finished: make room for the next download
            bar.remove_task(tasks[archive])

    bar.start()
    return update, bar


def _convert(paths: list[Path], out: Path, overwrite: bool) -> int:
    # raw stream captures (grinder.data.capture) become tape files; everything else is an archive
    captures = [p for p in paths if p.is_file() and p.name.endswith(".gz") and is_capture(p)]
    archives = [p for p in paths if p not in captures]
    written = [convert_capture(p, out, overwrite=overwrite) for p in captures]
    if archives:
        written += [convert_archive(p, out, overwrite=overwrite) for p in find_archives(archives)]
    for w in written:
        print(f"parquet: {w}")
    return len(written)


def run_fetch(args: argparse.Namespace) -> int:
    cache = args.cache or default_cache()
    try:
        start = parse_day(args.start, "--start")
        end = parse_day(args.end, "--end") if args.end else start
        archives = plan_archives(
            args.symbols, args.kinds, start, end, monthly=args.monthly, interval=args.interval
        )
        progress, bar = _progress(args.quiet or not sys.stderr.isatty())
        fetcher = Fetcher(
            cache, base_url=args.base_url, parallel=args.parallel, retries=args.retries, progress=progress
        )
        try:
            results: list[FetchResult] = asyncio.run(fetcher.fetch_all(archives))
        finally:
            if bar is not None:
                bar.stop()
        for r in results:
            print(f"{r.status}: {r.path} ({r.bytes_downloaded:,} bytes downloaded)")
        if args.convert:
            _convert([r.path for r in results], args.convert, overwrite=False)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, OSError) as exc:
        print(
            f"error: cannot download from {args.base_url}: {exc}; check --base-url and the network",
            file=sys.stderr,
        )
        return 2
    print(f"fetched {len(results)} archive(s) into {cache}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    paths = args.paths or [args.cache or default_cache()]
    try:
        n = _convert(paths, args.out, args.overwrite)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"converted {n} file(s) into {args.out}; load them with: grinder backtest --data {args.out}")
    return 0
