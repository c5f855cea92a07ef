"""Unit tests of the simulator's pure parts: signing, limits, fault plan, synthetic market, book."""

from __future__ import annotations

import pytest

from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.sim.auth import merge_params, sign, signed_payload
from grinder.sim.book import SymbolBook
from grinder.sim.errors import ApiError
from grinder.sim.faults import FaultPlan
from grinder.sim.inputs import BookDiff, BookReset, TradePrint
from grinder.sim.ratelimit import RateLimiter, RateLimitSpec
from grinder.sim.synthetic import SyntheticMarket

RULES = {"BTCUSDT": btcusdt_rules(), "ETHUSDT": ethusdt_rules()}


def test_signature_matches_the_documented_vector() -> None:
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    message = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    assert sign(secret, message) == "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_signed_payload_is_query_then_body_without_signature() -> None:
    assert signed_payload("a=1&b=2", "c=3&signature=ff") == ("a=1&b=2c=3", "ff")
    assert signed_payload("a=1&signature=ee", "c=3") == ("a=1c=3", "ee")
    assert signed_payload("", "c=3") == ("c=3", None)
    assert merge_params("side=BUY", "side=SELL&qty=1") == {"side": "BUY", "qty": "1"}


def test_rate_limiter_windows_and_ban_escalation() -> None:
    lim = RateLimiter(RateLimitSpec(weight_1m=3, orders_10s=2, orders_1m=3, ban_after=2, ban_initial_ms=1000))
    t = 120_000
    assert [lim.charge("ip", 1, t) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ApiError) as first:
        lim.charge("ip", 1, t)
    assert (first.value.code, first.value.http_status) == (-1003, 429)
    with pytest.raises(ApiError):
        lim.charge("ip", 1, t)  # second refusal: banned for 1 s
    with pytest.raises(ApiError) as ban:
        lim.charge("ip", 1, t + 500)
    assert ban.value.http_status == 418
    assert lim.charge("other", 1, t) == 1  # per IP
    assert lim.charge("ip", 1, t + 60_000) == 1  # new minute, ban over
    assert lim.charge_orders("ip", 1, 1, t) == (1, 1)
    assert lim.charge_orders("ip", 1, 1, t) == (2, 2)
    with pytest.raises(ApiError) as orders:
        lim.charge_orders("ip", 1, 1, t)
    assert (orders.value.code, orders.value.msg) == (
        -1015,
        "Too many new orders; current limit is 2 orders per 10 SECOND.",
    )
    assert lim.charge_orders("ip", 1, 1, t + 10_000) == (1, 3)
    with pytest.raises(ApiError) as minute:
        lim.charge_orders("ip", 1, 1, t + 20_000)
    assert "per 1 MINUTE" in minute.value.msg


def test_fault_plan_validates_and_counts() -> None:
    plan = FaultPlan()
    plan.update({"unknown_after_execute": 2, "reject_rate": 1})  # ints accepted for floats
    assert [plan.take_unknown_after() for _ in range(3)] == [True, True, False]
    assert plan.take_reject()
    with pytest.raises(ValueError, match="unknown fault 'nope'"):
        plan.update({"nope": 1})
    with pytest.raises(ValueError, match="needs a int"):
        plan.update({"delay_ms": "10"})
    plan.update({"depth_gaps": 1, "depth_gap_symbol": "ETHUSDT"})
    assert not plan.take_depth_gap("BTCUSDT")
    assert plan.take_depth_gap("ETHUSDT")
    assert not plan.take_depth_gap("ETHUSDT")


def test_fault_rates_are_reproducible_under_a_seed() -> None:
    def draws(seed: int) -> list[bool]:
        plan = FaultPlan()
        plan.update({"seed": seed, "duplicate_user_event_rate": 0.3})
        return [plan.take_duplicate() for _ in range(50)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    assert 5 < sum(draws(3)) < 25


def test_synthetic_market_is_deterministic_and_sane() -> None:
    def run(seed: int) -> list[object]:
        market = SyntheticMarket(RULES, seed=seed, step_ms=100, start_time_ms=0)
        batches = [market.opening()] + [market.step() for _ in range(300)]
        return [b.inputs for b in batches]

    a, b = run(11), run(11)
    assert a == b
    assert a != run(12)
    book = SymbolBook("BTCUSDT")
    trades = 0
    for inputs in a:
        for item in inputs:
            if isinstance(item, BookReset) and item.snapshot.symbol == "BTCUSDT":
                book.load(item.snapshot)
            elif isinstance(item, BookDiff) and item.symbol == "BTCUSDT":
                book.apply(item.bids, item.asks, 0, 0)
                (bid, _), (ask, _) = book.best_bid, book.best_ask
                assert 0 < bid < ask, "the synthetic book never crosses"
            elif isinstance(item, TradePrint) and item.symbol == "BTCUSDT":
                trades += 1
                assert item.qty_lots > 0
    assert trades > 50
    assert len(book.bids) == len(book.asks) == 60  # the synthetic book stays 60 levels deep


def test_book_numbers_every_change() -> None:
    book = SymbolBook("BTCUSDT", first_update_id=100)
    d1 = book.apply([(10, 5), (9, 2)], [(11, 1)], 1, 1)
    assert (d1.first_update_id, d1.final_update_id, d1.prev_final_update_id) == (101, 103, 100)
    d2 = book.apply([(10, 0)], [], 2, 2)
    assert (d2.first_update_id, d2.final_update_id, d2.prev_final_update_id) == (104, 104, 103)
    assert book.best_bid == (9, 2)
    assert book.best_ask == (11, 1)
    d3 = book.apply([], [(11, 0)], 3, 3, ids=(500, 510))
    assert (d3.first_update_id, d3.final_update_id, d3.prev_final_update_id) == (500, 510, 104)
    assert book.best_ask == (0, 0)
    assert book.snapshot(5, 3, 3).last_update_id == 510


def test_wire_format_matches_symbol_rules() -> None:
    from grinder.sim.render import wire
    from grinder.sim.server import default_rules

    for rules in (*RULES.values(), default_rules("SOLUSDT")):
        f = wire(rules)
        for n in (0, 1, 7, 10, 99, 12_345, 600_001, 10**12 + 3):
            assert f.price(n) == rules.price_str(n)
            assert f.qty(n) == rules.qty_str(n)
        assert f.qty(-1234) == "-" + rules.qty_str(1234)


def test_sim_config_refuses_bad_values() -> None:
    from grinder.sim.config import SimConfig

    with pytest.raises(ValueError, match=r"sim\.speed=-1"):
        SimConfig(speed=-1)
    with pytest.raises(ValueError, match=r"sim\.symbols is empty"):
        SimConfig(symbols=())
    with pytest.raises(ValueError, match=r"sim\.orders_limit_10s=0"):
        SimConfig(orders_limit_10s=0)
