"""A seeded synthetic USDⓈ-M market: regime-switching random walk with jumps, an L2 book, trades, marks.

Deterministic for a given seed and symbol set; pure (no clock, no I/O): `step()` returns the next
batch of inputs, `data_time_ms` advancing by `step_ms` each call.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from grinder.core.events import DepthSnapshot
from grinder.core.rules import SymbolRules
from grinder.sim.inputs import BookDiff, BookReset, MarketInput, MarkTick, TimedBatch, TradePrint

# Start prices for the symbols people will try first; others start at 100 quote units.
_START_PRICE = {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000"), "SOLUSDT": Decimal("150")}
_LEVELS_PER_SIDE = 60


@dataclass(frozen=True, slots=True)
class Regime:
    """Per-step volatility (as a fraction of price), jump odds, spread in ticks, trades per step."""

    sigma: float
    jump_prob: float
    jump_sigma: float
    max_spread_ticks: int
    trade_rate: float


CALM = Regime(sigma=0.00004, jump_prob=0.0005, jump_sigma=0.002, max_spread_ticks=1, trade_rate=0.6)
VOLATILE = Regime(sigma=0.00025, jump_prob=0.003, jump_sigma=0.004, max_spread_ticks=4, trade_rate=2.5)


@dataclass(slots=True)
class _SymbolState:
    rules: SymbolRules
    mid: float  # in ticks
    level_gap: int  # typical tick distance between resting levels
    lots_per_quote: float  # lots per 1 USDT of notional at the start price
    volatile: bool = False
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


class SyntheticMarket:
    """Generates `TimedBatch`es for all symbols; one batch per `step_ms` of data time."""

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        seed: int,
        step_ms: int = 100,
        start_time_ms: int = 0,
        mark_interval_ms: int = 1000,
    ) -> None:
        self._rng = random.Random(seed)
        self._step_ms = step_ms
        self._mark_interval_ms = mark_interval_ms
        self._time_ms = start_time_ms
        self._next_mark_ms = start_time_ms
        self._symbols: dict[str, _SymbolState] = {}
        for symbol in sorted(rules):
            r = rules[symbol]
            start = _START_PRICE.get(symbol, Decimal(100))
            mid_ticks = float(start / r.tick_size)
            # Resting levels every ~0.5 bp of price, at least one tick apart.
            gap = max(1, round(mid_ticks * 0.00005))
            lots_per_quote = float(1 / (start * r.step_size))
            self._symbols[symbol] = _SymbolState(r, mid_ticks, gap, lots_per_quote)

    @property
    def data_time_ms(self) -> int:
        return self._time_ms

    def opening(self) -> TimedBatch:
        """The first batch: a full book per symbol and a mark price."""
        inputs: list[MarketInput] = []
        for symbol, st in self._symbols.items():
            bid = math.floor(st.mid)
            ask = bid + 1
            st.bids = {bid - i * st.level_gap: self._level_lots(st, i) for i in range(_LEVELS_PER_SIDE)}
            st.asks = {ask + i * st.level_gap: self._level_lots(st, i) for i in range(_LEVELS_PER_SIDE)}
            snap = DepthSnapshot(
                symbol=symbol,
                last_update_id=0,
                bids=tuple(sorted(st.bids.items(), reverse=True)),
                asks=tuple(sorted(st.asks.items())),
                event_time_ms=self._time_ms,
                transaction_time_ms=self._time_ms,
            )
            inputs.append(BookReset(snap))
            inputs.append(self._mark(st))
        self._next_mark_ms = self._time_ms + self._mark_interval_ms
        return TimedBatch(self._time_ms, tuple(inputs))

    def batches(self) -> Iterator[TimedBatch]:
        yield self.opening()
        while True:
            yield self.step()

    def step(self) -> TimedBatch:
        self._time_ms += self._step_ms
        inputs: list[MarketInput] = []
        for st in self._symbols.values():
            inputs.extend(self._step_symbol(st))
        if self._time_ms >= self._next_mark_ms:
            self._next_mark_ms += self._mark_interval_ms
            inputs.extend(self._mark(st) for st in self._symbols.values())
        return TimedBatch(self._time_ms, tuple(inputs))

    # ------------------------------------------------------------------ internals
    def _level_lots(self, st: _SymbolState, distance: int) -> int:
        """Resting size grows away from the touch; lognormal around ~20k USDT per level."""
        notional = 20_000.0 * (1.0 + 0.08 * distance) * self._rng.lognormvariate(0.0, 0.8)
        return max(1, round(notional * st.lots_per_quote))

    def _mark(self, st: _SymbolState) -> MarkTick:
        r = st.rules
        mark = Decimal(round(st.mid * (1 + self._rng.gauss(0, 0.00002)) * 100)) / 100 * r.tick_size
        index = mark * (1 - Decimal(f"{self._rng.gauss(0.00005, 0.00003):.8f}"))
        funding = Decimal(f"{0.0001 + self._rng.gauss(0, 0.00003):.8f}")
        dp = Decimal(1).scaleb(-(r.effective_price_precision + 2))
        return MarkTick(r.symbol, mark.quantize(dp), index.quantize(dp), funding)

    def _step_symbol(self, st: _SymbolState) -> list[MarketInput]:
        rng = self._rng
        if rng.random() < (0.002 if not st.volatile else 0.01):
            st.volatile = not st.volatile
        regime = VOLATILE if st.volatile else CALM
        move = rng.gauss(0, regime.sigma)
        if rng.random() < regime.jump_prob:
            move += rng.gauss(0, regime.jump_sigma)
        st.mid = max(st.mid * (1 + move), 10.0 * st.level_gap * _LEVELS_PER_SIDE)
        spread = rng.randint(1, regime.max_spread_ticks)
        best_bid = math.floor(st.mid - spread / 2)
        best_ask = best_bid + spread
        bid_changes: dict[int, int] = {}
        ask_changes: dict[int, int] = {}
        trades = self._trades(st, regime, move, bid_changes, ask_changes)
        self._reshape_side(st, st.bids, best_bid, -1, bid_changes)
        self._reshape_side(st, st.asks, best_ask, +1, ask_changes)
        out: list[MarketInput] = list(trades)
        if bid_changes or ask_changes:
            out.append(
                BookDiff(
                    st.rules.symbol,
                    tuple(sorted(bid_changes.items(), reverse=True)),
                    tuple(sorted(ask_changes.items())),
                )
            )
        return out

    def _trades(
        self,
        st: _SymbolState,
        regime: Regime,
        move: float,
        bid_changes: dict[int, int],
        ask_changes: dict[int, int],
    ) -> list[TradePrint]:
        rng = self._rng
        count = _poisson(rng, regime.trade_rate)
        prints: list[TradePrint] = []
        buy_bias = 0.5 + max(-0.4, min(0.4, move / (regime.sigma * 4 + 1e-12)))
        for _ in range(count):
            buyer_aggressor = rng.random() < buy_bias
            side = st.asks if buyer_aggressor else st.bids
            changes = ask_changes if buyer_aggressor else bid_changes
            if not side:
                continue
            price = min(side) if buyer_aggressor else max(side)
            resting = side[price]
            lots = max(1, min(resting, round(rng.expovariate(1.0) * 2_000.0 * st.lots_per_quote)))
            prints.append(TradePrint(st.rules.symbol, price, lots, buyer_is_maker=not buyer_aggressor))
            left = resting - lots
            if left > 0:
                side[price] = left
            else:
                del side[price]
            changes[price] = left
        return prints

    def _reshape_side(
        self, st: _SymbolState, side: dict[int, int], best: int, direction: int, changes: dict[int, int]
    ) -> None:
        """Move the side's touch to `best`, refresh a few sizes and keep ~_LEVELS_PER_SIDE levels."""
        rng = self._rng
        # direction -1 = bids (prices below best), +1 = asks (prices above best)
        # (the comparisons below are `(p - x) * direction < 0` etc. written per side: same sets, cheaper)
        inside = [p for p in side if p > best] if direction < 0 else [p for p in side if p < best]
        for price in inside:
            del side[price]
            changes[price] = 0
        if best not in side:
            side[best] = self._level_lots(st, 0)
            changes[best] = side[best]
        far = best + direction * st.level_gap * _LEVELS_PER_SIDE
        beyond = [p for p in side if p < far] if direction < 0 else [p for p in side if p > far]
        for price in beyond:
            del side[price]
            changes[price] = 0
        for _ in range(_poisson(rng, 3.0)):
            if not side:
                break
            distance = min(int(rng.expovariate(0.15)), _LEVELS_PER_SIDE - 1)
            price = best + direction * distance * st.level_gap
            side[price] = self._level_lots(st, distance)
            changes[price] = side[price]
        if len(side) > _LEVELS_PER_SIDE:  # keep the book bounded: drop the farthest levels
            by_distance = sorted(side, reverse=direction < 0)  # nearest to `best` first
            for price in by_distance[_LEVELS_PER_SIDE:]:
                del side[price]
                changes[price] = 0
        while len(side) < _LEVELS_PER_SIDE:
            distance = rng.randint(1, _LEVELS_PER_SIDE)
            price = best + direction * (distance * st.level_gap + rng.randint(0, st.level_gap - 1))
            if price not in side and price > 0:
                side[price] = self._level_lots(st, distance)
                changes[price] = side[price]


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small rates used here."""
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
