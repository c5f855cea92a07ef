"""`SymbolRules` edges that mutation testing (bench/mutation.py) showed unpinned.

Each test pins behaviour an order depends on: which exchangeInfo field a value comes from and its
default, the error code and exact message Binance would give, the boundary of each filter, and the
field a bad number is reported against (the operator's only clue to a broken exchangeInfo).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grinder.core.enums import OrderType, Side
from grinder.core.rules import (
    MSG_MARKET_PERCENT,
    MSG_PERCENT_DOWN,
    MSG_PERCENT_UP,
    OrderRuleError,
    SymbolRules,
    btcusdt_rules,
    ethusdt_rules,
    format_decimal,
    mandatory_param_message,
    min_notional_message,
)

FULL_INFO: dict[str, Any] = {
    "symbol": "SOLUSDT", "status": "SETTLING", "baseAsset": "SOL", "quoteAsset": "USDC", "marginAsset": "BNFCR",
    "pricePrecision": 4, "quantityPrecision": 2,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.4200", "maxPrice": "6857", "tickSize": "0.0100"},
        {"filterType": "LOT_SIZE", "minQty": "0.03", "maxQty": "1000000", "stepSize": "0.01"},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.02", "maxQty": "5000", "stepSize": "0.02"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 150},
        {"filterType": "MIN_NOTIONAL", "notional": "7"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0700", "multiplierDown": "0.9300",
         "multiplierDecimal": "3"},
    ],
}


def info(**changes: Any) -> dict[str, Any]:
    """FULL_INFO with top-level keys replaced and filters given as {type: {field: value}} overrides."""
    out = {**FULL_INFO, **{k: v for k, v in changes.items() if k != "filters"}}
    overrides = changes.get("filters", {})
    out["filters"] = [{**f, **overrides.get(f["filterType"], {})} for f in FULL_INFO["filters"]]
    return out


def rule_error(fn: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(OrderRuleError) as exc:
        fn()
    assert str(exc.value) == f"{exc.value.code} {exc.value.msg}"
    return exc.value.code, exc.value.msg


# ----------------------------------------------------------------- from_exchange_info / to_filters
def test_every_exchange_info_field_lands_where_it_belongs() -> None:
    r = SymbolRules.from_exchange_info(FULL_INFO)
    assert (r.symbol, r.status, r.base_asset, r.quote_asset, r.margin_asset) == (
        "SOLUSDT", "SETTLING", "SOL", "USDC", "BNFCR")
    assert (r.tick_size, r.min_price, r.max_price) == (Decimal("0.01"), Decimal("0.42"), Decimal(6857))
    assert (r.step_size, r.min_qty, r.max_qty) == (Decimal("0.01"), Decimal("0.03"), Decimal(1000000))
    assert (r.market_step_size, r.market_min_qty, r.market_max_qty) == (
        Decimal("0.02"), Decimal("0.02"), Decimal(5000))
    assert (r.max_num_orders, r.min_notional) == (150, Decimal(7))
    assert (r.multiplier_up, r.multiplier_down, r.multiplier_decimal) == (Decimal("1.07"), Decimal("0.93"), 3)
    assert (r.price_precision, r.quantity_precision) == (4, 2)


def test_minimal_exchange_info_takes_the_documented_defaults() -> None:
    minimal = {"filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.5"},
                           {"filterType": "LOT_SIZE", "stepSize": "1"}]}
    r = SymbolRules.from_exchange_info(minimal)
    assert r == SymbolRules(symbol="", tick_size=Decimal("0.5"), step_size=Decimal(1))
    assert (r.symbol, r.base_asset, r.quote_asset, r.margin_asset, r.status) == ("", "", "USDT", "USDT", "TRADING")
    assert (r.min_price, r.max_price, r.min_qty, r.max_qty, r.min_notional) == (0, 0, 0, 0, 0)
    assert (r.multiplier_up, r.multiplier_down, r.multiplier_decimal, r.max_num_orders) == (0, 0, 4, 200)
    assert r.market_step_size is None and r.market_min_qty is None and r.market_max_qty is None
    assert r.price_precision is None and r.quantity_precision is None


def test_exchange_info_without_filters_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"^exchangeInfo for SOLUSDT lacks PRICE_FILTER or LOT_SIZE$"):
        SymbolRules.from_exchange_info({"symbol": "SOLUSDT"})


@pytest.mark.parametrize("missing", ["PRICE_FILTER", "LOT_SIZE"])
@pytest.mark.parametrize(("symbol", "shown"), [("SOLUSDT", "SOLUSDT"), (None, "?")])
def test_missing_core_filter_is_refused(missing: str, symbol: str | None, shown: str) -> None:
    bad = {**FULL_INFO, "filters": [f for f in FULL_INFO["filters"] if f["filterType"] != missing]}
    if symbol is None:
        del bad["symbol"]
    with pytest.raises(ValueError, match="lacks") as exc:
        SymbolRules.from_exchange_info(bad)
    assert str(exc.value) == f"exchangeInfo for {shown} lacks PRICE_FILTER or LOT_SIZE"


@pytest.mark.parametrize(
    ("filter_type", "key", "name"),
    [
        ("PRICE_FILTER", "tickSize", "tickSize"), ("PRICE_FILTER", "minPrice", "minPrice"),
        ("PRICE_FILTER", "maxPrice", "maxPrice"), ("LOT_SIZE", "stepSize", "stepSize"),
        ("LOT_SIZE", "minQty", "minQty"), ("LOT_SIZE", "maxQty", "maxQty"),
        ("MARKET_LOT_SIZE", "stepSize", "stepSize"), ("MARKET_LOT_SIZE", "minQty", "minQty"),
        ("MARKET_LOT_SIZE", "maxQty", "maxQty"), ("MIN_NOTIONAL", "notional", "notional"),
        ("PERCENT_PRICE", "multiplierUp", "multiplierUp"), ("PERCENT_PRICE", "multiplierDown", "multiplierDown"),
    ],
)
def test_a_garbage_number_is_reported_against_its_field(filter_type: str, key: str, name: str) -> None:
    with pytest.raises(ValueError, match="not a decimal") as exc:
        SymbolRules.from_exchange_info(info(filters={filter_type: {key: "1,5"}}))
    assert str(exc.value) == f"{name} '1,5' is not a decimal number"


def test_to_filters_is_the_exchange_info_shape() -> None:
    r = SymbolRules.from_exchange_info(FULL_INFO)
    assert r.to_filters() == [
        {"filterType": "PRICE_FILTER", "minPrice": "0.4200", "maxPrice": "6857", "tickSize": "0.0100"},
        {"filterType": "LOT_SIZE", "minQty": "0.03", "maxQty": "1000000", "stepSize": "0.01"},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.02", "maxQty": "5000", "stepSize": "0.02"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 150},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {"filterType": "MIN_NOTIONAL", "notional": "7"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0700", "multiplierDown": "0.9300",
         "multiplierDecimal": "3"},
    ]
    # without MARKET_LOT_SIZE, the market lot filter repeats LOT_SIZE
    plain = SymbolRules(symbol="X", tick_size=Decimal("0.1"), step_size=Decimal("0.5"), min_qty=Decimal(1),
                        max_qty=Decimal(9))
    assert plain.to_filters()[2] == {"filterType": "MARKET_LOT_SIZE", "minQty": "1", "maxQty": "9",
                                     "stepSize": "0.5"}
    only_step = SymbolRules(symbol="X", tick_size=Decimal("0.1"), step_size=Decimal("0.5"),
                            market_step_size=Decimal(1), market_min_qty=Decimal(2), min_qty=Decimal(1),
                            max_qty=Decimal(9))
    assert only_step.to_filters()[2] == {"filterType": "MARKET_LOT_SIZE", "minQty": "2", "maxQty": "9",
                                         "stepSize": "1"}
    assert SymbolRules.from_exchange_info({**FULL_INFO, "filters": r.to_filters()}) == r


# ----------------------------------------------------------------- conversions
@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: r.price_to_ticks("abc"), "price"), (lambda r: r.qty_to_lots("abc"), "quantity"),
        (lambda r: r.floor_ticks("abc"), "price"), (lambda r: r.ceil_ticks("abc"), "price"),
        (lambda r: r.nearest_ticks("abc"), "price"), (lambda r: r.floor_lots("abc"), "quantity"),
        (lambda r: r.ceil_lots("abc"), "quantity"),
        (lambda r: r.validate_order(Side.BUY, OrderType.LIMIT, "abc", "100"), "quantity"),
        (lambda r: r.validate_order(Side.BUY, OrderType.LIMIT, "1", "abc"), "price"),
    ],
)
def test_bad_numbers_name_the_argument(call: Callable[[SymbolRules], object], field: str) -> None:
    with pytest.raises(ValueError, match="not a decimal") as exc:
        call(btcusdt_rules())
    assert str(exc.value) == f"{field} 'abc' is not a decimal number"


def test_off_grid_values_are_refused_with_the_grid() -> None:
    r = btcusdt_rules()
    with pytest.raises(ValueError, match=r"^BTCUSDT: price 100.05 is not a multiple of tickSize 0.10$"):
        r.price_to_ticks("100.05")
    with pytest.raises(ValueError, match=r"^BTCUSDT: quantity 0.0015 is not a multiple of stepSize 0.001$"):
        r.qty_to_lots("0.0015")


def test_rounding_modes() -> None:
    r = btcusdt_rules()
    assert r.round_price("100.05") == Decimal("100.00")  # nearest, half to even
    assert r.round_price("100.15") == Decimal("100.20")
    assert r.round_price("100.05", "floor") == Decimal("100.00")
    assert r.round_price("100.01", "ceil") == Decimal("100.10")
    assert r.round_price("100.07", "nearest") == Decimal("100.10")
    assert r.round_qty("0.0019") == Decimal("0.001")  # floor by default
    assert r.round_qty("0.0011", "ceil") == Decimal("0.002")
    assert r.round_qty("0.0019", "floor") == Decimal("0.001")
    assert r.nearest_ticks("100.25") == 1002 and r.nearest_ticks("100.35") == 1004


def test_tiny_ticks_print_without_exponent() -> None:
    r = SymbolRules(symbol="1000PEPEUSDT", tick_size=Decimal("0.0000001"), step_size=Decimal("0.0000001"))
    assert r.price_str(1) == "0.0000001" and r.qty_str(1) == "0.0000001"
    assert r.price_str(12345) == "0.0012345"
    assert format_decimal(Decimal("1E+2")) == "100"


def test_order_rule_error_text() -> None:
    err = OrderRuleError(-4164, "msg")
    assert str(err) == "-4164 msg" and (err.code, err.msg) == (-4164, "msg")


# ----------------------------------------------------------------- sizing to MIN_NOTIONAL
def test_min_lots_for_notional_edges() -> None:
    r = btcusdt_rules()  # MIN_NOTIONAL 100, minQty 0.001
    with pytest.raises(ValueError, match=r"^BTCUSDT: price must be positive to size an order \(got 0 ticks\)$"):
        r.min_lots_for_notional(0)
    bare = SymbolRules(symbol="X", tick_size=Decimal(1), step_size=Decimal(1))  # no minQty, no MIN_NOTIONAL
    assert bare.min_lots_for_notional(5) == 1
    stepped = SymbolRules(symbol="X", tick_size=Decimal(1), step_size=Decimal(1), min_qty=Decimal(3))
    assert stepped.min_lots_for_notional(5) == 3
    assert r.min_lots_for_notional(r.price_to_ticks("50000")) == 2


# ----------------------------------------------------------------- validation
def test_limit_without_price_is_minus_1102() -> None:
    code, msg = rule_error(lambda: btcusdt_rules().validate_order(Side.BUY, OrderType.LIMIT, "0.010"))
    assert (code, msg) == (-1102, mandatory_param_message("price"))
    assert msg == "Mandatory parameter 'price' was not sent, was empty/null, or malformed."


def test_min_notional_boundary_limit_and_market() -> None:
    r = btcusdt_rules()  # MIN_NOTIONAL 100
    r.validate_order(Side.BUY, OrderType.LIMIT, "0.002", "50000")  # exactly 100 passes
    want = (-4164, min_notional_message(Decimal(100)))
    assert want[1] == "Order's notional must be no smaller than 100 (unless you choose reduce only)"
    assert rule_error(lambda: r.validate_order(Side.BUY, OrderType.LIMIT, "0.002", "49999.9")) == want
    r.validate_order(Side.BUY, OrderType.LIMIT, "0.002", "49999.9", reduce_only=True)
    # MARKET: valued at the mark price, when one is given
    r.validate_order(Side.BUY, OrderType.MARKET, "0.002", mark_price=Decimal(50000))
    assert rule_error(lambda: r.validate_order(Side.BUY, OrderType.MARKET, "0.002",
                                               mark_price=Decimal("49999.9"))) == want
    r.validate_order(Side.BUY, OrderType.MARKET, "0.002", mark_price=Decimal("49999.9"), reduce_only=True)
    r.validate_order(Side.BUY, OrderType.MARKET, "0.002")  # no mark price: not checked here
    r.validate_order(Side.BUY, OrderType.MARKET, "2", mark_price=Decimal(60))  # 120 >= 100


def test_market_orders_use_the_market_lot_filter() -> None:
    r = btcusdt_rules()  # LOT_SIZE max 1000, MARKET_LOT_SIZE max 120
    r.validate_order(Side.BUY, OrderType.LIMIT, "500", "60000")
    assert rule_error(lambda: r.validate_order(Side.BUY, OrderType.MARKET, "500"))[0] == -4005


def test_validate_ticks_is_validate_order_on_the_grid() -> None:
    r = btcusdt_rules()
    r.validate_ticks(Side.BUY, OrderType.LIMIT, 2, 500_000)  # 0.002 @ 50000.0
    assert rule_error(lambda: r.validate_ticks(Side.BUY, OrderType.LIMIT, 1, 500_000))[0] == -4164
    r.validate_ticks(Side.BUY, OrderType.LIMIT, 1, 500_000, reduce_only=True)
    assert rule_error(lambda: r.validate_ticks(Side.BUY, OrderType.LIMIT, 2))[0] == -1102
    r.validate_ticks(Side.BUY, OrderType.MARKET, 2)
    assert rule_error(lambda: r.validate_ticks(Side.BUY, OrderType.MARKET, 1, mark_price=Decimal(50000)))[0] == -4164
    assert rule_error(lambda: r.validate_ticks(Side.BUY, OrderType.LIMIT, 2, 600_000,
                                               mark_price=Decimal(50000)))[0] == -4016


@pytest.mark.parametrize("mult", [Decimal("1.05"), Decimal("0.5")])
def test_percent_price_boundaries(mult: Decimal) -> None:
    r = SymbolRules(symbol="X", tick_size=Decimal("0.01"), step_size=Decimal(1), multiplier_up=mult,
                    multiplier_down=mult)
    mark = Decimal(100)
    cap = mark * mult
    r.validate_order(Side.BUY, OrderType.LIMIT, "1", cap, mark_price=mark)  # at the cap: accepted
    assert rule_error(lambda: r.validate_order(Side.BUY, OrderType.LIMIT, "1", cap + Decimal("0.01"),
                                               mark_price=mark)) == (-4016, MSG_PERCENT_UP)
    r.validate_order(Side.SELL, OrderType.LIMIT, "1", cap, mark_price=mark)  # at the floor: accepted
    assert rule_error(lambda: r.validate_order(Side.SELL, OrderType.LIMIT, "1", cap - Decimal("0.01"),
                                               mark_price=mark)) == (-4024, MSG_PERCENT_DOWN)
    # the cap binds buys only, the floor sells only
    r.validate_order(Side.SELL, OrderType.LIMIT, "1", cap + Decimal("0.01"), mark_price=mark)
    r.validate_order(Side.BUY, OrderType.LIMIT, "1", cap - Decimal("0.01"), mark_price=mark)
    # MARKET: the counterparty's best price
    r.check_market_percent_price(Side.BUY, cap, mark)
    assert rule_error(lambda: r.check_market_percent_price(Side.BUY, cap + Decimal("0.01"), mark)) == (
        -4131, MSG_MARKET_PERCENT)
    r.check_market_percent_price(Side.SELL, cap, mark)
    assert rule_error(lambda: r.check_market_percent_price(Side.SELL, cap - Decimal("0.01"), mark)) == (
        -4131, MSG_MARKET_PERCENT)
    r.check_market_percent_price(Side.SELL, cap + Decimal("0.01"), mark)
    r.check_market_percent_price(Side.BUY, cap - Decimal("0.01"), mark)


def test_percent_price_not_enforced_when_zero() -> None:
    r = SymbolRules(symbol="X", tick_size=Decimal("0.01"), step_size=Decimal(1))
    r.validate_order(Side.BUY, OrderType.LIMIT, "1", "1000", mark_price=Decimal(1))
    r.validate_order(Side.SELL, OrderType.LIMIT, "1", "0.01", mark_price=Decimal(1000))
    r.check_market_percent_price(Side.BUY, Decimal(1000), Decimal(1))
    r.check_market_percent_price(Side.SELL, Decimal("0.01"), Decimal(1000))
    up_only = SymbolRules(symbol="X", tick_size=Decimal("0.01"), step_size=Decimal(1),
                          multiplier_up=Decimal("0.5"))
    up_only.check_market_percent_price(Side.SELL, Decimal("0.01"), Decimal(1000))
    up_only.validate_order(Side.SELL, OrderType.LIMIT, "1", "0.01", mark_price=Decimal(1000))


def test_typical_rules_are_binance_shaped() -> None:
    eth = ethusdt_rules()
    assert (eth.symbol, eth.base_asset, eth.tick_size, eth.step_size) == ("ETHUSDT", "ETH", Decimal("0.01"),
                                                                          Decimal("0.001"))
    assert (eth.min_price, eth.max_price, eth.min_qty, eth.max_qty) == (
        Decimal("39.86"), Decimal(306177), Decimal("0.001"), Decimal(10000))
    assert (eth.market_step_size, eth.market_min_qty, eth.market_max_qty) == (
        Decimal("0.001"), Decimal("0.001"), Decimal(2000))
    assert (eth.min_notional, eth.multiplier_up, eth.multiplier_down, eth.multiplier_decimal) == (
        Decimal(20), Decimal("1.05"), Decimal("0.95"), 4)
    assert (eth.max_num_orders, eth.price_precision, eth.quantity_precision) == (200, 2, 3)
    assert (eth.quote_asset, eth.margin_asset, eth.status) == ("USDT", "USDT", "TRADING")
    assert ethusdt_rules("5").min_notional == Decimal(5)
    btc = btcusdt_rules()
    assert (btc.symbol, btc.base_asset, btc.tick_size, btc.min_price, btc.max_price, btc.max_qty,
            btc.market_max_qty, btc.min_notional) == ("BTCUSDT", "BTC", Decimal("0.1"), Decimal("556.8"),
                                                      Decimal(4529764), Decimal(1000), Decimal(120), Decimal(100))


def test_declared_precision_wins_over_the_grid() -> None:
    r = SymbolRules(symbol="X", tick_size=Decimal("0.1"), step_size=Decimal("0.1"), price_precision=3,
                    quantity_precision=2)
    assert r.price_str(1000) == "100.000" and r.qty_str(15) == "1.50"
    assert (r.effective_price_precision, r.effective_quantity_precision) == (3, 2)


def test_lot_step_is_counted_from_min_qty() -> None:
    # Binance: (quantity - minQty) % stepSize == 0
    r = SymbolRules(symbol="X", tick_size=Decimal("0.1"), step_size=Decimal(1), min_qty=Decimal("0.3"),
                    quantity_precision=1)
    r.validate_order(Side.BUY, OrderType.LIMIT, "1.3", "10")
    assert rule_error(lambda: r.validate_order(Side.BUY, OrderType.LIMIT, "1", "10"))[0] == -4023


def test_step_and_max_price_refusals_carry_binances_messages() -> None:
    rules = btcusdt_rules("100")
    even = SymbolRules(**{**_fields(rules), "step_size": Decimal("0.002"), "min_qty": Decimal("0.002"),
                          "market_step_size": Decimal("0.002")})
    with pytest.raises(OrderRuleError) as step:
        even.validate_order(Side.BUY, OrderType.LIMIT, "0.003", "50000.0")
    assert str(step.value) == "-4023 Qty not increased by step size."
    with pytest.raises(OrderRuleError) as high:
        rules.validate_order(Side.BUY, OrderType.LIMIT, "0.002", "4529764.1")
    assert str(high.value) == "-4002 Price greater than max price."


def _fields(rules: SymbolRules) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(rules, f.name) for f in dataclasses.fields(rules) if f.init}
