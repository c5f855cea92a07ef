"""TradingPipeline with the real GridStrategy: quoting, quiet fast path, fills, blocks, kill switch."""

from __future__ import annotations

from decimal import Decimal

from grinder.core.commands import AmendOrder, CancelOrder, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side
from grinder.core.events import AccountUpdate, BalanceChange, BookTicker, PositionChange
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, TradingPipeline
from grinder.risk import RiskConfig, RiskReason
from grinder.strategy import StrategyConfig, grid_factory

from .helpers import update

SYM = "BTCUSDT"
RULES = btcusdt_rules("100")
WIDE = RiskConfig(
    max_notional_per_order=Decimal("600"),
    max_position_notional=Decimal("6000"),
    max_total_position_notional=Decimal("10000"),
)
T0 = 1_700_000_000_000


def pipeline(risk: RiskConfig = WIDE, wallet: Decimal | None = Decimal("10000")) -> TradingPipeline:
    p = TradingPipeline(
        {SYM: RULES},
        StrategyConfig.reference(),
        risk,
        ExecutionConfig(),
        ClientOrderIdFactory("grid", 1_700_000_000),
        strategy_factory=grid_factory,
    )
    if wallet is not None:
        p.on_wallet_balance(wallet, T0)
    return p


def book(mid: int, t: int, uid: int = 1) -> BookTicker:
    return BookTicker(SYM, mid - 1, 10, mid + 1, 10, uid, t, t)


def accept_all(p: TradingPipeline, cmds: list) -> None:  # type: ignore[type-arg]
    for i, c in enumerate(cmds):
        p.on_result(CommandResult(c, Outcome.ACCEPTED, order_id=100 + i, status=OrderStatus.NEW))


def test_first_book_places_the_reference_grid_and_quiet_ticks_do_nothing() -> None:
    p = pipeline()
    cmds = p.on_market_event(book(500_000, T0), T0)
    places = [c for c in cmds if isinstance(c, PlaceOrder)]
    assert len(places) == 10 and len(cmds) == 10
    for c in places:
        RULES.validate_ticks(c.side, OrderType.LIMIT, c.qty_lots, c.price_ticks)
        assert c.client_order_id.startswith("grinder_grid_BTCUSDT_")
    assert {c.side for c in places[:2]} == {Side.BUY, Side.SELL}  # nearest levels first
    accept_all(p, cmds)
    assert p.on_market_event(book(500_000, T0 + 10, 2), T0 + 10) == []
    assert len(p.working_orders(SYM)) == 10


def test_grid_shift_amends_instead_of_replacing() -> None:
    p = pipeline()
    accept_all(p, p.on_market_event(book(500_000, T0), T0))
    cmds = p.on_market_event(book(510_000, T0 + 1000, 2), T0 + 1000)  # +2 %: re-anchor
    assert cmds and all(isinstance(c, AmendOrder | CancelOrder) for c in cmds)
    assert not any(isinstance(c, PlaceOrder) for c in cmds)


def test_fill_moves_position_once_and_reaches_the_strategy() -> None:
    p = pipeline()
    cmds = p.on_market_event(book(500_000, T0), T0)
    accept_all(p, cmds)
    buy = next(c for c in cmds if isinstance(c, PlaceOrder) and c.side is Side.BUY)
    ev = update(
        buy,
        OrderStatus.FILLED,
        execution=ExecutionType.TRADE,
        fill_lots=buy.qty_lots,
        cum_lots=buy.qty_lots,
        trade_id=77,
    )
    fill = p.on_user_event(ev)
    assert fill is not None and fill.trade_id == 77
    assert p.on_user_event(ev) is None  # replay: ignored
    assert p.position_lots(SYM) == buy.qty_lots
    assert [f.trade_id for f in p.take_fills()] == [77] and p.take_fills() == []
    assert buy.client_order_id not in {o.client_order_id for o in p.working_orders(SYM)}
    # the strategy saw the fill / new position: the next event re-plans
    assert p.on_market_event(book(500_000, T0 + 5, 3), T0 + 5) != []


