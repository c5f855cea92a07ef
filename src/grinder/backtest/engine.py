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
next processed row, so the venue and the strategy see the same book they would have seen. When
every band covers depth diffs, a skip passes over them: each diff is processed in full in its place
(after the last skipped quotes before it), and the skip goes on only if that changed nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from grinder.api import Strategy, StrategyContext, StrategyFactory
from grinder.backtest.config import DEFAULT_FEED_LATENCY_MS, BacktestConfig
from grinder.backtest.features import TapeFeatures, attach_tape_features
from grinder.backtest.marks import Mark, emulable, equity_marks, first_risky, read_rows
from grinder.backtest.scan import NO_BUY, NO_SELL, QuietScanner, SymbolGuard
from grinder.binance.book import LocalOrderBook
from grinder.core.clock import VirtualClock
from grinder.core.commands import Command
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
from grinder.core.quotes import QuietBand
from grinder.data.funding import FundingRate
from grinder.data.tape import OTHER, QUOTE, ReplayEvent, Tape
from grinder.execution.config import ExecutionConfig
from grinder.execution.pipeline import PRESSURE_REREAD_MS, TradingPipeline
from grinder.risk.config import RiskConfig
from grinder.strategy import grid_factory
from grinder.venue import Venue
from grinder.venue.config import VenueConfig

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
# No skip is tried when fewer rows than this lie before the next depth/mark row (ADR-281).
MIN_SKIP_ROWS = 16
MAX_SKIP_BACKOFF = 15


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
    # funding times crossed with a position but no known rate: (symbol, time, position lots)
    funding_unknown: list[tuple[str, int, int]] = field(default_factory=list)
    funding_status: dict[str, str] = field(default_factory=dict)  # per symbol: known from what, or why not
    blocked: list[tuple[int, str, str]] = field(default_factory=list)  # (time, client id, reason)
    paused_ms: dict[str, int] = field(default_factory=dict)
    band_breaks: int = 0  # skipped quotes that made the strategy act when delivered (should be 0)
    depth_gaps: int = 0  # depth diffs whose pu did not chain (L2 paused until the next snapshot)
    rows_processed: int = 0
    rows_skipped: int = 0
    latency: dict[str, object] = field(default_factory=dict)  # the latency model in force (report)
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


def latency_model(
    bt: BacktestConfig, venue: VenueConfig, tape: Tape
) -> tuple[VenueConfig, dict[str, object]]:
    """The venue configuration with the backtest latency model applied, and how it was chosen.

    The strategy acts on an event `feed` ms after its exchange time, so its orders reach the matching
    engine `feed + order entry` ms after the event it reacted to, and our fills reach it `feed` ms
    after they happen. Explicit non-zero venue latencies are kept as given.
    """
    if not bt.latency:
        return venue, {
            "model": "off",
            "order_latency_ms": venue.order_latency_ms,
            "feed_latency_ms": venue.feed_latency_ms,
        }
    if bt.feed_latency_ms >= 0:
        feed, feed_src = bt.feed_latency_ms, "config"
    elif tape.feed_latency_ms is not None:
        feed, feed_src = tape.feed_latency_ms, "data (local receive time - exchange time)"
    else:
        feed, feed_src = DEFAULT_FEED_LATENCY_MS, "default (the data has no local receive times)"
    order = venue.order_latency_ms or feed + bt.order_latency_ms
    user = venue.feed_latency_ms or feed
    note: dict[str, object] = {
        "model": "on",
        "order_entry_ms": bt.order_latency_ms,
        "market_feed_ms": feed,
        "market_feed_source": feed_src,
        "order_latency_ms": order,
        "feed_latency_ms": user,
    }
    return dataclasses.replace(venue, order_latency_ms=order, feed_latency_ms=user), note


