"""Property tests of the guard alone: whatever it allows respects the rules, the caps and the latch."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.rules import btcusdt_rules
from grinder.risk import RiskConfig, RiskGuard, RiskSnapshot, SymbolExposure

RULES = btcusdt_rules("100")
CFG = RiskConfig(
    max_notional_per_order=Decimal("500"),
    max_position_notional=Decimal("2000"),
    max_total_position_notional=Decimal("3000"),
    max_open_orders_per_symbol=10,
)
UNIT = RULES.tick_size * RULES.step_size


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    lots=st.integers(-2, 20),
    offset=st.integers(-30_000, 30_000),
    position=st.integers(-50, 50),
    working_buy=st.integers(0, 30),
    working_sell=st.integers(0, 30),
    count=st.integers(0, 12),
    ref=st.one_of(st.none(), st.integers(400_000, 600_000)),
    kill=st.booleans(),
    reduce_only=st.booleans(),
)
def test_allowed_orders_respect_rules_caps_and_kill_switch(
    side: Side,
    lots: int,
    offset: int,
    position: int,
    working_buy: int,
    working_sell: int,
    count: int,
    ref: int | None,
    kill: bool,
    reduce_only: bool,
) -> None:
    guard = RiskGuard(CFG, {"BTCUSDT": RULES})
    guard.on_equity(Decimal("10000"), 0)
    if kill:
        guard.engage_kill_switch()
    price = (ref or 500_000) + offset
    exp = SymbolExposure(position, working_buy, working_sell, count, ref)
    cmd = PlaceOrder(
        "BTCUSDT", side, OrderType.LIMIT, lots, "c", price, TimeInForce.GTX, reduce_only=reduce_only
    )
    decision = guard.check(cmd, RiskSnapshot({"BTCUSDT": exp}), 1)
    if not decision.allowed:
        assert decision.reason
        return
    # exchange rules (MIN_NOTIONAL waived only for reduce-only, like Binance)
    RULES.validate_ticks(side, OrderType.LIMIT, lots, price, reduce_only=reduce_only)
    assert RULES.notional(price, lots) <= CFG.max_notional_per_order
    assert count + 1 <= CFG.max_open_orders_per_symbol
    reducing = reduce_only or guard.is_risk_reducing(side, lots, exp)
    if kill:
        assert reducing
    if not reducing:
        assert ref is not None
        worst = exp.worst_case_lots(side, lots)
        assert worst * max(price, ref) * UNIT <= CFG.max_position_notional
