"""Market features of a whole tape, computed once with numpy before the run (`TapeFeatures`).

The strategy's decisions read few features, and only when it re-evaluates on its event-time grid:
the smoothed spread, the trade flow (imbalance and count), NATR on time bars, and the last
mid/spread. All are functions of the market tape alone, so the backtester computes them for every
row up front and hands each strategy a `TapeFeatures` in place of its incremental `FeatureEngine`;
the backtester moves its `cursor` to the row being processed. Then market events need not reach the
strategy one by one, and quiet stretches can be skipped: the values at a row are the same whether
the rows before it were processed or skipped (both paths read the same arrays, so `--no-skip` gives
identical results).

Semantics follow `FeatureEngine` event for event (time is the running maximum of the symbol's event
times; the smoothed spread updates on every quote; bars close on the first event past their end).
The exponentially decayed sums are evaluated in closed form, block by block, in float64: they agree
with the incremental engine to rounding (~1e-12 relative), not bit for bit.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.data.tape import OTHER, QUOTE, TRADE_SELL_AGGR, Tape
from grinder.strategy.config import FeatureConfig
from grinder.strategy.features import FeatureEngine, Features

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_LN2 = math.log(2.0)
_MAX_EXP = 600.0  # exp(600) ~ 1e260: the block scale of the decayed sums stays inside float64


def decayed_sums(times: F64, values: F64, rate: float, gains: F64 | None = None) -> F64:
    """y[n] = Σ_{k≤n} gains[k]·values[k]·exp(-rate·(t[n] - t[k])) for ascending `times` (ms).

    Closed form per block (y[n] = e^{-r t[n]} · Σ g v e^{r t[k]}, relative to the block's first
    time), with the previous block's last value carried in decayed.
    """
    n = len(times)
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    terms = values if gains is None else gains * values
    span = _MAX_EXP / rate if rate > 0 else math.inf
    start = 0
    carry = 0.0
    carry_t = float(times[0])
    while start < n:
        t0 = float(times[start])
        stop = int(np.searchsorted(times, t0 + span, side="left"))
        stop = max(stop, start + 1)
        rel = times[start:stop] - t0
        scale = np.exp(rate * rel)
        acc = np.cumsum(terms[start:stop] * scale)
        acc += carry * math.exp(-rate * (t0 - carry_t))
        out[start:stop] = acc / scale
        carry = float(out[stop - 1])
        carry_t = float(times[stop - 1])
        start = stop
    return out


class _SymbolColumns:
    """Per-symbol arrays over the rows the strategy would see (quotes, trades, diffs, marks)."""

    def __init__(self, tape: Tape, sym: int, rules: SymbolRules, cfg: FeatureConfig) -> None:
        kind = tape.kind
        rows = np.flatnonzero(tape.sym == sym) if len(tape.symbols) > 1 else np.arange(len(tape))
        fed = np.ones(len(rows), dtype=np.bool_)
        others = np.flatnonzero(kind[rows] == OTHER)
        for o in others.tolist():  # REST snapshots never reach the strategy
            fed[o] = not isinstance(tape.objects[int(tape.ident[rows[o]])], DepthSnapshot)
        rows = rows[fed]
        self.rows = rows.astype(np.int64)
        t = np.maximum.accumulate(tape.time_ms[rows]) if len(rows) else np.empty(0, np.int64)
        self.time = t  # FeatureEngine.time_ms after each row
        k = kind[rows]
        a = tape.a[rows].astype(np.int64)
        b = tape.b[rows].astype(np.int64)
        n = len(rows)
        idx = np.arange(n, dtype=np.int64)
        # quotes with prices (a quote without them carries nothing)
        q = np.flatnonzero((k == QUOTE) & (a + b > 0))
        self.q_pos = q
        self.q_bid, self.q_ask = a[q], b[q]
        self.last_q = _last_index(q, n)  # per row: index into the quote arrays, -1 before any
        tq = t[q].astype(np.float64)
        spread = (self.q_ask - self.q_bid).astype(np.float64)
        # smoothed spread: ema = w·ema + (1-w)·spread per quote, w = 2^(-dt/halflife); first = spread
        rate = _LN2 / float(cfg.spread_halflife_ms)
        gains = np.empty(len(q), dtype=np.float64)
        if len(q):
            dt = np.diff(tq, prepend=tq[0])
            gains[:] = -np.expm1(-rate * dt)
            gains[0] = 1.0
        self.spread_ema = decayed_sums(tq, spread, rate, gains)
        # trade flow: buy / sell volume and count, decayed with flow_halflife_ms
        tr = np.flatnonzero((k != QUOTE) & (k != OTHER))
        self.last_tr = _last_index(tr, n)
        ttr = t[tr].astype(np.float64)
        qty = tape.qa[rows[tr]].astype(np.float64)
        sell = k[tr] == TRADE_SELL_AGGR
        frate = _LN2 / float(cfg.flow_halflife_ms)
        self.flow_rate = frate
        self.tr_time = t[tr]
        self.buy_vol = decayed_sums(ttr, np.where(sell, 0.0, qty), frate)
        self.sell_vol = decayed_sums(ttr, np.where(sell, qty, 0.0), frate)
        self.trade_cnt = decayed_sums(ttr, np.ones(len(tr)), frate)
        # bars: closed at the first row (after the first quote) whose time is in a later bar
        self.bar = _Bars(cfg, rules, t, q, self.q_bid + self.q_ask, idx)


class _Bars:
    """NATR state after each bar close, by replaying `FeatureEngine`'s own bar code on bar OHLCs."""

    def __init__(self, cfg: FeatureConfig, rules: SymbolRules, t: I64, q: I64, mid2: I64, idx: I64) -> None:
        n = len(t)
        self.period = cfg.natr_period
        self.close_pos = np.empty(0, np.int64)
        self.atr = np.empty(0, np.float64)
        self.prev_close = np.empty(0, np.float64)
        self.closed = np.empty(0, np.int64)
        self.last_close = np.full(n, -1, np.int64)
        if not len(q):
            return
        bar = cfg.bar_ms
        first = int(q[0])
        bidx = t // bar
        after = idx > first
        change = np.zeros(n, dtype=np.bool_)
        change[1:] = bidx[1:] > bidx[:-1]
        close_pos = np.flatnonzero(change & after)
        eng = FeatureEngine("", rules, cfg)
        eng._bar_end_ms = (int(t[first]) // bar + 1) * bar
        mids = mid2.astype(np.float64) * 0.5
        carry = float(mids[0])
        # quotes applied before each close: positions in (previous close, this close), the first
        # quote included in the first bar (it opens it)
        cut = np.searchsorted(q, close_pos, side="left")
        lo = 0
        atr, prev, closed = [], [], []
        for c, hi in zip(close_pos.tolist(), cut.tolist(), strict=True):
            seg = mids[lo:hi]
            if len(seg):
                eng._bar_high = max(carry, float(seg.max()))
                eng._bar_low = min(carry, float(seg.min()))
                eng._bar_close = float(seg[-1])
            else:
                eng._bar_high = eng._bar_low = eng._bar_close = carry
            eng._close_bars(int(t[c]))
            carry = eng._bar_close
            atr.append(eng.atr_ticks)
            prev.append(eng.prev_close)
            closed.append(eng.bars_closed)
            lo = hi
        self.close_pos = close_pos
        self.atr = np.array(atr, dtype=np.float64)
        self.prev_close = np.array(prev, dtype=np.float64)
        self.closed = np.array(closed, dtype=np.int64)
        self.last_close = _last_index(close_pos, n)


def _last_index(positions: I64, n: int) -> I64:
    """For every row 0..n-1, the index in `positions` (ascending) of the last one at or before it."""
    return (np.searchsorted(positions, np.arange(n), side="right") - 1).astype(np.int64)


class TapeFeatures(FeatureEngine):
    """A `FeatureEngine` whose values come from the precomputed tape columns at `cursor` (a tape row).

    Market events given to it are ignored: the tape already holds them. Decision inputs (`natr_bps`,
    `spread_ema_bps`, `spread_ema_ticks`, `flow()`, `mid2`, `spread_ticks`) read the state after the
    symbol's last row at or before the cursor.
    """

    __slots__ = ("_cols", "_pos", "cursor")

    def __init__(self, symbol: str, rules: SymbolRules, cfg: FeatureConfig, cols: _SymbolColumns) -> None:
        super().__init__(symbol, rules, cfg)
        self._cols = cols
        self.cursor = -1
        self._pos = -1

    # events: already on the tape
    def on_event(self, ev: BookTicker | Trade | DepthUpdate | MarkPrice) -> None:
        return None

    def on_book_ticker(self, ev: BookTicker) -> None:
        return None

    def on_trade(self, ev: Trade) -> None:
        return None

    def on_depth(self, ev: DepthUpdate) -> None:
        return None

    def on_mark_price(self, ev: MarkPrice) -> None:
        self.funding_rate = float(ev.funding_rate)
        self.mark_price = float(ev.mark_price)

    def _row(self) -> int:
        """Index of the symbol's last fed row at or before the cursor (-1: none yet)."""
        return int(self._cols.rows.searchsorted(self.cursor, side="right")) - 1

    def _quote(self) -> int:
        r = self._row()
        return int(self._cols.last_q[r]) if r >= 0 else -1

    @property
    def time_ms(self) -> int:
        r = self._row()
        return int(self._cols.time[r]) if r >= 0 else 0

    @time_ms.setter
    def time_ms(self, value: int) -> None:  # FeatureEngine.__init__ sets it; the tape decides
        return None

    @property
    def mid2(self) -> int:
        k = self._quote()
        return int(self._cols.q_bid[k] + self._cols.q_ask[k]) if k >= 0 else 0

    @property
    def spread_ticks(self) -> int:
        k = self._quote()
        return int(self._cols.q_ask[k] - self._cols.q_bid[k]) if k >= 0 else 0

    @property
    def spread_ema_ticks(self) -> float:
        k = self._quote()
        return float(self._cols.spread_ema[k]) if k >= 0 else math.nan

    @spread_ema_ticks.setter
    def spread_ema_ticks(self, value: float) -> None:
        return None

    @property
    def spread_bps(self) -> float:
        m2 = self.mid2
        return self.spread_ticks * 20_000.0 / m2 if m2 > 0 else math.nan

    @property
    def spread_ema_bps(self) -> float:
        m2 = self.mid2
        return self.spread_ema_ticks * 20_000.0 / m2 if m2 > 0 else math.nan

    def _bar_state(self) -> tuple[float, float, int]:
        r = self._row()
        bars = self._cols.bar
        c = int(bars.last_close[r]) if r >= 0 else -1
        if c < 0:
            return math.nan, math.nan, 0
        return float(bars.atr[c]), float(bars.prev_close[c]), int(bars.closed[c])

    @property
    def natr_bps(self) -> float:
        atr, prev, closed = self._bar_state()
        if closed < self.cfg.natr_period or not prev or prev != prev:
            return math.nan
        return atr / prev * 10_000.0

    @property
    def natr_warm(self) -> bool:
        return self._bar_state()[2] >= self.cfg.natr_period

    def flow(self) -> tuple[float, float]:
        r = self._row()
        k = int(self._cols.last_tr[r]) if r >= 0 else -1
        if k < 0:
            return 0.0, 0.0
        c = self._cols
        dt = self.time_ms - int(c.tr_time[k])
        w = math.exp(-c.flow_rate * dt) if dt > 0 else 1.0
        b, s = float(c.buy_vol[k]) * w, float(c.sell_vol[k]) * w
        tot = b + s
        return ((b - s) / tot if tot > 0 else 0.0), float(c.trade_cnt[k]) * w

    def snapshot(self) -> Features:
        """The engine's snapshot with the tape's values; features decisions never read are NaN."""
        base = super().snapshot()  # reads the overridden properties; its own book fields are empty
        k = self._quote()
        bid = int(self._cols.q_bid[k]) if k >= 0 else 0
        ask = int(self._cols.q_ask[k]) if k >= 0 else 0
        m2 = bid + ask
        return msgspec.structs.replace(
            base,
            bid_ticks=bid,
            ask_ticks=ask,
            mid=m2 * self._tick / 2.0 if m2 > 0 else math.nan,
            vol_bps=math.nan,
            ofi_l1=math.nan,
            ofi_l2=math.nan,
            bars_closed=self._bar_state()[2],
        )


def attach_tape_features(strategy: object, tape: Tape) -> TapeFeatures | None:
    """Give a feature-reading `GridStrategy` of one of the tape's symbols precomputed features (the
    vectorised pass over that symbol's rows); None when the strategy reads no features."""
    from grinder.strategy import GridStrategy

    if not isinstance(strategy, GridStrategy) or not strategy.cfg.uses_features:
        return None
    si = tape.symbol_index(strategy.symbol)
    cfg = strategy.cfg.features
    tf = TapeFeatures(strategy.symbol, tape.rules[si], cfg, _SymbolColumns(tape, si, tape.rules[si], cfg))
    strategy.features = tf
    return tf
