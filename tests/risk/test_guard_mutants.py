"""RiskGuard / RiskConfig edges that mutation testing (bench/mutation.py) showed unpinned.

Each test pins a boundary an order's fate depends on: the exact limit values that pass or fail, the
worst-case position arithmetic on both sides, the amend's replaced quantity, the total-notional sum
over the other symbols (and its fail-closed cases), and the [risk] section's validation messages.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from grinder.core.commands import AmendOrder, PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.risk import RiskConfig, RiskGuard, RiskReason, RiskSnapshot, SymbolExposure
from grinder.risk import metrics as risk_metrics
from grinder.risk.guard import RiskDecision

BTC = btcusdt_rules("50")  # tick 0.10, step 0.001: one tick×lot unit = 0.0001 USDT
ETH = ethusdt_rules("20")  # tick 0.01, step 0.001
PX = 500_000  # 50 000.0 in ticks
CFG = RiskConfig(max_notional_per_order=Decimal("150"), max_position_notional=Decimal("400"),
                 max_total_position_notional=Decimal("600"), max_open_orders_per_symbol=4)


def guard(cfg: RiskConfig = CFG, **rules: object) -> RiskGuard:
    g = RiskGuard(cfg, rules or {"BTCUSDT": BTC, "ETHUSDT": ETH})  # type: ignore[arg-type]
    g.on_equity(Decimal("10000"), 0)
    return g


def place(side: Side = Side.BUY, lots: int = 2, price: int = PX - 10, symbol: str = "BTCUSDT") -> PlaceOrder:
    return PlaceOrder(symbol=symbol, side=side, order_type=OrderType.LIMIT, qty_lots=lots,
                      client_order_id="grinder_t_BTCUSDT_b1_1_1", price_ticks=price, time_in_force=TimeInForce.GTX)


def decide(g: RiskGuard, cmd: object, *exposures: tuple[str, SymbolExposure],
           orders: dict[str, tuple[int, int]] | None = None) -> RiskDecision:
    snap = RiskSnapshot(dict(exposures) or {"BTCUSDT": SymbolExposure(price_ticks=PX)}, orders or {})
    return g.check(cmd, snap, 1)  # type: ignore[arg-type]


def exp(pos: int = 0, buy: int = 0, sell: int = 0, count: int = 0, price: int | None = PX) -> SymbolExposure:
    return SymbolExposure(pos, buy, sell, count, price)


# ----------------------------------------------------------------- RiskConfig
@pytest.mark.parametrize("key", ["max_notional_per_order", "max_position_notional", "max_total_position_notional",
                                 "max_drawdown_pct", "daily_loss_limit"])
def test_every_money_limit_must_be_positive(key: str) -> None:
    with pytest.raises(ValueError, match="must be > 0") as exc:
        RiskConfig(**{key: Decimal(0)})
    assert str(exc.value) == f"[risk] {key} must be > 0 (got 0); set a positive limit"
    assert getattr(RiskConfig(**{key: Decimal("0.5")}), key) == Decimal("0.5")  # small but positive is fine


@pytest.mark.parametrize("key", ["max_open_orders_per_symbol", "orders_per_10s", "orders_per_minute"])
def test_every_count_limit_must_be_at_least_one(key: str) -> None:
    with pytest.raises(ValueError, match="must be >= 1") as exc:
        RiskConfig(**{key: 0})
    assert str(exc.value) == f"[risk] {key} must be >= 1 (got 0)"
    assert getattr(RiskConfig(**{key: 1}), key) == 1


def test_drawdown_limit_below_one_hundred_percent() -> None:
    with pytest.raises(ValueError, match="below 100") as exc:
        RiskConfig(max_drawdown_pct=Decimal(100))
    assert str(exc.value) == "[risk] max_drawdown_pct must be below 100 (got 100)"
    assert RiskConfig(max_drawdown_pct=Decimal("99.99")).max_drawdown_pct == Decimal("99.99")


# ----------------------------------------------------------------- exposure arithmetic
def test_worst_case_lots_on_each_side() -> None:
    e = exp(pos=5, buy=7, sell=11)
    assert e.worst_case_lots(Side.BUY) == 12 and e.worst_case_lots(Side.BUY, 3) == 15
    assert e.worst_case_lots(Side.SELL) == 6 and e.worst_case_lots(Side.SELL, 3) == 9
    short = exp(pos=-5, buy=7, sell=11)
    assert short.worst_case_lots(Side.BUY) == 2 and short.worst_case_lots(Side.SELL, 1) == 17


def test_position_limit_is_exact_on_the_sell_side() -> None:
    # max_position 400 USDT at 50 000 = 0.008 BTC = 8 lots; short 3 + 3 working sells + new 2 = 8: at the limit
    g = guard(dataclasses.replace(CFG, max_notional_per_order=Decimal(1000)))
    ok = decide(g, place(Side.SELL, 2, PX), ("BTCUSDT", exp(pos=-3, sell=3)))
    assert ok == RiskDecision(True)
    over = decide(g, place(Side.SELL, 3, PX), ("BTCUSDT", exp(pos=-3, sell=3)))
    assert over == RiskDecision(False, RiskReason.MAX_POSITION)


# ----------------------------------------------------------------- amend
def test_amend_of_an_unknown_order_is_refused_outright() -> None:
    d = decide(guard(), AmendOrder("BTCUSDT", "c1", Side.BUY, PX - 5, 2))
    assert d == RiskDecision(False, RiskReason.UNKNOWN_ORDER)
    assert d.allowed is False


def test_amend_replaces_the_unfilled_rest_only() -> None:
    g = guard(dataclasses.replace(CFG, max_notional_per_order=Decimal(1000)))
    # working buy of 6 lots, 2 filled (position +2): amending to 8 lots total adds 8-2 = 6 new lots
    # in place of 6-2 = 4: worst case 2 + 4 (working) - 4 + 6 = 8 lots = 400 USDT: exactly the limit
    state = ("BTCUSDT", exp(pos=2, buy=4, count=1))
    assert decide(g, AmendOrder("BTCUSDT", "c1", Side.BUY, PX, 8), state, orders={"c1": (6, 2)}) == RiskDecision(True)
    over = decide(g, AmendOrder("BTCUSDT", "c1", Side.BUY, PX, 9), state, orders={"c1": (6, 2)})
    assert over == RiskDecision(False, RiskReason.MAX_POSITION)


def test_amend_is_not_a_new_order_and_not_reduce_only() -> None:
    g = guard()
    full = ("BTCUSDT", exp(count=4, buy=2))  # at max_open_orders_per_symbol = 4
    assert decide(g, place(lots=2), full) == RiskDecision(False, RiskReason.MAX_OPEN_ORDERS)
    assert decide(g, AmendOrder("BTCUSDT", "c1", Side.BUY, PX - 5, 2), full, orders={"c1": (2, 0)}).allowed
    # an amend below MIN_NOTIONAL (50 USDT) is refused: it is never treated as reduce-only
    small = decide(g, AmendOrder("BTCUSDT", "c1", Side.BUY, PX - 5, 1), full, orders={"c1": (2, 0)})
    assert small == RiskDecision(False, RiskReason.MIN_NOTIONAL)


def test_amend_under_the_kill_switch_may_only_shrink() -> None:
    g = guard(dataclasses.replace(CFG, max_notional_per_order=Decimal(1000)))
    g.engage_kill_switch()
    long_ = ("BTCUSDT", exp(pos=4, sell=2, count=1))
    assert decide(g, AmendOrder("BTCUSDT", "c1", Side.SELL, PX, 4), long_, orders={"c1": (2, 0)}).allowed
    refused = decide(g, AmendOrder("BTCUSDT", "c1", Side.SELL, PX, 5), long_, orders={"c1": (2, 0)})
    assert refused == RiskDecision(False, RiskReason.KILL_SWITCH)
    # partially filled: 1 of 2 filled, position 4; amending to 5 total leaves 4 working = the position
    assert decide(g, AmendOrder("BTCUSDT", "c1", Side.SELL, PX, 5), ("BTCUSDT", exp(pos=4, sell=1, count=1)),
                  orders={"c1": (2, 1)}).allowed


def test_reset_kill_switch_clears_the_gauge() -> None:
    g = guard()
    g.engage_kill_switch()
    assert risk_metrics.KILL_SWITCH_ENGAGED._value.get() == 1
    g.reset_kill_switch()
    assert risk_metrics.KILL_SWITCH_ENGAGED._value.get() == 0 and not g.kill_switch_engaged


# ----------------------------------------------------------------- percent band
def test_percent_band_edge_is_inclusive() -> None:
    g = guard()
    cap = PX * 105 // 100  # multiplierUp 1.05
    assert decide(g, place(Side.BUY, 2, cap)) == RiskDecision(True)
    assert decide(g, place(Side.BUY, 2, cap + 1)) == RiskDecision(False, RiskReason.PERCENT_PRICE)
    floor = PX * 95 // 100
    assert decide(g, place(Side.SELL, 2, floor)) == RiskDecision(True)
    assert decide(g, place(Side.SELL, 2, floor - 1)) == RiskDecision(False, RiskReason.PERCENT_PRICE)


def test_percent_band_of_one_is_enforced_and_zero_is_off() -> None:
    flat = dataclasses.replace(BTC, multiplier_up=Decimal(1), multiplier_down=Decimal(1))
    g = guard(BTCUSDT=flat)
    assert decide(g, place(Side.BUY, 2, PX + 1)) == RiskDecision(False, RiskReason.PERCENT_PRICE)
    assert decide(g, place(Side.SELL, 2, PX - 1)) == RiskDecision(False, RiskReason.PERCENT_PRICE)
    off = dataclasses.replace(BTC, multiplier_up=Decimal(0), multiplier_down=Decimal(0))
    g = guard(BTCUSDT=off)
    assert decide(g, place(Side.BUY, 2, PX * 2)).reason != RiskReason.PERCENT_PRICE
    assert decide(g, place(Side.SELL, 2, PX // 2)).reason != RiskReason.PERCENT_PRICE


# ----------------------------------------------------------------- total notional across symbols
ETH_PX = 300_000  # 3 000.00 in ticks


def test_total_counts_the_other_symbols_worst_side() -> None:
    g = guard(dataclasses.replace(CFG, max_notional_per_order=Decimal(1000)))
    # ETH short 0.1 with 0.05 more working sells: worst case 0.15 ETH × 3000 = 450 USDT
    eth = ("ETHUSDT", exp(pos=-100, sell=50, buy=10, price=ETH_PX))
    # + BTC 3 lots × 50 000 = 150 -> 600, at the limit, passes; 4 lots -> 650 fails
    assert decide(g, place(lots=3, price=PX), ("BTCUSDT", exp()), eth) == RiskDecision(True)
    assert decide(g, place(lots=4, price=PX), ("BTCUSDT", exp()), eth) == RiskDecision(
        False, RiskReason.MAX_TOTAL_POSITION)


def test_total_skips_flat_symbols_and_keeps_summing() -> None:
    cfg = dataclasses.replace(CFG, max_notional_per_order=Decimal(1000), max_total_position_notional=Decimal(200))
    g = RiskGuard(cfg, {"BTCUSDT": BTC, "ETHUSDT": ETH, "SOLUSDT": dataclasses.replace(ETH, symbol="SOLUSDT")})
    g.on_equity(Decimal("10000"), 0)
    flat = ("ETHUSDT", exp(price=None))  # nothing there: needs no price, and the sum goes on after it
    btc = ("BTCUSDT", exp())
    assert decide(g, place(lots=4, price=PX), btc, flat).allowed  # 4 lots × 50 000 = 200: at the limit
    one_lot = ("SOLUSDT", exp(pos=1, price=ETH_PX))  # 0.001 × 3000 = 3 USDT more
    assert decide(g, place(lots=4, price=PX), btc, flat, one_lot) == RiskDecision(
        False, RiskReason.MAX_TOTAL_POSITION)
    assert decide(g, place(lots=3, price=PX), btc, flat, one_lot).allowed  # 150 + 3


def test_total_fails_closed_on_exposure_it_cannot_value() -> None:
    g = guard()
    no_price = ("ETHUSDT", exp(pos=1, price=None))
    assert decide(g, place(lots=2, price=PX), ("BTCUSDT", exp()), no_price) == RiskDecision(
        False, RiskReason.MAX_TOTAL_POSITION)
    unknown = ("DOGEUSDT", exp(pos=1, price=1000))  # a position in a symbol with no rules
    assert decide(g, place(lots=2, price=PX), ("BTCUSDT", exp()), unknown) == RiskDecision(
        False, RiskReason.MAX_TOTAL_POSITION)


def test_status_reports_the_latch_and_the_equity_watch() -> None:
    g = RiskGuard(CFG, {"BTCUSDT": BTC})
    assert g.status() == {"kill_switch_engaged": False, "kill_switch_reason": None, "equity": None,
                          "high_water_mark": None, "drawdown_pct": None}
    g.on_equity(Decimal("1000"), 0)
    g.on_equity(Decimal("950"), 1)
    g.engage_kill_switch("MANUAL")
    assert g.status() == {"kill_switch_engaged": True, "kill_switch_reason": "MANUAL", "equity": "950",
                          "high_water_mark": "1000", "drawdown_pct": "5.00"}


# ----------------------------------------------------------------- risk-reducing under the kill switch
def test_reducing_means_no_more_than_the_position_on_each_side() -> None:
    g = guard(dataclasses.replace(CFG, max_notional_per_order=Decimal(1000)))
    g.engage_kill_switch()
    # short 4: buying exactly 4 closes it (reducing); 5 would flip it
    assert decide(g, place(Side.BUY, 4, PX), ("BTCUSDT", exp(pos=-4))) == RiskDecision(True)
    assert decide(g, place(Side.BUY, 5, PX), ("BTCUSDT", exp(pos=-4))) == RiskDecision(
        False, RiskReason.KILL_SWITCH)
    assert decide(g, place(Side.SELL, 4, PX), ("BTCUSDT", exp(pos=4))) == RiskDecision(True)
    assert decide(g, place(Side.SELL, 5, PX), ("BTCUSDT", exp(pos=4))) == RiskDecision(
        False, RiskReason.KILL_SWITCH)
    # flat: nothing reduces, not even an amend that shrinks a working order
    flat = ("BTCUSDT", exp(sell=4, count=1))
    assert decide(g, AmendOrder("BTCUSDT", "c1", Side.SELL, PX, 2), flat, orders={"c1": (4, 0)}) == RiskDecision(
        False, RiskReason.KILL_SWITCH)
    flat_buy = ("BTCUSDT", exp(buy=4, count=1))
    assert decide(g, AmendOrder("BTCUSDT", "c1", Side.BUY, PX, 2), flat_buy, orders={"c1": (4, 0)}) == RiskDecision(
        False, RiskReason.KILL_SWITCH)


def test_limits_are_inclusive_at_the_cap() -> None:
    g = guard()
    # 3 lots × 50 000 = 150 USDT = max_notional_per_order: allowed; one tick more is refused
    assert decide(g, place(lots=3, price=PX)) == RiskDecision(True)
    assert decide(g, place(lots=3, price=PX + 1)) == RiskDecision(False, RiskReason.MAX_ORDER_NOTIONAL)
    capped = dataclasses.replace(BTC, max_price=Decimal("50000.0"))  # max price 500 000 ticks
    g = guard(BTCUSDT=capped)
    assert decide(g, place(lots=2, price=PX)) == RiskDecision(True)
    assert decide(g, place(lots=2, price=PX + 1)) == RiskDecision(False, RiskReason.SYMBOL_RULES)


def test_missing_data_refusals_are_plain_refusals() -> None:
    g = RiskGuard(CFG, {"BTCUSDT": BTC})  # no equity seen yet
    assert decide(g, place()) == RiskDecision(False, RiskReason.NO_EQUITY)
    g.on_equity(Decimal("10000"), 0)
    market = PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.MARKET, qty_lots=2,
                        client_order_id="grinder_t_BTCUSDT_b1_1_1", reduce_only=True)
    assert decide(g, market, ("BTCUSDT", exp(pos=-2, price=None))) == RiskDecision(False, RiskReason.NO_PRICE)


def test_a_refused_minute_token_gives_the_ten_second_token_back() -> None:
    from grinder.risk.rate import OrderRateBudget

    budget = OrderRateBudget(orders_per_10s=10, orders_per_minute=4)  # bursts of 5 and 2
    assert budget.take(0) and budget.take(0)
    assert not budget.take(0)  # the minute bucket is empty
    ten_s, minute = budget._buckets
    assert ten_s.available(0) == 3 and minute.available(0) == 0
    ten_s.give_back(10)  # never above capacity
    assert ten_s.available(0) == 5


def test_lot_size_bounds_from_the_symbol_rules() -> None:
    g = guard(dataclasses.replace(CFG, max_notional_per_order=Decimal("1e12"),
                                  max_position_notional=Decimal("1e12"), max_total_position_notional=Decimal("1e12")))
    # LOT_SIZE maxQty 1000 BTC = 1 000 000 lots
    assert decide(g, place(lots=1_000_001, price=PX)) == RiskDecision(False, RiskReason.SYMBOL_RULES)
    unbounded = dataclasses.replace(BTC, max_qty=Decimal(0))  # 0 = not enforced
    g = guard(BTCUSDT=unbounded)
    assert decide(g, place(lots=2, price=PX)) == RiskDecision(True)


def test_position_is_valued_at_the_higher_of_order_and_reference_price() -> None:
    g = guard()
    # long 7 lots; a buy of 2 at 40 000 makes 9 lots worst case: 450 USDT at the 50 000 reference
    low_buy = place(Side.BUY, 2, 400_000)
    assert decide(g, low_buy, ("BTCUSDT", exp(pos=7))) == RiskDecision(False, RiskReason.MAX_POSITION)
    assert decide(g, low_buy, ("BTCUSDT", exp(pos=6))) == RiskDecision(True)  # 8 lots = 400


def test_zero_equity_latches_without_a_drawdown_figure() -> None:
    g = RiskGuard(CFG, {"BTCUSDT": BTC})
    g.on_equity(Decimal(0), 0)
    assert g.kill_switch_reason == "DRAWDOWN" and g.drawdown_pct() is None


def test_token_bucket_smallest_limits() -> None:
    from grinder.risk.rate import TokenBucket

    assert TokenBucket(2, 1).available(0) == 1  # the smallest accepted bucket
    for limit, window in ((1, 10), (2, 0)):
        with pytest.raises(ValueError, match="too small") as exc:
            TokenBucket(limit, window)
        assert str(exc.value) == (f"rate limit {limit}/{window} ms is too small: "
                                  "need limit >= 2 and window >= 1 ms")


def test_flatten_settings_are_validated_by_name() -> None:
    with pytest.raises(ValueError, match=r"^\[risk\] flatten_slice_notional must be > 0 \(got 0\); set a positive"):
        RiskConfig(flatten_slice_notional=Decimal(0))
    with pytest.raises(ValueError, match=r"^\[risk\] flatten_slippage_bps must be below 5000 \(got 5000\)"):
        RiskConfig(flatten_slippage_bps=Decimal(5000))
    assert RiskConfig(flatten_slippage_bps=Decimal("4999.9")).flatten_slippage_bps == Decimal("4999.9")


def test_a_tripped_latch_and_its_references_survive_a_restart() -> None:
    """trip_state is journaled; a restarted engine's guard restores it: same reason, same day start."""
    from grinder.risk.guard import TripState

    g = guard(dataclasses.replace(CFG, daily_loss_limit=Decimal("100")))
    g.on_equity(Decimal("9850"), 1_000)  # 150 lost today: over the daily loss limit
    assert g.kill_switch_reason == "DAILY_LOSS"
    state = g.trip_state()
    assert state == TripState(True, "DAILY_LOSS", Decimal("10000"), state.utc_day, Decimal("10000"))
    again = RiskGuard(CFG, {"BTCUSDT": BTC})
    again.restore_trip_state(state)
    assert again.kill_switch_engaged and again.kill_switch_reason == "DAILY_LOSS"
    assert again.trip_state() == state
    manual = RiskGuard(CFG, {"BTCUSDT": BTC})
    manual.restore_trip_state(TripState(True, None, None, None, None))  # an old journal row without a reason
    assert manual.kill_switch_reason == "MANUAL"