def test_blocks_are_recorded_once_per_level_and_reason() -> None:
    p = pipeline(RiskConfig())  # $125 per order: every 0.01 BTC level is too large
    assert p.on_market_event(book(500_000, T0), T0) == []
    blocked = p.take_blocked()
    assert len(blocked) == 10 and {b.reason for b in blocked} == {RiskReason.MAX_ORDER_NOTIONAL}
    assert p.on_market_event(book(500_000, T0 + 1, 2), T0 + 1) == []
    assert p.take_blocked() == []


def test_no_wallet_means_no_risk_increasing_orders() -> None:
    p = pipeline(wallet=None)
    assert p.on_market_event(book(500_000, T0), T0) == []
    assert {b.reason for b in p.take_blocked()} == {RiskReason.NO_EQUITY}


def test_kill_switch_cancels_risk_increasing_orders() -> None:
    p = pipeline()
    accept_all(p, p.on_market_event(book(500_000, T0), T0))
    p.set_position(SYM, 10)  # long 0.01
    p.engage_kill_switch()
    cmds = p.on_market_event(book(500_000, T0 + 1, 2), T0 + 1)
    buys = {o.client_order_id for o in p.working_orders(SYM) if o.side is Side.BUY}
    assert {c.client_order_id for c in cmds if isinstance(c, CancelOrder)} >= buys
    assert not any(isinstance(c, PlaceOrder | AmendOrder) and c.side is Side.BUY for c in cmds)


def test_drawdown_from_account_updates_engages_the_kill_switch() -> None:
    p = pipeline(
        RiskConfig(
            max_drawdown_pct=Decimal("5"),
            max_notional_per_order=Decimal("600"),
            max_position_notional=Decimal("6000"),
            max_total_position_notional=Decimal("10000"),
        )
    )
    p.on_market_event(book(500_000, T0), T0)
    pos = PositionChange(
        SYM,
        PositionSide.BOTH,
        100,
        Decimal("50000"),
        Decimal("50000"),
        Decimal(0),
        Decimal(0),
        "cross",
        Decimal(0),
    )
    p.on_user_event(
        AccountUpdate(
            "ORDER",
            (BalanceChange("USDT", Decimal("10000"), Decimal("10000"), Decimal(0)),),
            (pos,),
            T0 + 1,
            T0 + 1,
        )
    )
    assert not p.guard.kill_switch_engaged
    p.on_market_event(book(440_000, T0 + 5000, 2), T0 + 5000)  # 0.1 BTC × -6000 = -600 = -6 %
    assert p.guard.kill_switch_reason == "DRAWDOWN"
    assert p.status()["risk"]["kill_switch_engaged"] is True


def test_same_events_same_commands() -> None:
    def run() -> list[object]:
        p = pipeline()
        out: list[object] = []
        for i, mid in enumerate((500_000, 500_010, 505_000, 495_000, 495_100)):
            cmds = p.on_market_event(book(mid, T0 + i * 700, i), T0 + i * 700)
            accept_all(p, cmds)
            out.extend(cmds)
        return out

    assert run() == run()


def test_status_snapshot() -> None:
    p = pipeline()
    accept_all(p, p.on_market_event(book(500_000, T0), T0))
    s = p.status()
    assert s["symbols"][SYM]["position_lots"] == 0
    assert len(s["symbols"][SYM]["working_orders"]) == 10
    assert s["risk"]["equity"] == "10000" and s["unknown_orders"] == []


def test_seeded_fill_keys_make_replays_harmless() -> None:
    p = pipeline()
    cmds = p.on_market_event(book(500_000, T0), T0)
    accept_all(p, cmds)
    buy = next(c for c in cmds if isinstance(c, PlaceOrder) and c.side is Side.BUY)
    p.seed_fill_keys([(SYM, 5, buy.client_order_id)])
    ev = update(
        buy, OrderStatus.PARTIALLY_FILLED, execution=ExecutionType.TRADE, fill_lots=1, cum_lots=1, trade_id=5
    )
    assert p.on_user_event(ev) is None and p.position_lots(SYM) == 0


def test_kill_switch_engaged_directly_on_the_guard_is_seen_on_a_quiet_tick() -> None:
    p = pipeline()
    accept_all(p, p.on_market_event(book(500_000, T0), T0))
    assert p.on_market_event(book(500_000, T0 + 1, 2), T0 + 1) == []  # quiet
    p.guard.engage_kill_switch("MANUAL")
    cmds = p.on_market_event(book(500_000, T0 + 2, 3), T0 + 2)
    assert len(cmds) == 10 and all(isinstance(c, CancelOrder) for c in cmds)  # flat: nothing reduces


