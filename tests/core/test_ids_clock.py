"""Client order ids and clocks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grinder.core.clock import Clock, VirtualClock, WallClock
from grinder.core.ids import (
    ClientOrderIdFactory,
    is_grinder_order,
    is_valid_client_order_id,
    parse_client_order_id,
)


def test_runbook_shape() -> None:
    ids = ClientOrderIdFactory("s", epoch_s=1234567890)
    cid = ids.next_id("BTCUSDT", "1")
    assert cid == "grinder_s_BTCUSDT_1_1234567890_1"
    assert is_valid_client_order_id(cid) and is_grinder_order(cid)
    parsed = parse_client_order_id(cid)
    assert parsed is not None and (parsed.symbol, parsed.level, parsed.seq) == ("BTCUSDT", "1", "1")


@given(
    symbol=st.from_regex(r"[A-Z0-9]{3,20}", fullmatch=True),
    level=st.from_regex(r"[a-z]{1,2}[0-9]{1,2}", fullmatch=True),
    epoch=st.integers(10**9, 4 * 10**9),
    seq=st.integers(0, 10**9),
    n=st.integers(1, 5),
)
def test_ids_are_valid_unique_and_short(symbol: str, level: str, epoch: int, seq: int, n: int) -> None:
    ids = ClientOrderIdFactory("grid1", epoch_s=epoch, start_seq=seq)
    issued = [ids.next_id(symbol, level) for _ in range(n)]
    assert len(set(issued)) == n
    for cid in issued:
        assert len(cid) <= 36 and is_valid_client_order_id(cid) and is_grinder_order(cid)


def test_ids_differ_across_restarts() -> None:
    a = ClientOrderIdFactory("s", epoch_s=1_700_000_000).next_id("BTCUSDT", "b1")
    b = ClientOrderIdFactory("s", epoch_s=1_700_000_001).next_id("BTCUSDT", "b1")
    assert a != b


def test_bad_tags_are_refused_with_the_rule() -> None:
    with pytest.raises(ValueError, match="no '_'"):
        ClientOrderIdFactory("my_strategy", epoch_s=1)
    with pytest.raises(ValueError, match="level tag"):
        ClientOrderIdFactory("s", epoch_s=1).next_id("BTCUSDT", "bad level")


def test_foreign_ids_are_not_ours() -> None:
    assert not is_grinder_order("web_abc123")
    assert parse_client_order_id("web_abc123") is None


def test_virtual_clock_moves_only_forward() -> None:
    clock = VirtualClock.from_ms(1_000)
    assert isinstance(clock, Clock)
    clock.set_ms(2_000)
    clock.set_ms(1_500)  # stale exchange timestamps never move time backwards
    assert clock.now_ms() == 2_000
    clock.advance_ms(5)
    assert clock.now_ns() == 2_005_000_000
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_ns(-1)


def test_wall_clock_is_a_clock() -> None:
    wall = WallClock()
    assert isinstance(wall, Clock)
    assert abs(wall.now_ms() - wall.now_ns() // 1_000_000) < 1000


def test_extreme_lengths_still_fit_and_stay_unique() -> None:
    ids = ClientOrderIdFactory("strat6", epoch_s=4_000_000_000, start_seq=2 * 10**9)
    issued = {ids.next_id("1000000MOGUSDT", "tp999") for _ in range(3)}
    assert len(issued) == 3
    assert all(len(cid) <= 36 and is_valid_client_order_id(cid) for cid in issued)
