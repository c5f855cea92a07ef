"""What the engine shows operators: per-symbol market, position, PnL, fills and latency.

`EngineView` is fed by the engine (ticks, fills, order counts, latencies) and read by /status,
the demo dashboard and the demo report. PnL is average-cost accounting of our own fills, in
Decimal; it is a display of what happened, never an input to a trading decision.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from grinder.core.events import Fill
from grinder.core.rules import SymbolRules

# Memory bounds: what an engine running for months keeps for display (the journal keeps the rest).
MAX_FILLS_KEPT = 5_000  # per symbol, newest first out of the report when exceeded
MAX_TRADE_IDS_KEPT = 20_000  # duplicate detection window (the pipeline and user stream de-duplicate too)
MAX_SERIES_POINTS = 4_000  # per series; a full series is thinned to half (see `Series`)
LATENCY_WINDOW = 4096
PRICE_SAMPLE_MS = 50  # one mid-price point per 50 ms of book updates at most (doubles on each thinning)


class Series:
    """(time_ms, value) points covering the whole run in bounded memory.

    Points closer than `gap_ms` to the previous one are skipped. When `cap` points are held,
    every other point is dropped and `gap_ms` doubles, so the series always spans from the
    start of the run to now, at a resolution that halves each time it fills up.
    """

    __slots__ = ("_points", "cap", "gap_ms")

    def __init__(self, cap: int = MAX_SERIES_POINTS, gap_ms: int = 0) -> None:
        self._points: list[tuple[int, float]] = []
        self.cap = max(4, cap)
        self.gap_ms = gap_ms

    def add(self, time_ms: int, value: float) -> None:
        points = self._points
        if points and time_ms - points[-1][0] < self.gap_ms:
            return
        points.append((time_ms, value))
        if len(points) >= self.cap:
            last = points[-1]
            del points[1::2]  # keeps the first point; the newest is re-appended below if dropped
            if points[-1] is not last:
                points.append(last)
            self.gap_ms = max(1, self.gap_ms * 2)

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return iter(self._points)

    def __len__(self) -> int:
        return len(self._points)

    def __bool__(self) -> bool:
        return bool(self._points)

    def __getitem__(self, index: int) -> tuple[int, float]:
        return self._points[index]


@dataclass(slots=True)
class FillRecord:
    time_ms: int
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    client_order_id: str
    trade_id: int
    is_maker: bool


@dataclass(slots=True)
class SymbolView:
    """One symbol: last book, our position (avg-cost), realized PnL net of fees, fills, series."""

    symbol: str
    rules: SymbolRules
    bid_ticks: int = 0
    ask_ticks: int = 0
    last_tick_ms: int = 0
    ticks: int = 0
    position_lots: int = 0
    avg_entry: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)  # gross of fees
    fees: Decimal = Decimal(0)
    volume_quote: Decimal = Decimal(0)
    working_orders: int = 0
    working_bids: tuple[int, ...] = ()
    working_asks: tuple[int, ...] = ()
    fills: deque[FillRecord] = field(default_factory=lambda: deque(maxlen=MAX_FILLS_KEPT))
    fill_count: int = 0
    price_series: Series = field(default_factory=lambda: Series(gap_ms=PRICE_SAMPLE_MS))
    position_series: Series = field(default_factory=Series)
    equity_series: Series = field(default_factory=Series)
    _trade_ids: set[int] = field(default_factory=set)
    _trade_order: deque[int] = field(default_factory=deque)

    # ------------------------------------------------------------------ market
    def on_book(self, bid_ticks: int, ask_ticks: int, now_ms: int) -> None:
        self.bid_ticks, self.ask_ticks, self.last_tick_ms = bid_ticks, ask_ticks, now_ms
        self.ticks += 1
        series = self.price_series
        if not series or now_ms - series[-1][0] >= series.gap_ms:
            series.add(now_ms, float(self.rules.tick_size * (bid_ticks + ask_ticks)) / 2)

    @property
    def mid(self) -> Decimal | None:
        if self.bid_ticks <= 0 or self.ask_ticks <= 0:
            return None
        return self.rules.tick_size * (self.bid_ticks + self.ask_ticks) / 2

    # --------------------------------------------------------------- position
    @property
    def position_qty(self) -> Decimal:
        return self.rules.step_size * self.position_lots

    def set_position(self, amount_lots: int, entry_price: Decimal) -> None:
        """Adopt the exchange's position at start-up (source of truth)."""
        self.position_lots = amount_lots
        self.avg_entry = entry_price if amount_lots else Decimal(0)

    def on_fill(self, fill: Fill) -> bool:
        """Book one fill; False (ignored) when this trade id was already booked."""
        if fill.trade_id and fill.trade_id in self._trade_ids:
            return False
        if fill.trade_id:
            self._trade_ids.add(fill.trade_id)
            self._trade_order.append(fill.trade_id)
            if len(self._trade_order) > MAX_TRADE_IDS_KEPT:  # bounded memory on long runs
                self._trade_ids.discard(self._trade_order.popleft())
        price = self.rules.ticks_to_price(fill.price_ticks)
        qty_lots = fill.qty_lots * fill.side.sign
        self._apply(qty_lots, price)
        fee = fill.commission if fill.commission_asset in ("USDT", "") else Decimal(0)
        self.fees += fee
        qty = self.rules.lots_to_qty(fill.qty_lots)
        self.volume_quote += price * qty
        self.fills.append(
            FillRecord(fill.time_ms, fill.side.value, price, qty, fee, fill.client_order_id, fill.trade_id,
                       fill.is_maker)
        )
        self.fill_count += 1
        return True

    def _apply(self, signed_lots: int, price: Decimal) -> None:
        pos = self.position_lots
        step = self.rules.step_size
        if pos == 0 or (pos > 0) == (signed_lots > 0):
            new = pos + signed_lots
            self.avg_entry = (self.avg_entry * abs(pos) + price * abs(signed_lots)) / abs(new)
            self.position_lots = new
            return
        closing = min(abs(signed_lots), abs(pos))
        direction = 1 if pos > 0 else -1
        self.realized_pnl += (price - self.avg_entry) * step * closing * direction
        new = pos + signed_lots
        if new == 0:
            self.avg_entry = Decimal(0)
        elif (new > 0) != (pos > 0):
            self.avg_entry = price  # flipped: the remainder opened at this price
        self.position_lots = new

    def unrealized_pnl(self) -> Decimal:
        mid = self.mid
        if mid is None or self.position_lots == 0:
            return Decimal(0)
        return (mid - self.avg_entry) * self.position_qty

    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees + self.unrealized_pnl()

    def sample(self, now_ms: int) -> None:
        """Append one point to the position / equity series (for dashboard and report)."""
        if self.mid is None:
            return
        self.position_series.add(now_ms, float(self.position_qty))
        self.equity_series.add(now_ms, float(self.net_pnl()))

    def as_dict(self) -> dict[str, Any]:
        tick = self.rules.tick_size
        return {
            "bid": str(tick * self.bid_ticks) if self.bid_ticks else None,
            "ask": str(tick * self.ask_ticks) if self.ask_ticks else None,
            "last_tick_ms": self.last_tick_ms,
            "ticks": self.ticks,
            "position_qty": str(self.position_qty),
            "avg_entry": str(self.avg_entry),
            "realized_pnl": str(self.realized_pnl),
            "fees": str(self.fees),
            "unrealized_pnl": str(self.unrealized_pnl()),
            "net_pnl": str(self.net_pnl()),
            "fills": self.fill_count,
            "volume_quote": str(self.volume_quote),
            "working_orders": self.working_orders,
            "working_bids": [str(tick * p) for p in self.working_bids],
            "working_asks": [str(tick * p) for p in self.working_asks],
        }


class LatencyWindow:
    """The last N samples of a latency (ns) with percentiles for display."""

    __slots__ = ("_samples", "count")

    def __init__(self, size: int = LATENCY_WINDOW) -> None:
        self._samples: deque[int] = deque(maxlen=size)
        self.count = 0

    def add(self, ns: int) -> None:
        self._samples.append(ns)
        self.count += 1

    def percentile_us(self, q: float) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[idx] / 1000.0

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "p50_us": self.percentile_us(0.5), "p99_us": self.percentile_us(0.99)}
