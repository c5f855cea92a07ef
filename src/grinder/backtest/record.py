"""`grinder record`: record live market streams to rotating Parquet files for replay and backtests.

    grinder record --symbols BTCUSDT,ETHUSDT --out DIR [--ws-url URL] [--rest-url URL] [--duration S]

Subscribes bookTicker, depth, aggTrade and markPrice through `grinder.binance.MarketStreams` (the
live engine's own connections, reconnects included) and stores every frame as received, plus one
REST depth snapshot per symbol after the streams are up, so replay can sync the L2 book by the
USDⓈ-M rule. Format: `grinder.data.recording`. Stops after --duration seconds or on Ctrl-C, and
always writes what it buffered. Read-only: no keys needed, none used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from grinder.binance.config import BinanceConfig
from grinder.binance.constants import StreamGroup
from grinder.binance.rest import BinanceRestClient
from grinder.binance.streams import MARKET_KINDS, MarketStreams
from grinder.core.aio import wait_set
from grinder.core.clock import Clock, WallClock
from grinder.core.events import DepthSnapshot
from grinder.core.rules import SymbolRules
from grinder.data.recording import SNAPSHOT_STREAM, RecordingWriter

log = logging.getLogger(__name__)


class _StreamName(msgspec.Struct):
    stream: str = ""


_stream_of = msgspec.json.Decoder(_StreamName)


def snapshot_json(snap: DepthSnapshot, rules: SymbolRules) -> bytes:
    """A REST depth snapshot back in Binance's wire form (what `GET /fapi/v1/depth` returned)."""
    doc = {
        "lastUpdateId": snap.last_update_id,
        "E": snap.event_time_ms,
        "T": snap.transaction_time_ms,
        "bids": [[rules.price_str(p), rules.qty_str(q)] for p, q in snap.bids],
        "asks": [[rules.price_str(p), rules.qty_str(q)] for p, q in snap.asks],
    }
    return msgspec.json.encode(doc)


class _RecordingStreams(MarketStreams):
    """MarketStreams that also hands every raw frame to the recorder before decoding it."""

    def __init__(self, writer: RecordingWriter, clock: Clock, **kwargs: object) -> None:
        super().__init__(clock=clock, **kwargs)  # type: ignore[arg-type]
        self._writer = writer
        self._rec_clock = clock
        self.frames = 0

    def _on_frame(self, group: StreamGroup, frame: str | bytes) -> None:
        raw = frame.encode() if isinstance(frame, str) else frame
        try:
            stream = _stream_of.decode(raw).stream
        except msgspec.DecodeError:
            stream = ""
        if stream:  # subscription acks and other control frames carry no stream
            self._writer.add(self._rec_clock.now_ns(), stream, raw)
            self.frames += 1
        super()._on_frame(group, frame)


class Recorder:
    """Records market data for `symbols` until `stop()` or the duration elapses."""

    def __init__(
        self,
        symbols: Sequence[str],
        out_dir: str | Path,
        *,
        config: BinanceConfig,
        clock: Clock | None = None,
        rotate_rows: int = 500_000,
        rotate_s: float = 3600.0,
    ) -> None:
        if not symbols:
            raise ValueError("name at least one symbol to record (--symbols BTCUSDT,ETHUSDT)")
        self.symbols = [s.upper() for s in symbols]
        self.config = config
        self.clock = clock or WallClock()
        self.writer = RecordingWriter(out_dir, rotate_rows=rotate_rows, rotate_ns=int(rotate_s * 1e9))
        self._stop = asyncio.Event()
        self.streams: _RecordingStreams | None = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> list[Path]:
        rest = BinanceRestClient(self.config.rest_url, clock=self.clock, timeout_s=self.config.timeout_s)
        try:
            info = await rest.exchange_info()
            missing = [s for s in self.symbols if s not in info.rules]
            if missing:
                raise ValueError(f"unknown symbol(s) {', '.join(missing)} at {self.config.rest_url}")
            rules: Mapping[str, SymbolRules] = {s: info.rules[s] for s in self.symbols}
            streams = _RecordingStreams(self.writer, self.clock, rules=rules, config=self.config, rest=rest)
            self.streams = streams
            for s in self.symbols:
                await streams.subscribe(s, MARKET_KINDS)
            await streams.start()
            try:
                await streams.wait_connected(timeout_s=max(5.0, self.config.timeout_s))
                for s in self.symbols:
                    snap = await rest.depth(s, self.config.depth_snapshot_limit, rules=rules[s])
                    self.writer.add(
                        self.clock.now_ns(), f"{s.lower()}@{SNAPSHOT_STREAM}", snapshot_json(snap, rules[s])
                    )
                log.info("recording_started symbols=%s out=%s", ",".join(self.symbols), self.writer.out_dir)
                await wait_set(self._stop, duration_s)
            finally:
                await streams.stop()
        finally:
            self.writer.close()
            await rest.close()
        gaps = self.book_resyncs()
        log.info(
            "recording_stopped files=%d rows=%d book_resyncs=%s",
            len(self.writer.files),
            self.writer.rows_written,
            ",".join(f"{s}:{n}" for s, n in gaps.items()),
        )
        return self.writer.files

    def book_resyncs(self) -> dict[str, int]:
        """Depth-chain breaks per symbol seen while recording, counted by the live book sync
        (`LocalOrderBook` in `MarketStreams`, the one the backtester and replay use). A break means
        the recording's diffs do not chain there: replay drops L2 until a later snapshot."""
        books = self.streams.books if self.streams is not None else {}
        return {s: books[s].resyncs if s in books else 0 for s in self.symbols}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", required=True, help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the Parquet files")
    parser.add_argument("--ws-url", help="WebSocket base (default: [binance] ws_url, Binance mainnet)")
    parser.add_argument(
        "--rest-url", help="REST base for exchangeInfo and depth snapshots (default: [binance] rest_url)"
    )
    parser.add_argument(
        "--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--rotate-s", type=float, default=3600.0, help="start a new file after this many seconds"
    )
    parser.add_argument("--rotate-rows", type=int, default=500_000, help="... or after this many messages")
    parser.add_argument(
        "--config", metavar="FILE", help="GRINDER TOML config (its [binance] section is used)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grinder.backtest.cli import load_settings
    from grinder.config import ConfigError

    try:
        base = load_settings(args.config).get(BinanceConfig)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overrides = {}
    if args.ws_url:
        overrides["ws_url"] = args.ws_url
    if args.rest_url:
        overrides["rest_url"] = args.rest_url
    import dataclasses

    cfg = dataclasses.replace(base, **overrides) if overrides else base
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    try:
        rec = Recorder(symbols, args.out, config=cfg, rotate_rows=args.rotate_rows, rotate_s=args.rotate_s)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> list[Path]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, rec.stop)
        return await rec.run(args.duration)

    from grinder.binance.errors import BinanceAPIError

    try:
        files = asyncio.run(main())
    except BinanceAPIError as exc:  # exchange unreachable or refusing: one line, not a traceback
        print(f"error: cannot record from {cfg.rest_url}: {exc}; check --rest-url / the network",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recorded {rec.writer.rows_written} messages into {len(files)} file(s) in {args.out}")
    gaps = rec.book_resyncs()
    print("depth book resyncs (gaps): " + ", ".join(f"{s} {n}" for s, n in gaps.items()))
    return 0
