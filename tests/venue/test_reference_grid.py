"""The "touch" fill model reproduces REFERENCE_GRID.md exactly: the reference grid run through the venue
gives the same fills, position and realized PnL as a direct implementation of the written rule."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np

from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.events import BookTicker, OrderUpdate, Trade
from grinder.core.rules import btcusdt_rules
from grinder.venue import Venue, VenueConfig

SYM = "BTCUSDT"
L, S_BPS, QTY, MAX_POS = 5, 10, 10, 100


def make_stream(n: int, seed: int) -> list[tuple[str, int, int, int]]:
    """(kind, a, b, time): quotes (bid, ask) and trades (price, seller_aggressor) on a random walk."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, int, int, int]] = []
    mid = 600_000
    bid, ask = mid, mid + 1
    for i in range(n):
        t = 1_704_067_200_000 + i
        if i == 0 or rng.random() < 0.7:
            mid += int(rng.integers(-90, 91))
            bid = mid
            ask = mid + int(rng.integers(1, 4))
            out.append(("q", bid, ask, t))
        else:
            seller = bool(rng.random() < 0.5)
            through = int(rng.integers(0, 3))
            out.append(("t", bid - through if seller else ask + through, int(seller), t))
    return out


def desired(anchor: int, pos: int) -> set[tuple[Side, int]]:
    nb = min(L, (MAX_POS - pos) // QTY)
    ns = min(L, (MAX_POS + pos) // QTY)
    offsets = [anchor * S_BPS * i // 10_000 for i in range(1, L + 1)]
    return {(Side.BUY, anchor - offsets[i]) for i in range(nb)} | {
        (Side.SELL, anchor + offsets[i]) for i in range(ns)
    }


class Anchor:
    def __init__(self) -> None:
        self.value: int | None = None

    def update(self, bid: int, ask: int) -> int:
        mid2 = bid + ask
        if self.value is None or abs(mid2 - 2 * self.value) > 2 * (self.value * S_BPS // 10_000):
            self.value = mid2 // 2
        return self.value


def reference(stream: list[tuple[str, int, int, int]]) -> tuple[list[tuple[int, Side, int]], int, Fraction]:
    """REFERENCE_GRID.md, written out directly."""
    resting: set[tuple[Side, int]] = set()
    fills: list[tuple[int, Side, int]] = []
    pos, cost = 0, Fraction(0)  # cost: Σ price×lots of the open position (average cost)
    realized = Fraction(0)
    anchor = Anchor()
    quote: tuple[int, int] | None = None
    for idx, (kind, a, b, _) in enumerate(stream):
        if kind == "q":
            quote = (a, b)
            hit = {
                o for o in resting if (o[0] is Side.BUY and b <= o[1]) or (o[0] is Side.SELL and a >= o[1])
            }
        else:
            hit = {
                o for o in resting if (o[0] is Side.BUY and a <= o[1]) or (o[0] is Side.SELL and a >= o[1])
            }
        for side, px in sorted(hit, key=lambda o: (o[0].value, o[1])):
            resting.discard((side, px))
            fills.append((idx, side, px))
            signed = QTY * side.sign
            if pos == 0 or (pos > 0) == (signed > 0):
                cost += px * QTY
            else:
                avg = cost / abs(pos)
                realized += (px - avg) * QTY * (1 if pos > 0 else -1)
                cost -= avg * QTY
            pos += signed
        if quote is None:
            continue
        want = desired(anchor.update(*quote), pos)
        resting = (resting & want) | want
    return fills, pos, realized


def through_venue(
    stream: list[tuple[str, int, int, int]],
) -> tuple[list[tuple[int, Side, int]], int, Decimal]:
    cfg = VenueConfig(
        fill_model="touch", maker_fee=Decimal(0), taker_fee=Decimal(0), initial_balance=Decimal(10**7)
    )
    v = Venue(cfg, {SYM: btcusdt_rules()})
    fills: list[tuple[int, Side, int]] = []
    anchor = Anchor()
    quote: tuple[int, int] | None = None
    seq = 0
    for idx, (kind, a, b, t) in enumerate(stream):
        if kind == "q":
            quote = (a, b)
            v.on_book_ticker(BookTicker(SYM, a, 1000, b, 1000, idx, t, t))
        else:
            v.on_trade(Trade(SYM, idx, a, 5, bool(b), t, t))
        batch = [
            (idx, e.side, e.last_fill_price_ticks)
            for e in v.drain_events()
            if isinstance(e, OrderUpdate) and e.is_fill
        ]
        fills += sorted(batch, key=lambda f: (f[1].value, f[2]))
        if quote is None:
            continue
        pos = v.positions(SYM)[0].amount_lots
        want = desired(anchor.update(*quote), pos)
        working = {(o.side, o.price_ticks): o for o in v.open_orders(SYM)}
        for key, o in working.items():
            if key not in want:
                v.cancel_order(symbol=SYM, order_id=o.order_id, now_ms=t)
        for side, px in sorted(want - set(working), key=lambda o: (o[0].value, o[1])):
            seq += 1
            v.place(
                PlaceOrder(
                    SYM, side, OrderType.LIMIT, QTY, f"g{seq}", price_ticks=px, time_in_force=TimeInForce.GTC
                ),
                t,
            )
        v.drain_events()
    realized = sum((i.income for i in v.income(SYM) if i.income_type == "REALIZED_PNL"), Decimal(0))
    return fills, v.positions(SYM)[0].amount_lots, realized


def test_touch_model_matches_the_reference_grid_rule() -> None:
    stream = make_stream(6000, seed=5)
    ref_fills, ref_pos, ref_realized = reference(stream)
    fills, pos, realized = through_venue(stream)
    assert len(ref_fills) > 20  # the run trades
    assert fills == ref_fills
    assert pos == ref_pos
    # Realized PnL: exact fraction (ticks × lots) vs the venue's money (8-decimal bookings).
    ref_money = Decimal(ref_realized.numerator) / Decimal(ref_realized.denominator) * Decimal("0.0001")
    assert abs(realized - ref_money) < Decimal("0.000001") * len(fills)
