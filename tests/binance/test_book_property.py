"""Property: whatever is dropped or repeated, a synced book equals the exchange's book at its update id."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.binance.book import LocalOrderBook
from grinder.core.events import DepthSnapshot, DepthUpdate

levels = st.lists(st.tuples(st.integers(1, 15), st.integers(0, 4)), max_size=4)
diff_spec = st.tuples(levels, levels, st.sampled_from(["deliver", "deliver", "deliver", "drop", "repeat"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(diff_spec, min_size=1, max_size=40), st.integers(0, 3))
def test_synced_book_always_equals_exchange_state(specs: list[tuple[list[tuple[int, int]], list[tuple[int, int]],
                                                                    str]], snapshot_lag: int) -> None:
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    history: dict[int, tuple[dict[int, int], dict[int, int]]] = {0: ({}, {})}
    book = LocalOrderBook("BTCUSDT")
    waiting_since: int | None = None
    for k, (b, a, fate) in enumerate(specs, start=1):
        ask_levels = [(p + 100, q) for p, q in a]
        for side, changes in ((bids, b), (asks, ask_levels)):
            for p, q in changes:
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)
        u = 10 * k
        history[u] = (dict(bids), dict(asks))
        ev = DepthUpdate("BTCUSDT", u - 9, u, u - 10, tuple(b), tuple(ask_levels), u, u)
        if fate != "drop":
            for _ in range(2 if fate == "repeat" else 1):
                if book.on_diff(ev) and waiting_since is None:
                    waiting_since = k
        # The REST snapshot lands `snapshot_lag` diffs after the book asked for one.
        if waiting_since is not None and k >= waiting_since + snapshot_lag:
            sb, sa = history[u]
            snap = DepthSnapshot("BTCUSDT", u, tuple(sorted(sb.items(), reverse=True)), tuple(sorted(sa.items())),
                                 0, 0)
            book.apply_snapshot(snap)
            waiting_since = None if not book.needs_snapshot else k
        if book.is_synced:
            eb, ea = history[book.last_update_id]
            assert dict(book.bids(100)) == eb and dict(book.asks(100)) == ea
            best_bid = max(eb) if eb else None
            assert book.best_bid() == (None if best_bid is None else (best_bid, eb[best_bid]))
