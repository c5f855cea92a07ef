"""The backtester: the live `TradingPipeline` against the `Venue`, on a virtual clock, over a `Tape`.

Per processed row, in this order (the same order the live engine sees things):
1. the venue matches the market event against our resting orders (fills);
2. the venue's user-data events (fills, account updates) go to the pipeline;
3. the pipeline sees the market event and returns risk-approved commands;
4. each command is executed by the venue; its outcome goes back to the pipeline, and the acks
   (NEW / CANCELED / AMENDMENT order updates) follow as user events.

Rows that cannot change anything are skipped with a vectorised scan (`grinder.backtest.scan`):
the strategy has declared a quiet band, no command is in flight, and the row neither leaves the
band nor reaches one of our orders. The last skipped quote of each symbol is delivered before the
next processed row, so the venue and the strategy see the same book they would have seen.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from grinder.backtest.config import BacktestConfig
from grinder.backtest.scan import NO_BUY, NO_SELL, QuietScanner, SymbolGuard
from grinder.core.clock import VirtualClock
from grinder.core.commands import CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import Side
from grinder.core.events import (
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Fill,
    MarkPrice,
    Trade,
)
from grinder.core.ids import ClientOrderIdFactory
from grinder.data.tape import QUOTE, ReplayEvent, Tape
from grinder.execution.config import ExecutionConfig
from grinder.execution.pipeline import TradingPipeline
from grinder.risk.config import RiskConfig
from grinder.venue import Venue, VenueReject
from grinder.venue.config import VenueConfig

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class CommandRecord:
    row: int
    time_ms: int
    command: Command
    outcome: str


@dataclass(frozen=True, slots=True)
class FillRecord:
    row: int
    fill: Fill


@dataclass(slots=True)
class RunLog:
    """Everything the run produced, in order; `results.summarize` turns it into figures."""

    commands: list[CommandRecord] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    funding: list[tuple[int, str, Decimal]] = field(default_factory=list)  # (time, symbol, amount)
    blocked: list[tuple[int, str, str]] = field(default_factory=list)  # (time, client id, reason)
    paused_ms: dict[str, int] = field(default_factory=dict)
    band_breaks: int = 0  # skipped quotes that made the strategy act when delivered (should be 0)
    depth_gaps: int = 0  # depth diffs whose pu did not chain (L2 paused until the next snapshot)
    rows_processed: int = 0
    rows_skipped: int = 0
    digest: str = ""
    strategy_stats: dict[str, dict[str, Any]] = field(default_factory=dict)  # symbol -> spacing, skew


def fill_key(fill: Fill) -> bytes:
    """The bytes a fill contributes to the run digest."""
    return b"F%d,%s,%s,%d,%d,%s;" % (
        fill.time_ms,
        fill.client_order_id.encode(),
        fill.side.value.encode(),
        fill.price_ticks,
        fill.qty_lots,
        str(fill.commission).encode(),
    )


def execute(venue: Venue, cmd: Command, now_ms: int) -> CommandResult:
    """Send one command to the venue and phrase its answer as the live connector would."""
    try:
        if isinstance(cmd, PlaceOrder):
            view = venue.place(cmd, now_ms)
        elif isinstance(cmd, CancelOrder):
            view = venue.cancel_order(symbol=cmd.symbol, client_order_id=cmd.client_order_id, now_ms=now_ms)
        else:
            view = venue.amend(cmd, now_ms)
    except VenueReject as exc:
        return CommandResult(cmd, Outcome.REJECTED, code=exc.code, reason=exc.msg)
    return CommandResult(cmd, Outcome.ACCEPTED, order_id=view.order_id, status=view.status)


class _SymbolBook:
    """Per-symbol replay state: USDⓈ-M depth sync for the venue's L2 and the pause clock."""

    __slots__ = ("last_u", "paused_since", "snapshot_id")

    def __init__(self) -> None:
        self.snapshot_id = 0  # lastUpdateId of the snapshot in force (0: none, diffs are not applied)
        self.last_u = 0  # u of the last applied diff (0: none applied since the snapshot)
        self.paused_since: int | None = None


