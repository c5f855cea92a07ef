"""The refusal band (grinder.execution.refusal): its price ranges match brute force over every mid,
and a pipeline that plans nothing inside it sends and records exactly what one that re-plans does."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.rules import btcusdt_rules
from grinder.execution.refusal import verdict_range
from grinder.execution.working import order_range as _order_range
from grinder.risk import RiskConfig, RiskGuard, RiskSnapshot, SymbolExposure

BTC = btcusdt_rules("50")
PX = 500_000


def key(rank: int, price: int, tag: str, m: int) -> tuple[int, int, str]:
    return (rank, abs(price - m), tag)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((0, 100, "b1"), (0, 110, "b2")),
        ((0, 100, "b2"), (0, 110, "b1")),
        ((0, 110, "b1"), (0, 100, "b2")),
        ((0, 110, "b2"), (0, 101, "b1")),
        ((0, 105, "s1"), (0, 105, "s2")),
        ((1, 90, "s1"), (2, 120, "b1")),
    ],
)
def test_order_range_is_exactly_where_the_sort_order_holds(
    a: tuple[int, int, str], b: tuple[int, int, str]
) -> None:
    lo, hi = _order_range(a, b)
    for m in range(-50, 300):
        assert (key(*a, m) < key(*b, m)) == (lo <= m <= hi), (m, lo, hi)


def test_tolerance_range_is_where_the_tolerance_is_the_same() -> None:
    from grinder.core.ids import ClientOrderIdFactory
    from grinder.execution.config import ExecutionConfig
    from grinder.execution.order_manager import OrderManager

    cfg = ExecutionConfig(price_tolerance_ticks=3, price_tolerance_bps=Decimal("0.7"))
    om = OrderManager(cfg, ClientOrderIdFactory("t", 1))
    num, den = cfg.price_tolerance_bps.as_integer_ratio()

    def tol(m: int) -> int:
        return max(3, m * num // (den * 10_000))

    for m0 in (1_000, 400_000, 428_571, 428_572, 500_000, 571_428):
        lo, hi = om._tolerance_range(m0)
        assert tol(lo) == tol(m0) == tol(hi)
        assert hi == (1 << 63) - 1 or tol(hi + 1) != tol(m0)
        assert lo == -(1 << 63) or tol(lo - 1) != tol(m0)


def place(side: Side, price: int, lots: int) -> PlaceOrder:
    return PlaceOrder(
        symbol="BTCUSDT",
        side=side,
        order_type=OrderType.LIMIT,
        qty_lots=lots,
        client_order_id="grinder_t_BTCUSDT_b5_1_0",
        price_ticks=price,
        time_in_force=TimeInForce.GTX,
    )


@pytest.mark.parametrize(
    ("side", "price"), [(Side.BUY, PX - 300), (Side.SELL, PX + 300), (Side.BUY, PX - 30_000)]
)
def test_verdict_range_matches_the_guard_at_every_price(side: Side, price: int) -> None:
    cfg = RiskConfig(
        max_notional_per_order=Decimal("150"),
        max_position_notional=Decimal("400"),
        max_total_position_notional=Decimal("600"),
    )
    g = RiskGuard(cfg, {"BTCUSDT": BTC})
    g.on_equity(Decimal("10000"), 0)
    # 0.007 BTC working on each side: one more 0.002 makes the worst case 0.009 BTC > 400 USDT at 50 000
    snap = RiskSnapshot({"BTCUSDT": SymbolExposure(0, 7, 7, 3, PX)})
    cmd = place(side, price, 2)
    d0 = g.verdict(cmd, snap)
    assert not d0.allowed

    def verdict_at(ref: int) -> str:
        d = g.verdict(cmd, RiskSnapshot({"BTCUSDT": SymbolExposure(0, 7, 7, 3, ref)}))
        return "OK" if d.allowed else d.reason

    lo, hi = verdict_range(g, snap, "BTCUSDT", [(cmd, d0.reason)], PX, PX - 60_000, PX + 60_000)
    assert lo <= PX <= hi
    assert lo > PX - 60_000 or hi < PX + 60_000  # a verdict changes inside the window
    for ref in itertools.chain(range(lo - 3, lo + 3), range(hi - 3, hi + 3), range(lo, hi + 1, 997)):
        assert (verdict_at(ref) == d0.reason) == (lo <= ref <= hi) or not (PX - 60_000 <= ref <= PX + 60_000)


def test_pipeline_plans_nothing_inside_the_band_and_places_where_the_refusal_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grinder.core.commands import CommandResult, Outcome
    from grinder.core.enums import OrderStatus
    from grinder.core.events import BookTicker
    from grinder.core.ids import ClientOrderIdFactory
    from grinder.execution import ExecutionConfig, TradingPipeline
    from grinder.strategy import StrategyConfig, grid_factory

    rules = btcusdt_rules("100")
    # reference grid: 5 levels of 0.01 BTC a side; the 5th buy makes the worst case 0.05 BTC, which
    # is over the limit at a reference price of 49 999.1 or more and inside it at 49 999.0 or less
    risk = RiskConfig(
        max_notional_per_order=Decimal("600"),
        max_position_notional=Decimal("2499.95"),
        max_total_position_notional=Decimal("100000"),
    )
    t0 = 1_700_000_000_000

    def book(mid: int, t: int) -> BookTicker:
        return BookTicker("BTCUSDT", mid - 1, 10, mid + 1, 10, t, t, t)

    def drive(p: TradingPipeline) -> tuple[list[tuple[int, object]], list[object]]:
        p.on_wallet_balance(Decimal("10000"), t0)
        out: list[tuple[int, object]] = []
        for k, mid in enumerate([PX, PX, *range(PX - 1, PX - 16, -1), PX - 20]):
            t = t0 + 10 * k
            for i, c in enumerate(p.on_market_event(book(mid, t), t)):
                out.append((mid, c))
                p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=1000 * k + i, status=OrderStatus.NEW))
        return out, [(b.command.client_order_id, b.reason, b.time_ms) for b in p.take_blocked()]

    def make() -> TradingPipeline:
        return TradingPipeline(
            {"BTCUSDT": rules},
            StrategyConfig.reference(),
            risk,
            ExecutionConfig(),
            ClientOrderIdFactory("g", 1),
            strategy_factory=grid_factory,
        )

    banded = make()
    plans = 0
    real_plan = banded.orders.plan

    def counting_plan(*a: object, **k: object) -> object:
        nonlocal plans
        plans += 1
        return real_plan(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(banded.orders, "plan", counting_plan)
    got = drive(banded)
    monkeypatch.setattr(TradingPipeline, "_refusal_band", lambda *a, **k: None)
    want = drive(make())
    assert got == want
    placed_at = [mid for mid, c in got[0] if isinstance(c, PlaceOrder)]
    assert placed_at.count(PX) == 8 and placed_at[-1] == PX - 10  # the 5th buy, where the limit allows it
    assert plans <= 5  # not on the in-band books (re-planning plans on 13 of them)
