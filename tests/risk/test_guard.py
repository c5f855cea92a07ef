"""RiskGuard: one test per check and reason code, kill switch, equity watch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.core.commands import AmendOrder, CancelOrder, PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.risk import RiskConfig, RiskGuard, RiskReason, RiskSnapshot, SymbolExposure
from grinder.risk import metrics as risk_metrics

BTC = btcusdt_rules("50")  # tick 0.10, step 0.001
ETH = ethusdt_rules("20")  # tick 0.01, step 0.001
PX = 500_000  # 50 000.0 in ticks
CFG = RiskConfig(
    max_notional_per_order=Decimal("150"),
    max_position_notional=Decimal("400"),
    max_total_position_notional=Decimal("600"),
    max_open_orders_per_symbol=4,
)


def guard(cfg: RiskConfig = CFG) -> RiskGuard:
    g = RiskGuard(cfg, {"BTCUSDT": BTC, "ETHUSDT": ETH})
    g.on_equity(Decimal("10000"), 0)
    return g


def view(
    position: int = 0, buy: int = 0, sell: int = 0, count: int = 0, price: int | None = PX
) -> RiskSnapshot:
    return RiskSnapshot({"BTCUSDT": SymbolExposure(position, buy, sell, count, price)})


def place(side: Side = Side.BUY, lots: int = 2, price: int | None = PX - 10, **kw: object) -> PlaceOrder:
    return PlaceOrder(
        symbol=kw.pop("symbol", "BTCUSDT"),  # type: ignore[arg-type]
        side=side,
        order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        qty_lots=lots,
        client_order_id="grinder_t_BTCUSDT_b1_1_1",
        price_ticks=price,
        time_in_force=TimeInForce.GTX if price is not None else None,
        **kw,  # type: ignore[arg-type]
    )


def reason(g: RiskGuard, cmd: object, v: RiskSnapshot | None = None, now: int = 1) -> str:
    d = g.check(cmd, v or view(), now)  # type: ignore[arg-type]
    return "OK" if d.allowed else d.reason


def test_plain_order_passes_and_costs_a_token() -> None:
    g = guard()
    before = g.rate_budget_available(1)
    assert reason(g, place()) == "OK"  # 2 lots × 50 000 = 100 USDT
    assert g.rate_budget_available(1) == before - 1


def test_unknown_symbol() -> None:
    assert reason(guard(), place(symbol="DOGEUSDT")) == RiskReason.UNKNOWN_SYMBOL


def test_invalid_orders() -> None:
    assert reason(guard(), place(lots=0)) == RiskReason.INVALID_ORDER
    assert reason(guard(), place(price=0)) == RiskReason.INVALID_ORDER


def test_symbol_rules_price_bounds() -> None:
    assert reason(guard(), place(price=5_000, lots=300)) == RiskReason.SYMBOL_RULES  # below minPrice 556.80


def test_percent_price_band() -> None:
    assert reason(guard(), place(side=Side.BUY, price=int(PX * 1.06), lots=2)) == RiskReason.PERCENT_PRICE
    assert reason(guard(), place(side=Side.SELL, price=int(PX * 0.94), lots=2)) == RiskReason.PERCENT_PRICE


def test_max_order_notional() -> None:
    assert reason(guard(), place(lots=4)) == RiskReason.MAX_ORDER_NOTIONAL  # ~200 > 150


def test_min_notional_unless_reduce_only() -> None:
    assert (
        reason(guard(), place(lots=1)) == RiskReason.MIN_NOTIONAL
    )  # ~50 < 50 (price is a tick under 50 000)
    v = view(position=-5)
    assert reason(guard(), place(lots=1, reduce_only=True), v) == "OK"


def test_max_open_orders() -> None:
    assert reason(guard(), place(), view(count=4)) == RiskReason.MAX_OPEN_ORDERS


def test_max_position_counts_working_orders() -> None:
    # 6 lots long + 2 working buys + 2 new = 10 lots × 50 000 = 500 > 400
    assert reason(guard(), place(), view(position=6, buy=2)) == RiskReason.MAX_POSITION
    # the sell side of the same book is fine (it reduces)
    assert reason(guard(), place(side=Side.SELL, price=PX + 10), view(position=6, buy=2)) == "OK"


def test_max_total_position() -> None:
    v = RiskSnapshot(
        {
            "BTCUSDT": SymbolExposure(4, 0, 0, 0, PX),  # 200 USDT
            "ETHUSDT": SymbolExposure(110, 0, 0, 0, 300_000),  # 0.11 ETH × 3000 = 330 USDT
        }
    )
    assert reason(guard(), place(), v) == RiskReason.MAX_TOTAL_POSITION  # 200 + 100 + 330 > 600


def test_total_position_fails_closed_on_unvalued_exposure() -> None:
    v = RiskSnapshot({"BTCUSDT": SymbolExposure(0, 0, 0, 0, PX), "ETHUSDT": SymbolExposure(5, 0, 0, 0, None)})
    assert reason(guard(), place(), v) == RiskReason.MAX_TOTAL_POSITION


def test_no_price_blocks_risk_increasing_only() -> None:
    assert reason(guard(), place(), view(price=None)) == RiskReason.NO_PRICE
    assert reason(guard(), place(side=Side.SELL, price=PX + 10), view(position=3, price=None)) == "OK"
    assert reason(
        guard(), place(side=Side.SELL, price=None, reduce_only=True), view(position=3, price=None)
    ) == (RiskReason.NO_PRICE)  # a MARKET order cannot be valued without a price


def test_no_equity_blocks_until_first_equity() -> None:
    g = RiskGuard(CFG, {"BTCUSDT": BTC})
    assert reason(g, place()) == RiskReason.NO_EQUITY
    g.on_equity(Decimal("1000"), 5)
    assert reason(g, place()) == "OK"


def test_kill_switch_allows_only_reducing_and_cancels() -> None:
    g = guard()
    g.engage_kill_switch()
    assert g.kill_switch_engaged and g.kill_switch_reason == "MANUAL"
    assert risk_metrics.KILL_SWITCH_ENGAGED._value.get() == 1
    assert reason(g, place()) == RiskReason.KILL_SWITCH
    assert reason(g, CancelOrder("BTCUSDT", "x")) == "OK"
    long3 = view(position=3)
    assert reason(g, place(side=Side.SELL, price=PX + 10, lots=2), long3) == "OK"
    # reducing more than the position (with working sells) would flip it: not reducing
    assert (
        reason(g, place(side=Side.SELL, price=PX + 10, lots=2), view(position=3, sell=2))
        == RiskReason.KILL_SWITCH
    )
    g.reset_kill_switch()
    assert reason(g, place()) == "OK"


def test_amend_checks_the_new_size_and_knows_the_order() -> None:
    g = guard()
    amend = AmendOrder("BTCUSDT", "c1", Side.BUY, PX - 5, 3)
    assert reason(g, amend, view()) == RiskReason.UNKNOWN_ORDER
    v = RiskSnapshot({"BTCUSDT": SymbolExposure(6, 2, 0, 1, PX)}, {"c1": (2, 0)})
    # 6 + 2 - 2 + 3 = 9 lots × 50 000 = 450 > 400
    assert reason(g, amend, v) == RiskReason.MAX_POSITION
    v_ok = RiskSnapshot({"BTCUSDT": SymbolExposure(0, 2, 0, 1, PX)}, {"c1": (2, 0)})
    assert reason(g, amend, v_ok) == "OK"
    # partially filled: new total 3 with 2 filled leaves 1 lot (< min notional)
    v_part = RiskSnapshot({"BTCUSDT": SymbolExposure(2, 0, 0, 1, PX)}, {"c1": (2, 2)})
    assert reason(g, amend, v_part) == RiskReason.MIN_NOTIONAL


def test_rate_limit_blocks_cancels_too_and_refills() -> None:
    g = guard(RiskConfig(orders_per_10s=10, orders_per_minute=1200))
    outcomes = [reason(g, CancelOrder("BTCUSDT", f"c{i}"), now=1000) for i in range(7)]
    assert outcomes == ["OK"] * 5 + [RiskReason.RATE_LIMIT] * 2  # burst = half the limit
    assert reason(g, CancelOrder("BTCUSDT", "later"), now=3000) == "OK"  # 0.5 token / s


def test_block_metric_counts_by_reason() -> None:
    metric = risk_metrics.RISK_BLOCKS.labels(reason=RiskReason.MIN_NOTIONAL)
    before = metric._value.get()
    reason(guard(), place(lots=1))
    assert metric._value.get() == before + 1


def test_drawdown_latches_kill_switch() -> None:
    g = RiskGuard(
        RiskConfig(max_drawdown_pct=Decimal("10"), daily_loss_limit=Decimal("100000")), {"BTCUSDT": BTC}
    )
    g.on_equity(Decimal("1000"), 0)
    g.on_equity(Decimal("1200"), 1)  # new high-water mark
    g.on_equity(Decimal("1081"), 2)
    assert not g.kill_switch_engaged
    g.on_equity(Decimal("1080"), 3)  # 10 % below 1200
    assert g.kill_switch_reason == "DRAWDOWN"
    g.on_equity(Decimal("5000"), 4)
    assert g.kill_switch_engaged  # a latch: recovery does not clear it


def test_daily_loss_uses_utc_day_start() -> None:
    day = 86_400_000
    g = RiskGuard(
        RiskConfig(max_drawdown_pct=Decimal("99"), daily_loss_limit=Decimal("50")), {"BTCUSDT": BTC}
    )
    g.on_equity(Decimal("1000"), day - 10)
    g.on_equity(Decimal("960"), day - 5)  # -40 on day 0
    g.on_equity(Decimal("960"), day + 1)  # new UTC day starts at 960
    g.on_equity(Decimal("915"), day + 2)  # -45 today
    assert not g.kill_switch_engaged
    g.on_equity(Decimal("910"), day + 3)  # -50 today
    assert g.kill_switch_reason == "DAILY_LOSS"


def test_bad_equity_raises() -> None:
    with pytest.raises(ValueError, match="finite"):
        guard().on_equity(Decimal("NaN"), 1)


def test_config_refuses_disabled_limits() -> None:
    with pytest.raises(ValueError, match="max_notional_per_order"):
        RiskConfig(max_notional_per_order=Decimal(0))
    with pytest.raises(ValueError, match="orders_per_10s"):
        RiskConfig(orders_per_10s=0)