def test_two_symbols_route_separately_and_share_the_total_cap() -> None:
    from grinder.core.rules import ethusdt_rules

    eth = ethusdt_rules("20")
    risk = RiskConfig(
        max_notional_per_order=Decimal("600"),
        max_position_notional=Decimal("6000"),
        max_total_position_notional=Decimal("2600"),
    )
    p = TradingPipeline(
        {SYM: RULES, "ETHUSDT": eth},
        StrategyConfig.reference(),
        risk,
        ExecutionConfig(),
        ClientOrderIdFactory("grid", 1_700_000_000),
        strategy_factory=grid_factory,
    )
    p.on_wallet_balance(Decimal("100000"), T0)
    btc_cmds = p.on_market_event(book(500_000, T0), T0)
    assert btc_cmds and all(c.symbol == SYM for c in btc_cmds)
    accept_all(p, btc_cmds)
    # BTC ties up 5 × 0.01 × 50 000 = 2500 USDT of worst case; ETH 30 USDT levels fit three times
    eth_cmds = p.on_market_event(BookTicker("ETHUSDT", 299_999, 10, 300_001, 10, 1, T0 + 1, T0 + 1), T0 + 1)
    assert all(c.symbol == "ETHUSDT" for c in eth_cmds)
    assert sum(1 for c in eth_cmds if c.side is Side.BUY) == 3
    assert RiskReason.MAX_TOTAL_POSITION in {b.reason for b in p.take_blocked()}
    assert set(p.status()["symbols"]) == {SYM, "ETHUSDT"}


def test_a_refused_plan_is_not_repeated_until_its_inputs_change() -> None:
    p = pipeline(RiskConfig())  # every level is refused (MAX_ORDER_NOTIONAL)
    checks: list[str] = []
    real_check = p.guard.check

    def counting_check(cmd, view, now_ms):  # type: ignore[no-untyped-def]
        checks.append(cmd.client_order_id)
        return real_check(cmd, view, now_ms)

    p.guard.check = counting_check  # type: ignore[method-assign]
    assert p.on_market_event(book(500_000, T0), T0) == []
    blocked = p.take_blocked()
    assert len(blocked) == 10 and len(checks) == 10
    # refused orders get no client id: they carry the never-issued sequence 0
    assert all(b.command.client_order_id.endswith("_0") for b in blocked)
    assert p.orders.ids._seq == 0
    _band, needs_plan = p.quiet_state(SYM)
    assert needs_plan  # blocked work is left: the backtester must not skip
    for k in range(1, 50):  # same quotes, position, price, risk state: no plan, no risk checks
        assert p.on_market_event(book(500_000, T0 + k, k + 1), T0 + k) == []
    assert len(checks) == 10 and p.take_blocked() == []
    assert p.quiet_state(SYM)[1]
    # the price moves: the plan runs again (same refusals, so nothing recorded twice)
    assert p.on_market_event(book(500_100, T0 + 60, 99), T0 + 60) == []
    assert len(checks) == 20 and p.take_blocked() == [] and p.orders.ids._seq == 0


def test_approved_orders_get_ids_in_plan_order() -> None:
    p = pipeline()
    cmds = p.on_market_event(book(500_000, T0), T0)
    seqs = [int(c.client_order_id.rsplit("_", 1)[1], 36) for c in cmds if isinstance(c, PlaceOrder)]
    assert seqs == list(range(1, 11))


def test_accessors_for_the_backtester() -> None:
    p = pipeline()
    assert p.quiet_state(SYM) == (None, True)
    assert p.last_equity_ms == T0  # seeded wallet re-marks at once
    accept_all(p, p.on_market_event(book(500_000, T0 + 5), T0 + 5))
    assert p.symbol_mode(SYM) == p.status()["symbols"][SYM]["mode"] != ""
    p.on_market_event(book(500_000, T0 + 6, 2), T0 + 6)
    band, needs_plan = p.quiet_state(SYM)
    assert band is not None and not needs_plan and band.contains(499_999, 500_001, T0 + 7)
