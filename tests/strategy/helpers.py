"""Builders shared by the strategy tests: events, a reference-grid transcription, a fill model."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from grinder.core.enums import PositionSide, Side
from grinder.core.events import BookTicker, Fill, MarkPrice, Trade
from grinder.strategy.types import DesiredQuote, QuoteSet

SYM = "BTCUSDT"


def book(bid: int, ask: int, t: int, bq: int = 5, aq: int = 5, symbol: str = SYM) -> BookTicker:
    return BookTicker(symbol, bid, bq, ask, aq, t, t, t)


def trade(price: int, qty: int, t: int, buyer_is_maker: bool = False, symbol: str = SYM) -> Trade:
    return Trade(symbol, t, price, qty, buyer_is_maker, t, t)


def mark(price: str, t: int, funding: str = "0.0001", symbol: str = SYM) -> MarkPrice:
    return MarkPrice(symbol, Decimal(price), Decimal(price), Decimal(funding), t + 3_600_000, t)


def fill(side: Side, price: int, qty: int, t: int, level: str = "b1", symbol: str = SYM) -> Fill:
    cid = f"grinder_grid_{symbol}_{level}_1700000000_{t}"
    return Fill(
        symbol, t, cid, t, side, PositionSide.BOTH, price, qty, True, Decimal(0), "USDT", Decimal(0), t
    )


def quote_keys(qs: QuoteSet) -> set[tuple[Side, int, int]]:
    return {(q.side, q.price_ticks, q.qty_lots) for q in qs.quotes}


@dataclass
class ReferenceGrid:
    """REFERENCE_GRID.md, transcribed line by line (strategy step only)."""

    levels: int = 5
    s_bps: int = 10
    qty: int = 10
    max_pos: int = 100
    anchor: int | None = None
    reanchors: int = 0

    def step(self, bid: int, ask: int, pos: int) -> set[tuple[Side, int, int]]:
        mid2 = bid + ask
        if self.anchor is None:
            self.anchor = mid2 // 2
        else:
            d1 = self.anchor * self.s_bps * 1 // 10000
            if abs(mid2 - 2 * self.anchor) > 2 * d1:
                self.anchor = mid2 // 2
                self.reanchors += 1
        a = self.anchor
        d = [a * self.s_bps * i // 10000 for i in range(1, self.levels + 1)]
        nb = min(self.levels, (self.max_pos - pos) // self.qty)
        ns = min(self.levels, (self.max_pos + pos) // self.qty)
        out = {(Side.BUY, a - d[i - 1], self.qty) for i in range(1, nb + 1)}
        out |= {(Side.SELL, a + d[i - 1], self.qty) for i in range(1, ns + 1)}
        return out


@dataclass
class ReferenceMatcher:
    """The reference fill model: orders rest from the next event; full fills at the limit price."""

    resting: set[tuple[Side, int, int]] = field(default_factory=set)
    pos: int = 0
    fills: int = 0

    def match_quote(self, bid: int, ask: int) -> list[tuple[Side, int, int]]:
        hit = [
            o
            for o in self.resting
            if (o[0] is Side.BUY and ask <= o[1]) or (o[0] is Side.SELL and bid >= o[1])
        ]
        return self._apply(hit)

    def match_trade(self, price: int) -> list[tuple[Side, int, int]]:
        hit = [
            o
            for o in self.resting
            if (o[0] is Side.BUY and price <= o[1]) or (o[0] is Side.SELL and price >= o[1])
        ]
        return self._apply(hit)

    def _apply(self, hit: list[tuple[Side, int, int]]) -> list[tuple[Side, int, int]]:
        for o in sorted(hit, key=lambda o: (o[0].value, o[1])):
            self.resting.discard(o)
            self.pos += o[2] * o[0].sign
            self.fills += 1
        return hit


def market_events(seed: int, n: int, start: int = 600_000, t0: int = 1_700_000_000_000) -> list[object]:
    """A seeded market with regimes (calm, trend, jumps, wide spreads, one-sided flow), marks and depth."""
    from grinder.core.events import DepthUpdate

    rng = random.Random(seed)
    mid = start
    t = t0
    drift = 0
    spread = 2
    flow_bias = 0.5
    out: list[object] = []
    uid = 1
    for _ in range(n):
        t += rng.randint(1, 400)
        r = rng.random()
        if rng.random() < 0.01:
            drift = rng.choice((-40, 0, 0, 40))
            spread = rng.choice((1, 2, 3, 10, 200, 900))
            flow_bias = rng.choice((0.5, 0.5, 0.05, 0.95))
        if r < 0.6:
            jump = rng.choice((-1, 1)) * rng.randint(1000, 6000) if rng.random() < 0.005 else 0
            mid = max(10_000, mid + drift + rng.randint(-60, 60) + jump)
            sp = max(1, spread + rng.randint(-1, 1))
            bid = mid - sp // 2
            out.append(BookTicker(SYM, bid, rng.randint(1, 50), bid + sp, rng.randint(1, 50), uid, t, t))
        elif r < 0.9:
            px = mid + rng.randint(-300, 300)
            out.append(Trade(SYM, uid, px, rng.randint(1, 20), rng.random() > flow_bias, t, t))
        elif r < 0.97:
            out.append(mark(str(Decimal(mid + rng.randint(-50, 50)) / 10), t))
        else:
            bids = tuple((mid - k, rng.randint(0, 30)) for k in range(1, 4))
            asks = tuple((mid + k, rng.randint(0, 30)) for k in range(1, 4))
            out.append(DepthUpdate(SYM, uid, uid, uid - 1, bids, asks, t, t))
        uid += 1
    return out


def event_time(ev: object) -> int:
    if isinstance(ev, BookTicker):
        return ev.transaction_time_ms
    if isinstance(ev, Trade):
        return ev.trade_time_ms
    return int(ev.event_time_ms)  # type: ignore[attr-defined]


class QuoteMatcher:
    """Reference-style fill model over DesiredQuotes: full fills at the limit from the next event."""

    def __init__(self) -> None:
        self.resting: tuple[DesiredQuote, ...] = ()
        self.pos = 0

    def match(self, ev: object) -> list[DesiredQuote]:
        hit: list[DesiredQuote] = []
        if isinstance(ev, BookTicker):
            hit = [
                q
                for q in self.resting
                if (q.side is Side.BUY and ev.ask_ticks <= q.price_ticks)
                or (q.side is Side.SELL and ev.bid_ticks >= q.price_ticks)
            ]
        elif isinstance(ev, Trade):
            hit = [
                q
                for q in self.resting
                if (q.side is Side.BUY and ev.price_ticks <= q.price_ticks)
                or (q.side is Side.SELL and ev.price_ticks >= q.price_ticks)
            ]
        for q in hit:
            self.pos += q.side.sign * q.qty_lots
        self.resting = tuple(q for q in self.resting if q not in hit)
        return hit
