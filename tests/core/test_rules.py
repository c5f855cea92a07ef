"""SymbolRules: exact tick/lot conversions and a validator that matches Binance (vs a Decimal reference)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.core.enums import OrderType, Side
from grinder.core.rules import OrderRuleError, SymbolRules, btcusdt_rules

# ---------------------------------------------------------------- random rules and values

STEPS = [Decimal(m) * Decimal(10) ** -k for k in range(0, 6) for m in (1, 2, 5)]


@st.composite
def rules_strategy(draw: st.DrawFn) -> SymbolRules:
    tick = draw(st.sampled_from(STEPS))
    step = draw(st.sampled_from(STEPS))
    min_price = tick * draw(st.integers(1, 1000))
    max_price = min_price + tick * draw(st.integers(10, 10**7))
    min_qty = step * draw(st.integers(1, 10))
    max_qty = min_qty + step * draw(st.integers(10, 10**6))
    return SymbolRules(
        symbol="TESTUSDT",
        tick_size=tick,
        step_size=step,
        min_price=min_price,
        max_price=max_price,
        min_qty=min_qty,
        max_qty=max_qty,
        min_notional=Decimal(draw(st.sampled_from(["0", "5", "20", "100"]))),
        multiplier_up=Decimal("1.05"),
        multiplier_down=Decimal("0.95"),
    )


def reference_error(rules: SymbolRules, side: Side, price: Decimal, qty: Decimal, mark: Decimal | None,
                    reduce_only: bool) -> int | None:
    """Straightforward transcription of the protocol sheet's LIMIT order rules, in precedence order."""
    def places(d: Decimal) -> int:
        exp = d.normalize().as_tuple().exponent
        assert isinstance(exp, int)
        return max(0, -exp)

    pdp = max(places(rules.tick_size), rules.price_precision or 0)
    qdp = max(places(rules.step_size), rules.quantity_precision or 0)
    if places(qty) > qdp or places(price) > pdp:
        return -1111
    if price <= 0:
        return -4001
    if rules.min_price > 0 and price < rules.min_price:
        return -4013
    if rules.max_price > 0 and price > rules.max_price:
        return -4002
    if (price - rules.min_price) % rules.tick_size != 0:
        return -4014
    if qty <= 0:
        return -4003
    if rules.min_qty > 0 and qty < rules.min_qty:
        return -4004
    if rules.max_qty > 0 and qty > rules.max_qty:
        return -4005
    if (qty - rules.min_qty) % rules.step_size != 0:
        return -4023
    if mark is not None:
        if side is Side.BUY and price > mark * rules.multiplier_up:
            return -4016
        if side is Side.SELL and price < mark * rules.multiplier_down:
            return -4024
    if not reduce_only and price * qty < rules.min_notional:
        return -4164
    return None


@given(rules=rules_strategy(), n=st.integers(-10**9, 10**9))
def test_ticks_round_trip_exactly(rules: SymbolRules, n: int) -> None:
    assert rules.price_to_ticks(rules.ticks_to_price(n)) == n
    assert rules.qty_to_lots(rules.lots_to_qty(n)) == n
    assert rules.price_to_ticks(rules.price_str(n)) == n
    assert rules.qty_to_lots(rules.qty_str(n)) == n


@given(rules=rules_strategy(), raw=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**7), places=7))
def test_rounding_helpers_bracket_the_value(rules: SymbolRules, raw: Decimal) -> None:
    lo, hi = rules.floor_ticks(raw), rules.ceil_ticks(raw)
    assert rules.ticks_to_price(lo) <= raw <= rules.ticks_to_price(hi)
    assert hi - lo in (0, 1)
    assert rules.nearest_ticks(raw) in (lo, hi)
    assert rules.lots_to_qty(rules.floor_lots(raw)) <= raw <= rules.lots_to_qty(rules.ceil_lots(raw))


def _decimal_near(rules: SymbolRules, base: Decimal, unit: Decimal) -> st.SearchStrategy[Decimal]:
    """Values on, off and around the grid, including the filter edges."""
    on_grid = st.integers(-3, 50).map(lambda k: base + unit * k)
    off_grid = st.integers(-3, 50).map(lambda k: base + unit * k + unit / 2)
    extra_digit = st.integers(1, 9).map(lambda k: base + unit * Decimal(k) / 10)
    return st.one_of(on_grid, off_grid, extra_digit)


