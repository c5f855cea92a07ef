"""The order-rate budget never lets any window exceed Binance's ORDERS limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.risk.rate import OrderRateBudget, TokenBucket


def test_bucket_burst_and_refill_are_exact() -> None:
    b = TokenBucket(300, 10_000)
    assert b.available(0) == 150
    assert b.take(0, 150) and not b.take(0)
    assert b.available(1_000) == 15  # 15 tokens per second
    assert b.available(1_000_000) == 150  # capped at the burst


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=400))
def test_no_sliding_window_exceeds_the_limits(gaps: list[int]) -> None:
    budget = OrderRateBudget(orders_per_10s=30, orders_per_minute=100)
    now = 0
    sent: list[int] = []
    for gap in gaps:
        now += gap
        while budget.take(now):  # greedy: send everything the budget allows
            sent.append(now)
    for i, t in enumerate(sent):
        in_10s = sum(1 for u in sent[i:] if u < t + 10_000)
        in_1m = sum(1 for u in sent[i:] if u < t + 60_000)
        assert in_10s <= 30 and in_1m <= 100