class _SymbolBook:
    """Per-symbol replay state: the live depth sync (`LocalOrderBook`) feeding the venue's L2, and the
    pause clock."""

    __slots__ = ("paused_since", "sync")

    def __init__(self, symbol: str, venue: Venue) -> None:
        def mirror(change: DepthSnapshot | DepthUpdate) -> None:
            if isinstance(change, DepthSnapshot):
                venue.on_depth_snapshot(change, shared=sync.sides())
            else:
                venue.on_depth_update(change)

        # Diffs before the snapshot are buffered and those it does not cover are applied right after
        # it; only what the sync accepts reaches the venue (the live book's rules, protocol §5.3). The
        # venue reads the sync's levels rather than applying each diff to a copy (ADR-320).
        sync = self.sync = LocalOrderBook(symbol, on_apply=mirror)
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
        funding: Mapping[str, Sequence[FundingRate]] | None = None,
        strategy_factory: StrategyFactory = grid_factory,
    ) -> None:
        """`strategy_factory` builds each symbol's strategy from `strategy_config` (`grinder.api`);
        the default is the grid, whose config is a StrategyConfig or a mapping symbol -> StrategyConfig."""
        if not len(tape):
            raise ValueError("the tape is empty: no market events to backtest")
        self.tape = tape
        self.cfg = backtest_config
        venue_config, latency = latency_model(backtest_config, venue_config, tape)
        self.venue_config = venue_config
        rules = dict(zip(tape.symbols, tape.rules, strict=True))
        self.rules = rules
        start_ms = int(tape.time_ms[0])
        self.clock = VirtualClock.from_ms(start_ms)
        self.venue = Venue(venue_config, rules)
        self._funding_files: set[str] = set()
        for sym, rates in (funding or {}).items():
            if sym in rules and rates:
                plan = [(r.time_ms, r.rate, r.mark_price) for r in rates]
                self.venue.set_funding_rates(sym, plan, start_ms)
                self._funding_files.add(sym)
        ids = ClientOrderIdFactory(backtest_config.strategy_tag, start_ms // 1000)
        # Strategies that read market features get them precomputed from the whole tape
        # (grinder.backtest.features), so events need not reach them one by one.
        self._tape_features: dict[str, TapeFeatures] = {}

        def make_strategy(ctx: StrategyContext) -> Strategy:
            strategy = strategy_factory(ctx)
            tf = attach_tape_features(strategy, tape)
            if tf is not None:
                self._tape_features[ctx.symbol] = tf
            return strategy

        self.pipeline = TradingPipeline(
            rules, strategy_config, risk_config, execution_config, ids, strategy_factory=make_strategy
        )
        self.pipeline.on_wallet_balance(venue_config.initial_balance, start_ms)
        self._refresh_ms = execution_config.equity_refresh_ms
        self._queue_model = venue_config.fill_model == "queue"
        self._books = {s: _SymbolBook(s, self.venue) for s in tape.symbols}
        self.log = RunLog(paused_ms=dict.fromkeys(tape.symbols, 0), latency=latency)
        self._hash = hashlib.sha256()
        self._enc = msgspec.json.Encoder()
        self._last_row_ms = start_ms
        self.min_skip_rows = MIN_SKIP_ROWS
        self._depth_rows: npt.NDArray[np.int64] = np.empty(0, np.int64)  # set by run() (QuietScanner)
        self._quote_rows: list[npt.NDArray[np.intp]] = []  # set by run()
        self._marks: list[Mark] = []  # the equity re-marks the current skip makes itself (ADR-330)
        self.max_skip_backoff = MAX_SKIP_BACKOFF

    # ------------------------------------------------------------------ the loop
    def run(self, progress: ProgressFn | None = None, stop: int | None = None) -> RunLog:
        tape = self.tape
        n = len(tape) if stop is None else min(stop, len(tape))
        scanner = QuietScanner(tape.slice(n) if n < len(tape) else tape)
        skip = self.cfg.skip_quiet
        # Rows that end every skip (marks, snapshots; depth diffs are processed in their place inside
        # a skip when every band covers them, ADR-291): a skip attempt (guards, scan, hand-over of the
        # last quote) costs about as much as processing MIN_SKIP_ROWS rows in full, so none is tried
        # when the next such row is nearer (ADR-281).
        # After an attempt that skipped nothing the next ones wait 1, 2, 4 ... up to MAX_SKIP_BACKOFF
        # rows (processing a row in full is always exact; this only spends less on futile scans).
        always = scanner.always_rows(cross_depth=True)
        self._depth_rows = scanner.depth_rows
        # per symbol, the rows of its quotes: the last one before a row is one binary search away
        multi = len(tape.symbols) > 1
        quotes = tape.kind[:n] == QUOTE
        self._quote_rows = [
            np.flatnonzero(quotes & (tape.sym[:n] == si) if multi else quotes)
            for si in range(len(tape.symbols))
        ]
        k = 0
        i = 0
        retry_at = 0
        backoff = 0
        next_report = 0
        while i < n:
            if skip and i >= retry_at:
                while always[k] < i:
                    k += 1
                j = self._next_active(scanner, i) if always[k] - i >= self.min_skip_rows else i
                if j == i and always[k] - i >= self.min_skip_rows:
                    retry_at = i + 1 + backoff
                    backoff = min(2 * backoff + 1, self.max_skip_backoff)
                elif j > i:
                    backoff = 0
                if j > i:
                    i = self._skip(i, j)
                    self._marks = []
                    if i >= n:
                        break
                    if i < j:
                        continue  # a depth diff inside changed something: look again from the next row
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
        self._funding_coverage(end_ms)
        self.log.digest = self._hash.hexdigest()
        self.log.strategy_stats = {sym: self.pipeline.strategy_stats(sym) for sym in self.tape.symbols}

    def _funding_coverage(self, end_ms: int) -> None:
        """Per symbol, whether the run's funding is known: funding times on Binance's grid crossed with
        a position and no known rate make it unknown (never 0), with the reason in `funding_status`."""
        interval = self.venue_config.funding_interval_ms
        start_ms = int(self.tape.clock_ms[0])
        for sym in self.tape.symbols:
            settled = self.venue.funding_settled(sym)
            fills = [
                (f.fill.time_ms, f.fill.side.sign * f.fill.qty_lots)
                for f in self.log.fills
                if f.fill.symbol == sym
            ]
            due = list(range((start_ms // interval + 1) * interval, end_ms + 1, interval))
            missing = [t for t in due if not any(abs(t - s) <= 60_000 for s in settled)]
            for t in missing:
                lots = sum(q for ft, q in fills if ft < t)
                if lots:
                    self.log.funding_unknown.append((sym, t, lots))
            source = "funding-rate file" if sym in self._funding_files else "mark-price stream"
            if any(u[0] == sym for u in self.log.funding_unknown):
                cover = (
                    "funding-rate file entry"
                    if sym in self._funding_files
                    else "mark-price event or --funding file"
                )
                status = f"unknown: a position was held at a funding time no {cover} covers"
                self.log.funding_status[sym] = status
            elif not due:
                self.log.funding_status[sym] = "none due: no funding time in the run"
            elif missing:
                self.log.funding_status[sym] = "0: flat at every funding time without a known rate"
            else:
                self.log.funding_status[sym] = f"settled from the {source}"

    # ------------------------------------------------------------------ one event
    def _process_row(self, i: int) -> None:
        ev = self.tape.event(i)
        now = int(self.tape.clock_ms[i])
        self.clock.set_ms(now)
        self._last_row_ms = now
        self.log.rows_processed += 1
        self._market_to_venue(ev, now)
        self._user_events(i, now)
        if isinstance(ev, DepthSnapshot):
            return
        self._to_pipeline(i, ev, now)

    def _to_pipeline(self, i: int, ev: BookTicker | Trade | DepthUpdate | MarkPrice, now: int) -> None:
        """The pipeline's part of row `i`: the market event, its commands to the venue, the pause clock."""
        for tf in self._tape_features.values():
            tf.cursor = i
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
        elif isinstance(ev, DepthSnapshot | DepthUpdate):
            self._depth_to_venue(ev)
        v.advance_to(now)

    def _depth_to_venue(self, ev: DepthSnapshot | DepthUpdate) -> None:
        """Through the live book sync (protocol §5.3); a break (gap, or a snapshot older than the
        diffs) is counted and the venue trades on the book ticker alone until the next snapshot."""
        sync = self._books[ev.symbol].sync
        before = sync.resyncs
        if isinstance(ev, DepthSnapshot):
            sync.apply_snapshot(ev)
        else:
            sync.on_diff(ev)
        if sync.resyncs != before:
            self.log.depth_gaps += 1
            log.warning(
                "backtest_depth_gap symbol=%s update_id=%d (L2 off until the next snapshot)",
                ev.symbol,
                sync.last_update_id,
            )
            self.venue.drop_l2(ev.symbol)

    def depth_book(self, symbol: str) -> LocalOrderBook:
        """The depth book the run keeps for `symbol` (what the venue's L2 mirrors)."""
        return self._books[symbol].sync

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
                res = self.venue.execute(cmd, now)
                self.log.commands.append(CommandRecord(row, now, cmd, res.outcome.value))
                self._hash.update(b"C%d," % now + self._enc.encode(cmd) + res.outcome.value.encode() + b";")
                self.pipeline.on_result(res)
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
    def _guards(self, row: int) -> tuple[list[SymbolGuard | None], int | None, bool]:
        """Per-symbol guard (None = this symbol cannot be skipped now), the time the band expires, and
        whether a skip from `row` makes the equity re-marks itself (ADR-330)."""
        until: int | None = None
        guards: list[SymbolGuard | None] = []
        for sym in self.tape.symbols:
            band, dirty = self.pipeline.quiet_state(sym)
            fed = band is not None and band.must_feed_events and sym not in self._tape_features
            if band is None or band.is_empty or fed:
                return [None], None, False
            # A plan the risk guard refused whole stays refused inside its refusal band.
            refused = self.pipeline.quiet_refusal(sym) if dirty else None
            if dirty and refused is None:
                return [None], None, False
            if band.position_lots != self.pipeline.position_lots(sym):
                return [None], None, False
            mb, ms = NO_BUY, NO_SELL
            for wo in self.pipeline.working_orders(sym):
                prices = [wo.price_ticks] + ([wo.amend_to[0]] if wo.amend_to else [])
                for p in prices:
                    if wo.side is Side.BUY:
                        mb = max(mb, p)
                    else:
                        ms = min(ms, p)
            mb, ms = self.venue.resting_bounds(sym, mb, ms)
            lo2, hi2 = band.mid2_lo, band.mid2_hi
            if refused is not None:
                lo2, hi2 = max(lo2, refused.mid2_lo), min(hi2, refused.mid2_hi)
            guards.append(
                SymbolGuard(
                    lo2,
                    hi2,
                    mb,
                    ms,
                    band.bid_lo,
                    band.bid_hi,
                    band.ask_lo,
                    band.ask_hi,
                    band.spread_max,
                )
            )
            band_until = band.until_ms if refused is None else min(band.until_ms, refused.until_ms)
            until = band_until if until is None else min(until, band_until)
            nft = self.venue.next_funding_time(sym)
            if nft > self._last_row_ms:
                until = min(until, nft)
        # The equity watch re-marks equity on the first event at least equity_refresh_ms after the
        # last re-mark; stopping there keeps the risk guard's view (and its timing) identical.
        # Past that row, when the skip can make the re-marks itself (ADR-330).
        emulate = emulable(self.pipeline, self._quote_rows, row)
        if not emulate:
            last = self.pipeline.last_equity_ms
            due = (last if last is not None else self._last_row_ms) + self._refresh_ms
            until = due if until is None else min(until, due)
        if not self.pipeline.pressure_settled(self._last_row_ms):
            # The write-budget pressure may fall as the budget refills (a fuller grid): stop where a
            # per-event run would read it next.
            due = self.pipeline.pressure_read_ms() + PRESSURE_REREAD_MS
            until = due if until is None else min(until, due)
        pending = self._pending_until()
        if pending is not None:
            until = pending if until is None else min(until, pending)
        return guards, until, emulate

    def _pending_until(self) -> int | None:
        """When something in flight inside the venue comes due: a command reaching the matching engine
        after `order_latency_ms` (or a funding settlement), or user events held back by
        `feed_latency_ms` being released."""
        due = [t for t in (self.venue.next_due_ms(), self.venue.next_release_ms()) if t is not None]
        return max(min(due), self._last_row_ms + 1) if due else None

    def _next_active(self, scanner: QuietScanner, i: int) -> int:
        if self.tape.kind[i] == OTHER:
            return i  # depth and mark rows are always processed
        guards, until, emulate = self._guards(i)
        if not guards or guards[0] is None:
            return i
        cross = all(_covers_depth(self.pipeline.quiet_state(sym)[0]) for sym in self.tape.symbols)
        j = scanner.next_active(i, guards, until, queue_model=self._queue_model, cross_depth=cross)
        if emulate and j > i:
            marks = equity_marks(self.tape, self._quote_rows, self.pipeline, i, j, self._refresh_ms)
            risky = first_risky(self.pipeline, marks)
            if risky is not None:
                j = risky  # that re-mark is processed in full
                marks = [m for m in marks if m[0] < j]
            self._marks = marks
        return j

    def _skip(self, start: int, stop: int) -> int:
        """Skip the quiet rows [start, stop); a depth diff among them is processed in its place (the
        book sync, the venue's L2 and queue positions, and the pipeline as per event, `_quiet_depth`).
        Returns where the loop goes on: `stop`, or the row after a diff that changed anything the scan
        relied on (a command, a fill or block, an order, a band, something due in the venue)."""
        rows = self._depth_rows
        k = int(rows.searchsorted(start))
        s = start
        before = None
        while k < len(rows) and rows[k] < stop:
            d = int(rows[k])
            if before is None:
                before = self._quiet_signature()  # quiet rows change none of it (else: a band break)
            if d > s and self._skip_quiet(s, d):
                before = self._quiet_signature()  # re-marks made over the quiet rows
            if not self._quiet_depth(d, before):
                return d + 1
            s = d + 1
            k += 1
        if stop > s:
            self._skip_quiet(s, stop)
        return stop

    def _quiet_depth(self, i: int, before: tuple[object, ...]) -> bool:
        """Depth diff `i` inside a skip: the book sync and the venue take it as per event. If that
        changed nothing the skip relies on, the pipeline would plan nothing on it (every band covers
        depth diffs) and only its write-pressure read time moves, as on a skipped row: True. Else the
        pipeline gets the diff as per event and the skip ends here: False."""
        ev = self.tape.event(i)
        assert isinstance(ev, DepthUpdate)
        clock_ms = self.tape.clock_ms
        now = int(clock_ms[i])
        self.clock.set_ms(now)
        self._last_row_ms = now
        self.log.rows_processed += 1
        self._market_to_venue(ev, now)
        self._user_events(i, now)
        if self._quiet_signature() != before:
            self._to_pipeline(i, ev, now)
            return False
        p = self.pipeline
        p.note_pressure_read(_last_read(clock_ms, i, i + 1, p.pressure_read_ms(), PRESSURE_REREAD_MS))
        self._make_marks(i + 1)
        return True

    def _make_marks(self, stop: int) -> int:
        """Make the equity re-marks of the current skip on rows before `stop` (ADR-330); how many."""
        marks = self._marks
        n = 0
        while n < len(marks) and marks[n][0] < stop:
            _, t, equity = marks[n]
            self.pipeline.note_equity_mark(equity, t)
            n += 1
        if n:
            del marks[:n]
        return n

    def _skip_quiet(self, start: int, stop: int) -> bool:
        """Skip quotes and trades [start, stop): deliver the last quote of each symbol, and set the
        write-pressure read time to what reading it on every one of those rows would have left.
        True when equity re-marks were made over these rows (ADR-330)."""
        last_read = self.pipeline.pressure_read_ms()
        read_ms = _last_read(self.tape.clock_ms, start, stop, last_read, PRESSURE_REREAD_MS)
        marked = self._make_marks(stop) > 0  # before the hand-over: its quote is due no re-mark after
        self._deliver_skipped(start, stop)
        self.pipeline.note_pressure_read(read_ms)
        self.log.rows_skipped += stop - start
        return marked

    def _quiet_signature(self) -> tuple[object, ...]:
        """What a skip's scan was based on, beyond the market rows themselves."""
        p, v = self.pipeline, self.venue
        return (
            len(self.log.commands),
            len(self.log.fills),
            len(self.log.blocked),
            p.orders.version,
            p.guard.kill_switch_engaged,
            p.last_equity_ms,
            v.next_due_ms(),
            v.next_release_ms(),
            [(p.quiet_state(sym), p.quiet_refusal(sym), p.position_lots(sym)) for sym in self.tape.symbols],
        )

    def _deliver_skipped(self, start: int, stop: int) -> None:
        """Give the venue and the pipeline the last quote of each symbol among skipped rows.

        Always, even when the next processed row is a quote of the same symbol: fills at that row
        reach the pipeline before its quote does, and the equity re-mark they trigger uses the
        book the pipeline holds then (the skipped quote), exactly as in the per-event path.
        """
        tape = self.tape
        for rows in self._quote_rows:
            k = int(rows.searchsorted(stop)) - 1
            q = int(rows[k]) if k >= 0 else -1
            if q < start:
                continue
            ev = tape.event(q)
            assert isinstance(ev, BookTicker)
            now = int(tape.clock_ms[q])
            self.clock.set_ms(now)
            self.venue.on_book_ticker(ev)
            fills_before = len(self.log.fills)
            self._user_events(q, now)
            for tf in self._tape_features.values():
                tf.cursor = q
            cmds = self.pipeline.on_market_event(ev, now)
            if cmds or len(self.log.fills) != fills_before:
                # The strategy broke its quiet-band promise: act on it, exactly as per-event would not.
                self.log.band_breaks += 1
                log.warning("backtest_band_break row=%d symbol=%s commands=%d", q, ev.symbol, len(cmds))
                self._send(q, now, cmds)


def _covers_depth(band: QuietBand | None) -> bool:
    return band is not None and band.covers_depth


def _last_read(clock_ms: npt.NDArray[np.int64], start: int, stop: int, last_ms: int, every_ms: int) -> int:
    """When the last read in rows [start, stop) happens for a value re-read on the first row at least
    `every_ms` after the previous read at `last_ms` (`last_ms` if none does)."""
    for k in read_rows(clock_ms, start, stop, last_ms, every_ms):
        last_ms = int(clock_ms[k])
    return last_ms
