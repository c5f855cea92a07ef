"""Incremental market features for one symbol, O(1) per event, driven only by event time.

Book: mid, microprice, spread (bps, and a smoothed spread), L1 imbalance, order-flow imbalance from
L1 changes (Cont–Kukanov–Stoikov) and from L2 diffs when depth is streamed. Trades: trade-flow
imbalance. Volatility: EWMA of mid log returns (per √s) and NATR on time bars, whose closes are
decided by event time; range and trend (efficiency ratio) scores over the last bars. Mark price
events give funding rate and mark. Floats are fine here: features never become an order price.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

import msgspec

from grinder.core.events import BookTicker, DepthUpdate, Level, MarkPrice, Trade
from grinder.core.rules import SymbolRules
from grinder.strategy.config import FeatureConfig

_LN2 = math.log(2.0)


class Features(msgspec.Struct, frozen=True, gc=False):
    """A snapshot of every feature (NaN where not yet known)."""

    symbol: str
    time_ms: int
    bid_ticks: int
    ask_ticks: int
    mid: float  # price units
    microprice: float
    spread_bps: float
    spread_ema_bps: float
    imbalance_l1: float  # (bid qty - ask qty) / (bid qty + ask qty), in [-1, 1]
    ofi_l1: float  # decayed L1 order-flow imbalance, lots
    ofi_l2: float  # decayed L2 order-flow imbalance within l2_band_bps, lots
    depth_imbalance_l2: float  # (bid depth - ask depth) / total within l2_band_bps, NaN without L2
    trade_flow_imbalance: float  # (aggressive buy - sell volume) / total, decayed, in [-1, 1]
    trade_count: float  # decayed number of trades in the flow window
    vol_bps: float  # EWMA volatility of mid log returns, bps per √second
    natr_bps: float  # Wilder ATR / close of time bars, bps
    bars_closed: int
    range_bps: float  # (max high - min low) / close over the last trend_window_bars, bps
    trend_score: float  # |net move| / path length over the last bars, in [0, 1]: 1 = straight trend
    funding_rate: float
    mark_price: float
    natr_warm: bool  # at least natr_period bars closed


def _apply_levels(book: dict[int, int], levels: Iterable[Level], mid2: int, band2: int) -> int:
    """Apply one side of an L2 diff (absolute quantities; 0 removes the level) to `book`; returns
    the size added minus the size removed at levels within `band2` half ticks of the mid."""
    change = 0
    for price, qty in levels:
        old = book.get(price, 0)
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)
        if abs(2 * price - mid2) <= band2:
            change += qty - old
    return change


class FeatureEngine:
    """Consumes market events for one symbol and keeps the features up to date."""

    __slots__ = (
        "_ask",
        "_ask_qty",
        "_bar_close",
        "_bar_end_ms",
        "_bar_high",
        "_bar_low",
        "_bars",
        "_bid",
        "_bid_qty",
        "_buy_vol",
        "_flow_hl",
        "_l2_asks",
        "_l2_bids",
        "_last_flow_ms",
        "_last_mid_ms",
        "_last_ofi2_ms",
        "_last_ofi_ms",
        "_last_spread_ms",
        "_mid2",
        "_ofi_hl",
        "_ofi_l1",
        "_ofi_l2",
        "_sell_vol",
        "_spread_hl",
        "_tick",
        "_trade_cnt",
        "_var",
        "_vol_hl",
        "atr_ticks",
        "bars_closed",
        "cfg",
        "funding_rate",
        "mark_price",
        "prev_close",
        "rules",
        "spread_ema_ticks",
        "symbol",
        "time_ms",
    )

    def __init__(self, symbol: str, rules: SymbolRules, config: FeatureConfig | None = None) -> None:
        self.symbol = symbol
        self.rules = rules
        self.cfg = cfg = config or FeatureConfig()
        self._tick = float(rules.tick_size)
        self._vol_hl = cfg.vol_halflife_ms / 1000.0
        self._spread_hl = float(cfg.spread_halflife_ms)
        self._flow_hl = float(cfg.flow_halflife_ms)
        self._ofi_hl = float(cfg.ofi_halflife_ms)
        self.time_ms = 0
        self._bid = self._ask = self._bid_qty = self._ask_qty = 0
        self._mid2 = 0
        self._last_mid_ms = self._last_spread_ms = self._last_flow_ms = self._last_ofi_ms = (
            self._last_ofi2_ms
        ) = 0
        self._var = 0.0  # decayed sum of squared log returns
        self.spread_ema_ticks = math.nan
        self._ofi_l1 = self._ofi_l2 = 0.0
        self._buy_vol = self._sell_vol = self._trade_cnt = 0.0
        # bars (in ticks of mid): the open bar, Wilder ATR, and the last closes/true ranges
        self._bar_end_ms = 0
        self._bar_high = self._bar_low = self._bar_close = 0.0
        self.prev_close = math.nan
        self.atr_ticks = math.nan
        self.bars_closed = 0
        self._bars: deque[tuple[float, float, float, float]] = deque(maxlen=cfg.trend_window_bars)
        self._l2_bids: dict[int, int] = {}
        self._l2_asks: dict[int, int] = {}
        self.funding_rate = math.nan
        self.mark_price = math.nan

    # ----------------------------------------------------------------- events
    def on_event(self, ev: BookTicker | Trade | DepthUpdate | MarkPrice) -> None:
        tp = type(ev)
        if tp is BookTicker:
            self.on_book_ticker(ev)  # type: ignore[arg-type]
        elif tp is Trade:
            self.on_trade(ev)  # type: ignore[arg-type]
        elif tp is DepthUpdate:
            self.on_depth(ev)  # type: ignore[arg-type]
        elif tp is MarkPrice:
            self.on_mark_price(ev)  # type: ignore[arg-type]

    def _advance(self, t: int) -> int:
        """Move event time forward (never back) and close any bars that ended before `t`."""
        if t > self.time_ms:
            self.time_ms = t
        t = self.time_ms
        if self._bar_end_ms and t >= self._bar_end_ms:
            self._close_bars(t)
        return t

    def on_book_ticker(self, ev: BookTicker) -> None:
        t = ev.transaction_time_ms
        if t > self.time_ms:
            self.time_ms = t
            if self._bar_end_ms and t >= self._bar_end_ms:
                self._close_bars(t)
        else:
            t = self.time_ms
        bid, ask, bq, aq = ev.bid_ticks, ev.ask_ticks, ev.bid_lots, ev.ask_lots
        prev2 = self._mid2
        mid2 = bid + ask
        if prev2 and mid2 > 0:
            # L1 order-flow imbalance (Cont, Kukanov & Stoikov 2014) and the smoothed spread share
            # one clock: both are updated on every book ticker.
            pb, pa = self._bid, self._ask
            e = 0
            if bid >= pb:
                e += bq
            if bid <= pb:
                e -= self._bid_qty
            if ask <= pa:
                e -= aq
            if ask >= pa:
                e += self._ask_qty
            dt = t - self._last_ofi_ms
            if dt > 0:
                self._ofi_l1 = self._ofi_l1 * math.exp(-_LN2 * dt / self._ofi_hl) + e
                w = math.exp(-_LN2 * dt / self._spread_hl)
                self.spread_ema_ticks = w * self.spread_ema_ticks + (1.0 - w) * (ask - bid)
            else:
                self._ofi_l1 += e
            self._last_ofi_ms = self._last_spread_ms = t
            if mid2 != prev2:
                r = math.log(mid2 / prev2)
                self._var = (
                    self._var * math.exp(-_LN2 * (t - self._last_mid_ms) / 1000.0 / self._vol_hl) + r * r
                )
                self._last_mid_ms = t
            m = mid2 * 0.5
            if m > self._bar_high:
                self._bar_high = m
            elif m < self._bar_low:
                self._bar_low = m
            self._bar_close = m
        elif mid2 > 0:  # first quote
            self._last_ofi_ms = self._last_spread_ms = self._last_mid_ms = t
            self.spread_ema_ticks = float(ask - bid)
            bar = self.cfg.bar_ms
            self._bar_end_ms = (t // bar + 1) * bar
            self._bar_high = self._bar_low = self._bar_close = mid2 * 0.5
        else:
            return  # a quote without prices carries nothing
        self._bid, self._ask, self._bid_qty, self._ask_qty = bid, ask, bq, aq
        self._mid2 = mid2

    def on_trade(self, ev: Trade) -> None:
        t = self._advance(ev.trade_time_ms)
        w = self._decay(t - self._last_flow_ms, self._flow_hl)
        self._last_flow_ms = t
        q = float(ev.qty_lots)
        if ev.buyer_is_maker:  # aggressor sold
            self._buy_vol *= w
            self._sell_vol = self._sell_vol * w + q
        else:
            self._buy_vol = self._buy_vol * w + q
            self._sell_vol *= w
        self._trade_cnt = self._trade_cnt * w + 1.0

    def on_depth(self, ev: DepthUpdate) -> None:
        """L2 diff: absolute quantities per level; OFI counts size added/removed near the touch."""
        t = self._advance(ev.transaction_time_ms)
        mid2 = self._mid2  # 0 before the first book ticker: levels are kept, no OFI yet
        band2 = int(mid2 * self.cfg.l2_band_bps / 10_000.0) + 2  # half ticks
        # OFI: size added to the bids adds to buy pressure, size added to the asks to sell pressure.
        bid_change = _apply_levels(self._l2_bids, ev.bids, mid2, band2)
        e = bid_change - _apply_levels(self._l2_asks, ev.asks, mid2, band2)
        if mid2 > 0:
            self._ofi_l2 = self._ofi_l2 * self._decay(t - self._last_ofi2_ms, self._ofi_hl) + e
            self._last_ofi2_ms = t
        cap = self.cfg.l2_max_levels
        if len(self._l2_bids) > 2 * cap:
            for price in sorted(self._l2_bids)[: len(self._l2_bids) - cap]:
                del self._l2_bids[price]
        if len(self._l2_asks) > 2 * cap:
            for price in sorted(self._l2_asks, reverse=True)[: len(self._l2_asks) - cap]:
                del self._l2_asks[price]

    def on_mark_price(self, ev: MarkPrice) -> None:
        self._advance(ev.event_time_ms)
        self.funding_rate = float(ev.funding_rate)
        self.mark_price = float(ev.mark_price)

    # ----------------------------------------------------------------- bars
    def _close_bars(self, t: int) -> None:
        """Close the open bar and account for any empty bars up to `t` in O(1)."""
        bar = self.cfg.bar_ms
        n = self.cfg.natr_period
        self._close_one(self._bar_high, self._bar_low, self._bar_close)
        empty = (t - self._bar_end_ms) // bar  # whole bars with no event
        if empty > 0:
            # An empty bar has TR 0: Wilder ATR decays by ((n-1)/n) per bar, closed form.
            k = min(empty, self.cfg.trend_window_bars)
            for _ in range(k):
                c = self._bar_close
                self._bars.append((c, c, c, 0.0))
            done = self.bars_closed
            warm_up = min(empty, max(0, n - done))  # zero TRs inside the first-n simple mean
            if warm_up:
                self.atr_ticks = self.atr_ticks * done / (done + warm_up)
            if empty > warm_up:
                self.atr_ticks *= ((n - 1) / n) ** (empty - warm_up)
            self.bars_closed += empty
        self._bar_end_ms = (t // bar + 1) * bar
        c = self._bar_close
        self._bar_high = self._bar_low = c

    def seed_bars(self, bars: Iterable[tuple[float, float, float]]) -> int:
        """Close history bars (high, low, close in ticks, oldest first) before any event: warm-up."""
        n = 0
        for high, low, close in bars:
            self._close_one(high, low, close)
            n += 1
        return n

    def _close_one(self, high: float, low: float, close: float) -> None:
        pc = self.prev_close
        tr = high - low if math.isnan(pc) else max(high, pc) - min(low, pc)
        n = self.cfg.natr_period
        self.bars_closed += 1
        if self.bars_closed <= n:
            # simple mean of the first n true ranges, then Wilder smoothing
            prev = 0.0 if math.isnan(self.atr_ticks) else self.atr_ticks
            self.atr_ticks = prev + (tr - prev) / self.bars_closed
        else:
            self.atr_ticks = (self.atr_ticks * (n - 1) + tr) / n
        self.prev_close = close
        self._bars.append((high, low, close, tr))

    # ----------------------------------------------------------------- reads
    @staticmethod
    def _decay(dt_ms: int, halflife_ms: float) -> float:
        return math.exp(-_LN2 * dt_ms / halflife_ms) if dt_ms > 0 else 1.0

    @property
    def mid2(self) -> int:
        return self._mid2

    @property
    def spread_ticks(self) -> int:
        return self._ask - self._bid

    @property
    def natr_bps(self) -> float:
        if self.bars_closed < self.cfg.natr_period or not self.prev_close:
            return math.nan
        return self.atr_ticks / self.prev_close * 10_000.0

    @property
    def natr_warm(self) -> bool:
        return self.bars_closed >= self.cfg.natr_period

    @property
    def spread_bps(self) -> float:
        if self._mid2 <= 0:
            return math.nan
        return (self._ask - self._bid) * 20_000.0 / self._mid2

    @property
    def spread_ema_bps(self) -> float:
        if self._mid2 <= 0:
            return math.nan
        return self.spread_ema_ticks * 20_000.0 / self._mid2

    @property
    def vol_bps(self) -> float:
        """EWMA volatility, bps per √second, decayed to the current event time."""
        dt_s = (self.time_ms - self._last_mid_ms) / 1000.0
        var = self._var * math.exp(-_LN2 * dt_s / self._vol_hl)
        # decayed sum of r² over an effective window of halflife/ln2 seconds
        return math.sqrt(var * _LN2 / self._vol_hl) * 10_000.0

    def flow(self) -> tuple[float, float]:
        """(trade-flow imbalance in [-1, 1], decayed trade count), decayed to the current time."""
        w = self._decay(self.time_ms - self._last_flow_ms, self._flow_hl)
        b, s = self._buy_vol * w, self._sell_vol * w
        tot = b + s
        return ((b - s) / tot if tot > 0 else 0.0), self._trade_cnt * w

    def range_trend(self) -> tuple[float, float]:
        """(range_bps, trend_score) over the last closed bars (NaN until two bars)."""
        bars = self._bars
        if len(bars) < 2:
            return math.nan, math.nan
        hi = max(b[0] for b in bars)
        lo = min(b[1] for b in bars)
        last = bars[-1][2]
        path = sum(abs(bars[i][2] - bars[i - 1][2]) for i in range(1, len(bars)))
        net = abs(last - bars[0][2])
        return (hi - lo) / last * 10_000.0, (net / path if path > 0 else 0.0)

    def depth_imbalance_l2(self) -> float:
        if not self._l2_bids or not self._l2_asks or self._mid2 <= 0:
            return math.nan
        mid2 = self._mid2
        band2 = mid2 * self.cfg.l2_band_bps / 10_000.0
        bid, ask = self._bid, self._ask
        # levels through the L1 touch are stale (the diff stream has not removed them yet)
        b = sum(q for p, q in self._l2_bids.items() if p <= bid and mid2 - 2 * p <= band2)
        a = sum(q for p, q in self._l2_asks.items() if p >= ask and 2 * p - mid2 <= band2)
        return (b - a) / (a + b) if a + b > 0 else 0.0

    def snapshot(self) -> Features:
        bid, ask = self._bid, self._ask
        bq, aq = self._bid_qty, self._ask_qty
        tick = self._tick
        mid = self._mid2 * tick / 2.0 if self._mid2 > 0 else math.nan
        micro = (bid * aq + ask * bq) / (aq + bq) * tick if aq + bq > 0 else mid
        imb = (bq - aq) / (bq + aq) if bq + aq > 0 else math.nan
        tfi, cnt = self.flow()
        rng, trend = self.range_trend()
        w1 = self._decay(self.time_ms - self._last_ofi_ms, self._ofi_hl)
        w2 = self._decay(self.time_ms - self._last_ofi2_ms, self._ofi_hl)
        return Features(
            symbol=self.symbol,
            time_ms=self.time_ms,
            bid_ticks=bid,
            ask_ticks=ask,
            mid=mid,
            microprice=micro,
            spread_bps=self.spread_bps,
            spread_ema_bps=self.spread_ema_bps,
            imbalance_l1=imb,
            ofi_l1=self._ofi_l1 * w1,
            ofi_l2=self._ofi_l2 * w2,
            depth_imbalance_l2=self.depth_imbalance_l2(),
            trade_flow_imbalance=tfi,
            trade_count=cnt,
            vol_bps=self.vol_bps,
            natr_bps=self.natr_bps,
            bars_closed=self.bars_closed,
            range_bps=rng,
            trend_score=trend,
            funding_rate=self.funding_rate,
            mark_price=self.mark_price,
            natr_warm=self.natr_warm,
        )