@settings(max_examples=400)
@given(data=st.data(), rules=rules_strategy())
def test_validator_agrees_with_decimal_reference(data: st.DataObject, rules: SymbolRules) -> None:
    side = data.draw(st.sampled_from(list(Side)))
    price = data.draw(st.one_of(
        _decimal_near(rules, rules.min_price, rules.tick_size),
        _decimal_near(rules, rules.max_price - rules.tick_size * 20, rules.tick_size),
        st.just(Decimal(0)),
    ))
    qty = data.draw(st.one_of(
        _decimal_near(rules, rules.min_qty, rules.step_size),
        _decimal_near(rules, rules.max_qty - rules.step_size * 20, rules.step_size),
        st.just(Decimal(0)),
    ))
    mark = data.draw(st.one_of(st.none(), st.just(price), st.just(price * Decimal("0.9")),
                               st.just(price * Decimal("1.1"))))
    reduce_only = data.draw(st.booleans())
    expected = reference_error(rules, side, price, qty, mark, reduce_only)
    try:
        rules.validate_order(side, OrderType.LIMIT, qty, price, mark_price=mark, reduce_only=reduce_only)
        got = None
    except OrderRuleError as exc:
        got = exc.code
    assert got == expected


def test_binance_messages_and_codes() -> None:
    r = btcusdt_rules()
    cases = [
        ("0.001", "97000.001", -1111, "Precision is over the maximum defined for this asset."),
        ("0.001", "97000.05", -4014, "Price not increased by tick size."),
        ("0.0015", "97000.0", -1111, "Precision is over the maximum defined for this asset."),
        ("0.001", "97000.0", -4164, "Order's notional must be no smaller than 100 (unless you choose reduce only)"),
        ("0", "97000.0", -4003, "Quantity less than or equal to zero."),
        ("2000", "97000.0", -4005, "Quantity greater than max quantity."),
        ("0.001", "100.0", -4013, "Price less than min price."),
    ]
    for qty, price, code, msg in cases:
        with pytest.raises(OrderRuleError) as info:
            r.validate_order(Side.BUY, OrderType.LIMIT, qty, price)
        assert (info.value.code, info.value.msg) == (code, msg), (qty, price)


def test_reduce_only_is_exempt_from_min_notional() -> None:
    btcusdt_rules().validate_order(Side.SELL, OrderType.LIMIT, "0.001", "97000.0", reduce_only=True)


def test_percent_price_against_mark() -> None:
    r = btcusdt_rules()
    with pytest.raises(OrderRuleError) as up:
        r.validate_order(Side.BUY, OrderType.LIMIT, "0.01", "106000.0", mark_price=Decimal("100000"))
    assert up.value.code == -4016
    with pytest.raises(OrderRuleError) as down:
        r.validate_order(Side.SELL, OrderType.LIMIT, "0.01", "94000.0", mark_price=Decimal("100000"))
    assert down.value.code == -4024
    with pytest.raises(OrderRuleError) as market:
        r.check_market_percent_price(Side.BUY, Decimal("106000"), Decimal("100000"))
    assert market.value.code == -4131


def test_min_qty_for_notional_is_smallest_step_multiple() -> None:
    r = btcusdt_rules()
    assert r.lots_to_qty(r.min_lots_for_notional(r.price_to_ticks("97000"))) == Decimal("0.002")  # 97 < 100
    assert r.lots_to_qty(r.min_lots_for_notional(r.price_to_ticks("100000"))) == Decimal("0.001")
    assert r.min_lots_for_notional(r.price_to_ticks("97000")) == 2


@given(rules=rules_strategy(), price_ticks=st.integers(1, 10**8))
def test_min_lots_for_notional_is_minimal(rules: SymbolRules, price_ticks: int) -> None:
    lots = rules.min_lots_for_notional(price_ticks)
    assert rules.notional(price_ticks, lots) >= rules.min_notional
    assert rules.lots_to_qty(lots) >= rules.min_qty
    if lots > 1 and rules.lots_to_qty(lots - 1) >= rules.min_qty:
        assert rules.notional(price_ticks, lots - 1) < rules.min_notional


def test_exchange_info_round_trip() -> None:
    r = btcusdt_rules()
    info = {"symbol": "BTCUSDT", "pricePrecision": 2, "quantityPrecision": 3, "baseAsset": "BTC",
            "quoteAsset": "USDT", "marginAsset": "USDT", "status": "TRADING", "filters": r.to_filters()}
    assert SymbolRules.from_exchange_info(info) == r


def test_off_grid_conversions_fail_loudly() -> None:
    r = btcusdt_rules()
    with pytest.raises(ValueError, match="not a multiple of tickSize"):
        r.price_to_ticks("100.05")
    with pytest.raises(ValueError, match="not a decimal number"):
        r.price_to_ticks("abc")
    with pytest.raises(ValueError, match="minPrice"):
        SymbolRules(symbol="X", tick_size=Decimal("0.1"), step_size=Decimal("1"), min_price=Decimal("0.05"))