class Backtest:
    """One run over one tape. `run()` returns the `RunLog`: commands sent (with row and time), fills,
    blocks, funding, paused time and the digest."""

    def __init__(
        self,
        tape: Tape,
        *,
        strategy_config: Any,
        risk_config: RiskConfig,
        execution_config: ExecutionConfig,
        venue_config: VenueConfig,
        backtest_config: BacktestConfig = BacktestConfig(),  # noqa: B008 - frozen
    ) -> None:
        if not len(tape):
            raise ValueError("the tape is empty: no market events to backtest")
        self.tape = tape
        self.cfg = backtest_config
        self.venue_config = venue_config
        rules = dict(zip(tape.symbols, tape.rules, strict=True))
        self.rules = rules
        start_ms = int(tape.time_ms[0])
        self.clock = VirtualClock.from_ms(start_ms)
        self.venue = Venue(venue_config, rules)
        ids = ClientOrderIdFactory(backtest_config.strategy_tag, start_ms // 1000)
        self.pipeline = TradingPipeline(rules, strategy_config, risk_config, execution_config, ids)
        self.pipeline.on_wallet_balance(venue_config.initial_balance, start_ms)
        self._refresh_ms = execution_config.equity_refresh_ms
        self._queue_model = venue_config.fill_model == "queue"
        self._books = {s: _SymbolBook() for s in tape.symbols}
        self.log = RunLog(paused_ms=dict.fromkeys(tape.symbols, 0))
        self._hash = hashlib.sha256()
        self._enc = msgspec.json.Encoder()
        self._last_cmd_ms: int | None = None
        self._last_row_ms = start_ms
        self._fill_ms: int | None = None  # last row at which the venue's positions changed (feed latency)
        self._positions_key: tuple[int, ...] = ()

    # ------------------------------------------------------------------ the loop
    def run(self, progress: ProgressFn | None = None, stop: int | None = None) -> RunLog:
        tape = self.tape
        n = len(tape) if stop is None else min(stop, len(tape))
        scanner = QuietScanner(tape.slice(n) if n < len(tape) else tape)
        skip = self.cfg.skip_quiet
        i = 0
        next_report = 0
        while i < n:
            if skip:
                j = self._next_active(scanner, i)
                if j > i:
                    self._deliver_skipped(i, j)
                    self.log.rows_skipped += j - i
                    i = j
                    if i >= n:
                        break
            self._process_row(i)
            i += 1
            if progress is not None and i >= next_report:
                progress(i, n)
                next_report = i + max(1, n // 200)
        self._finish(n)
        if progress is not None:
            progress(n, n)
        return self.log

    def _finish(self, n: int) -> None:
        end_ms = int(self.tape.clock_ms[n - 1])
        for sym, book in self._books.items():
            if book.paused_since is not None:
                self.log.paused_ms[sym] += end_ms - book.paused_since
                book.paused_since = end_ms
        # funding per symbol from the venue's income history (the user stream's FUNDING_FEE
        # account update carries the balance change, not always the symbol)
        self.log.funding = [
            (inc.time_ms, inc.symbol, inc.income)
            for inc in self.venue.income()
            if inc.income_type == "FUNDING_FEE"
        ]
        self.log.digest = self._hash.hexdigest()
        self.log.strategy_stats = {sym: self.pipeline.strategy_stats(sym) for sym in self.tape.symbols}

    # ------------------------------------------------------------------ one event
    def _process_row(self, i: int) -> None:
        ev = self.tape.event(i)
        now = int(self.tape.clock_ms[i])
        self.clock.set_ms(now)
        self._last_row_ms = now
        self.log.rows_processed += 1
        self._market_to_venue(ev, now)
        if self.venue_config.feed_latency_ms:
            # fills are held back from the pipeline: note when the venue made some
            key = tuple(p.amount_lots for p in self.venue.positions())
            if key != self._positions_key:
                self._positions_key = key
                self._fill_ms = now
        self._user_events(i, now)
        if isinstance(ev, DepthSnapshot):
            return
        cmds = self.pipeline.on_market_event(ev, now)
        self._send(i, now, cmds)
        self._note_pause(now)

    def _market_to_venue(self, ev: ReplayEvent, now: int) -> None:
        v = self.venue
        if isinstance(ev, BookTicker):
            v.on_book_ticker(ev)
        elif isinstance(ev, Trade):
            v.on_trade(ev)
        elif isinstance(ev, MarkPrice):
            v.on_mark_price(ev)
        elif isinstance(ev, DepthSnapshot):
            book = self._books[ev.symbol]
            book.snapshot_id = ev.last_update_id
            book.last_u = 0
            v.on_depth_snapshot(ev)
        elif isinstance(ev, DepthUpdate):
            self._depth_to_venue(ev)
        v.advance_to(now)

    def _depth_to_venue(self, ev: DepthUpdate) -> None:
        """USDⓈ-M book sync (protocol §5.3): drop diffs older than the snapshot, then require
        `pu` == the previous `u`; on a gap, stop feeding L2 until the next snapshot."""
        book = self._books[ev.symbol]
        if not book.snapshot_id or ev.final_update_id < book.snapshot_id:
            return
        if book.last_u and ev.prev_final_update_id != book.last_u:
            self.log.depth_gaps += 1
            log.warning(
                "backtest_depth_gap symbol=%s pu=%d expected=%d (L2 paused until the next snapshot)",
                ev.symbol,
                ev.prev_final_update_id,
                book.last_u,
            )
            book.snapshot_id = 0
            return
        book.last_u = ev.final_update_id
        self.venue.on_depth_update(ev)

    def _user_events(self, row: int, now: int) -> None:
        for uev in self.venue.drain_events(now):
            fill = self.pipeline.on_user_event(uev)
            if fill is not None:
                self.log.fills.append(FillRecord(row, fill))
                self._hash.update(fill_key(fill))
        self.pipeline.take_fills()

    def _send(self, row: int, now: int, cmds: list[Command]) -> None:
        if cmds:
            for cmd in cmds:
                res = execute(self.venue, cmd, now)
                self.log.commands.append(CommandRecord(row, now, cmd, res.outcome.value))
                self._hash.update(b"C%d," % now + self._enc.encode(cmd) + res.outcome.value.encode() + b";")
                self.pipeline.on_result(res)
            self._last_cmd_ms = now
            self._user_events(row, now)
        for b in self.pipeline.take_blocked():
            self.log.blocked.append((b.time_ms, b.command.client_order_id, b.reason))

    def _note_pause(self, now: int) -> None:
        killed = self.pipeline.guard.kill_switch_engaged
        for sym, book in self._books.items():
            paused = killed or self.pipeline.symbol_mode(sym).endswith("PAUSE")
            if paused and book.paused_since is None:
                book.paused_since = now
            elif not paused and book.paused_since is not None:
                self.log.paused_ms[sym] += now - book.paused_since
                book.paused_since = None

    # ------------------------------------------------------------------ skipping
    def _guards(self) -> tuple[list[SymbolGuard | None], int | None]:
        """Per-symbol guard (None = this symbol cannot be skipped now) and the time the band expires."""
        until: int | None = None
        guards: list[SymbolGuard | None] = []
        for sym in self.tape.symbols:
            band, dirty = self.pipeline.quiet_state(sym)
            if band is None or dirty or band.is_empty or band.must_feed_events:
                return [None], None
            if band.position_lots != self.pipeline.position_lots(sym):
                return [None], None
            mb, ms = NO_BUY, NO_SELL
            for wo in self.pipeline.working_orders(sym):
                prices = [wo.price_ticks] + ([wo.amend_to[0]] if wo.amend_to else [])
                for p in prices:
                    if wo.side is Side.BUY:
                        mb = max(mb, p)
                    else:
                        ms = min(ms, p)
            for ov in self.venue.open_orders(sym):
                if ov.side is Side.BUY:
                    mb = max(mb, ov.price_ticks)
                else:
                    ms = min(ms, ov.price_ticks)
            guards.append(
                SymbolGuard(
                    band.mid2_lo,
                    band.mid2_hi,
                    mb,
                    ms,
                    band.bid_lo,
                    band.bid_hi,
                    band.ask_lo,
                    band.ask_hi,
                    band.spread_max,
                )
            )
            until = band.until_ms if until is None else min(until, band.until_ms)
            nft = self.venue.next_funding_time(sym)
            if nft > self._last_row_ms:
                until = min(until, nft)
        # The equity watch re-marks equity on the first event at least equity_refresh_ms after the
        # last re-mark; stopping there keeps the risk guard's view (and its timing) identical.
        last = self.pipeline.last_equity_ms
        due = (last if last is not None else self._last_row_ms) + self._refresh_ms
        until = due if until is None else min(until, due)
        pending = self._pending_until()
        if pending is not None:
            until = pending if until is None else min(until, pending)
        return guards, until

    def _pending_until(self) -> int | None:
        """When something still in flight inside the venue comes due: a command arriving after
        `order_latency_ms`, or user events held back by `feed_latency_ms` (generated at the last
        arrival or fill)."""
        order_lat = self.venue_config.order_latency_ms
        feed_lat = self.venue_config.feed_latency_ms
        last_row = self._last_row_ms
        due: list[int] = []
        if self._last_cmd_ms is not None:
            arrive = self._last_cmd_ms + order_lat
            if order_lat and arrive > last_row:
                due.append(arrive)
            if feed_lat and arrive + feed_lat > last_row:
                due.append(arrive + feed_lat)
        if feed_lat and self._fill_ms is not None and self._fill_ms + feed_lat > last_row:
            due.append(self._fill_ms + feed_lat)
        return min(due) if due else None

    def _next_active(self, scanner: QuietScanner, i: int) -> int:
        guards, until = self._guards()
        if not guards or guards[0] is None:
            return i
        return scanner.next_active(i, guards, until, queue_model=self._queue_model)

    def _deliver_skipped(self, start: int, stop: int) -> None:
        """Give the venue and the pipeline the last quote of each symbol among skipped rows.

        Always, even when the next processed row is a quote of the same symbol: fills at that row
        reach the pipeline before its quote does, and the equity re-mark they trigger uses the
        book the pipeline holds then (the skipped quote), exactly as in the per-event path.
        """
        tape = self.tape
        for si, _sym in enumerate(tape.symbols):
            q = _last_quote(tape, start, stop, si)
            if q < 0:
                continue
            ev = tape.event(q)
            assert isinstance(ev, BookTicker)
            now = int(tape.clock_ms[q])
            self.clock.set_ms(now)
            self.venue.on_book_ticker(ev)
            fills_before = len(self.log.fills)
            self._user_events(q, now)
            cmds = self.pipeline.on_market_event(ev, now)
            if cmds or len(self.log.fills) != fills_before:
                # The strategy broke its quiet-band promise: act on it, exactly as per-event would not.
                self.log.band_breaks += 1
                log.warning("backtest_band_break row=%d symbol=%s commands=%d", q, ev.symbol, len(cmds))
                self._send(q, now, cmds)


def _last_quote(tape: Tape, start: int, stop: int, sym: int) -> int:
    """Index of the last quote of symbol `sym` in rows [start, stop), or -1 (backwards doubling search)."""
    w = 64
    e = stop
    multi = len(tape.symbols) > 1
    while e > start:
        s = max(start, e - w)
        m = tape.kind[s:e] == QUOTE
        if multi:
            m &= tape.sym[s:e] == sym
        idx = np.flatnonzero(m)
        if len(idx):
            return s + int(idx[-1])
        e = s
        w *= 4
    return -1
