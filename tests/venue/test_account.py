"""Account: PnL, fees, funding, margin, isolated wallets, liquidation estimate, user-data events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.core.enums import MarginType, Side
from grinder.core.events import AccountUpdate
from grinder.venue import Venue
from grinder.venue.account import liquidation_price
from tests.venue.builders import SYM, T0, limit, make_venue, mark, market, quote

D = Decimal
H8 = 8 * 3_600_000


def test_liquidation_price_check_example() -> None:
    lp = liquidation_price(
        wallet_balance=D(100), side=1, qty=D("0.01"), entry_price=D(50000), maint_margin_ratio=D("0.004")
    )
    assert lp.quantize(D("0.01")) == D("40160.64")
    # At that price the equity equals the maintenance margin.
    equity = D(100) + D("0.01") * (lp - D(50000))
    assert abs(equity - D("0.01") * lp * D("0.004")) < D("1e-9")


def test_isolated_long_position_reports_the_liquidation_estimate() -> None:
    v = make_venue(default_leverage=5, maker_fee=D(0), taker_fee=D(0))
    v.set_margin_type(SYM, MarginType.ISOLATED)
    mark(v, "50000", T0)
    quote(v, 499_999, 500_000, T0)
    v.place(market(Side.BUY, 10, "open"), T0)  # 0.01 BTC at 50000: isolated wallet 500 / 5 = 100
    [p] = v.positions(SYM)
    assert p.isolated_wallet == D(100) and p.margin_type is MarginType.ISOLATED
    assert p.liquidation_price.quantize(D("0.01")) == D("40160.64")
    b = v.balance()
    assert b.cross_wallet_balance == b.wallet_balance - D(100)


def test_round_trip_realized_pnl_and_fees() -> None:
    v = make_venue()
    mark(v, "60000", T0)
    quote(v, 600_000, 600_001, T0)
    v.place(market(Side.BUY, 100, "b"), T0)  # 0.1 @ 60000.1 taker
    quote(v, 601_000, 601_001, T0 + 1)
    v.place(market(Side.SELL, 100, "s"), T0 + 1)  # 0.1 @ 60100.0 taker
    fees = D("60000.1") * D("0.1") * D("0.0005") + D("60100.0") * D("0.1") * D("0.0005")
    realized = (D("60100.0") - D("60000.1")) * D("0.1")
    assert v.balance().wallet_balance == D(10000) + realized - fees.quantize(D("0.00000001"))
    kinds = [(i.income_type, i.income) for i in v.income(SYM)]
    assert ("REALIZED_PNL", realized) in kinds
    assert sum(i.income for i in v.income()) == v.balance().wallet_balance - D(10000)
    assert v.positions(SYM)[0].amount_lots == 0


def test_average_entry_and_unrealized_at_mark(venue: Venue) -> None:
    venue.place(market(Side.BUY, 10, "a"), T0)  # @ 60000.1
    quote(venue, 600_100, 600_101, T0 + 1)
    venue.place(market(Side.BUY, 30, "b"), T0 + 1)  # @ 60010.1
    [p] = venue.positions(SYM)
    assert p.entry_price == D("60007.6")
    mark(venue, "60100", T0 + 2)
    assert venue.positions(SYM)[0].unrealized_pnl == (D("60100") - D("60007.6")) * D("0.04")


def test_flip_through_zero_reopens_at_the_fill_price(venue: Venue) -> None:
    venue.place(market(Side.BUY, 10, "a"), T0)
    venue.place(market(Side.SELL, 30, "b"), T0)  # closes 10 at 60000.0, opens 20 short
    [p] = venue.positions(SYM)
    assert p.amount_lots == -20 and p.entry_price == D("60000.0")


def test_funding_settles_at_the_announced_time_with_the_streamed_rate() -> None:
    v = make_venue(maker_fee=D(0), taker_fee=D(0))
    mark(v, "60000", T0 + 1000, rate="0.0001", next_funding=T0 + H8)
    quote(v, 599_999, 600_000, T0 + 1000)
    v.place(market(Side.BUY, 100, "long"), T0 + 2000)  # long 0.1
    v.drain_events()
    mark(v, "61000", T0 + H8 - 1, rate="0.0002", next_funding=T0 + H8)
    v.advance_to(T0 + H8)
    fee = -(D("0.1") * D("61000") * D("0.0002"))
    assert v.balance().wallet_balance == D(10000) + fee  # longs pay a positive rate
    [ev] = v.drain_events()
    assert isinstance(ev, AccountUpdate) and ev.reason == "FUNDING_FEE" and ev.positions == ()
    assert ev.balances[0].balance_change == fee and ev.event_time_ms == T0 + H8
    assert v.income(SYM)[-1].income_type == "FUNDING_FEE"
    assert v.next_funding_time(SYM) == T0 + 2 * H8
    v.advance_to(T0 + H8 + 10)  # no second settlement
    assert v.balance().wallet_balance == D(10000) + fee


def test_shorts_receive_positive_funding_and_settle_on_market_events() -> None:
    v = make_venue(maker_fee=D(0), taker_fee=D(0))
    mark(v, "60000", T0 + 1, rate="0.0001", next_funding=T0 + H8)
    quote(v, 600_000, 600_001, T0 + 1)
    v.place(market(Side.SELL, 100, "short"), T0 + 2)
    quote(v, 600_000, 600_001, T0 + H8 + 5)  # the next market event after the funding time settles it
    assert v.balance().wallet_balance == D(10000) + D("0.1") * D("60000") * D("0.0001")


def test_isolated_funding_lists_the_position() -> None:
    v = make_venue(maker_fee=D(0), taker_fee=D(0))
    v.set_margin_type(SYM, MarginType.ISOLATED)
    mark(v, "60000", T0 + 1, rate="0.0001", next_funding=T0 + H8)
    quote(v, 600_000, 600_001, T0 + 1)
    v.place(market(Side.BUY, 100, "l"), T0 + 2)
    v.drain_events()
    v.advance_to(T0 + H8)
    [ev] = v.drain_events()
    assert (
        isinstance(ev, AccountUpdate) and len(ev.positions) == 1 and ev.positions[0].margin_type == "isolated"
    )


def test_open_orders_reserve_initial_margin(venue: Venue) -> None:
    before = venue.balance().available_balance
    venue.place(limit(Side.BUY, 590_000, 100, "b"), T0)  # 5900 notional / 20 = 295
    assert before - venue.balance().available_balance == D(295)
    venue.place(limit(Side.SELL, 610_000, 50, "s"), T0)  # the smaller side adds nothing
    assert venue.balance().open_order_initial_margin == D(295)


def test_account_update_carries_position_and_wallet(venue: Venue) -> None:
    venue.place(market(Side.BUY, 10, "b"), T0)
    au = next(e for e in venue.drain_events() if isinstance(e, AccountUpdate))
    assert au.reason == "ORDER"
    assert au.balances[0].wallet_balance == venue.balance().wallet_balance
    pc = au.positions[0]
    assert pc.amount_lots == 10 and pc.entry_price == D("60000.1") and pc.margin_type == "cross"
    assert pc.break_even_price > pc.entry_price


@pytest.mark.parametrize("leverage", [1, 125])
def test_leverage_changes_position_initial_margin(venue: Venue, leverage: int) -> None:
    assert venue.set_leverage(SYM, leverage) == leverage
    venue.place(market(Side.BUY, 10, "b"), T0)
    p = venue.positions(SYM)[0]
    assert p.position_initial_margin == (abs(p.notional) / leverage).quantize(D("0.00000001"))


def test_commission_rates_are_the_configured_ones() -> None:
    v = make_venue(maker_fee=D("0.0001"), taker_fee=D("0.0004"))
    assert v.commission_rates(SYM) == (D("0.0001"), D("0.0004"))


def test_funding_defaults_to_the_8h_utc_grid_when_the_stream_gives_no_time() -> None:
    v = make_venue(maker_fee=D(0), taker_fee=D(0))
    mark(v, "60000", T0 + 1000, rate="0.0001")  # next_funding_time 0: not announced
    assert v.next_funding_time(SYM) == T0 + H8  # 08:00 UTC
    quote(v, 599_999, 600_000, T0 + 1000)
    v.place(market(Side.BUY, 100, "long"), T0 + 2000)
    v.advance_to(T0 + H8)
    assert v.balance().wallet_balance == D(10000) - D("0.1") * D("60000") * D("0.0001")
