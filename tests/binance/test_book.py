"""Local order book: the USDⓈ-M sync rules, never serving an out-of-sync book, and real captures."""

from __future__ import annotations

import pytest

from grinder.binance.book import BookState, LocalOrderBook
from grinder.binance.errors import BookNotSynced
from grinder.core.events import BookTicker, DepthSnapshot, DepthUpdate
from tests.binance.conftest import decoded_capture


def diff(U: int, u: int, pu: int, bids: tuple[tuple[int, int], ...] = (), asks: tuple[tuple[int, int], ...] = ()
         ) -> DepthUpdate:
    return DepthUpdate("BTCUSDT", U, u, pu, bids, asks, u, u)


def snap(last: int, bids: tuple[tuple[int, int], ...] = ((100, 1), (99, 2)),
         asks: tuple[tuple[int, int], ...] = ((101, 1), (102, 3))) -> DepthSnapshot:
    return DepthSnapshot("BTCUSDT", last, bids, asks, 0, 0)


def test_not_synced_book_is_never_served() -> None:
    book = LocalOrderBook("BTCUSDT")
    assert not book.is_synced
    with pytest.raises(BookNotSynced, match="not in sync"):
        book.best_bid()
    with pytest.raises(BookNotSynced):
        book.asks(5)


def test_buffered_diffs_replay_onto_snapshot() -> None:
    book = LocalOrderBook("BTCUSDT")
    assert book.on_diff(diff(1, 5, 0, bids=((100, 9),)))  # older than snapshot: dropped
    assert book.on_diff(diff(6, 12, 5, bids=((100, 7),)))  # spans lastUpdateId 10: first applied
    assert book.on_diff(diff(13, 15, 12, asks=((101, 0),)))  # chained on pu
    assert book.apply_snapshot(snap(10))
    assert book.is_synced and book.last_update_id == 15
    assert book.best_bid() == (100, 7)
    assert book.best_ask() == (102, 3)  # 101 removed
    assert book.bids(5) == [(100, 7), (99, 2)]


def test_snapshot_then_first_diff_must_span_it() -> None:
    book = LocalOrderBook("BTCUSDT")
    book.on_diff(diff(20, 25, 19))
    # Snapshot older than every buffered diff: cannot bridge, fetch again.
    assert not book.apply_snapshot(snap(10))
    assert book.needs_snapshot and book.buffered == 1
    # Newer snapshot, no buffered diff reaches it: waits for the first spanning diff.
    assert book.apply_snapshot(snap(30))
    assert book.state is BookState.AWAITING_FIRST_DIFF and not book.is_synced
    assert not book.on_diff(diff(26, 29, 25))  # u < 30: dropped
    assert not book.on_diff(diff(30, 33, 29, bids=((100, 4),)))
    assert book.is_synced and book.best_bid() == (100, 4)


def test_gap_discards_book_and_asks_for_snapshot() -> None:
    book = LocalOrderBook("BTCUSDT")
    book.on_diff(diff(9, 11, 8))
    book.apply_snapshot(snap(10))
    assert book.is_synced
    assert not book.on_diff(diff(12, 14, 11))
    assert not book.on_diff(diff(12, 14, 11))  # exact repeat (after a reconnect): ignored
    assert book.on_diff(diff(20, 22, 19))  # pu != 14: gap
    assert not book.is_synced and book.resyncs == 1
    with pytest.raises(BookNotSynced):
        book.best_bid()
    assert book.apply_snapshot(snap(21, bids=((90, 1),)))
    assert book.is_synced and book.best_bid() == (90, 1) and book.last_update_id == 22


def test_removing_unknown_level_and_emptied_side() -> None:
    book = LocalOrderBook("BTCUSDT")
    book.apply_snapshot(snap(1, bids=((100, 1),), asks=()))
    book.on_diff(diff(1, 2, 0, bids=((100, 0), (55, 0))))
    assert book.is_synced and book.best_bid() is None and book.best_ask() is None


def _replay(symbol: str, drop: set[int] | None = None) -> None:
    """Build the book from a capture; bookTicker must agree whenever update ids line up."""
    book = LocalOrderBook(symbol)
    lined = 0
    for ev in decoded_capture(symbol):
        if isinstance(ev, DepthSnapshot):
            assert book.apply_snapshot(ev)
        elif isinstance(ev, DepthUpdate):
            book.on_diff(ev)
            assert book.is_synced or book.last_update_id == 0, f"lost sync at u={ev.final_update_id}"
        elif isinstance(ev, BookTicker) and book.is_synced and ev.update_id == book.last_update_id:
            lined += 1
            assert book.best_bid() == (ev.bid_ticks, ev.bid_lots)
            assert book.best_ask() == (ev.ask_ticks, ev.ask_lots)
    assert book.is_synced and book.resyncs == 0
    assert lined > 50  # the check really ran


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_capture_book_stays_in_sync(symbol: str) -> None:
    _replay(symbol)


def test_capture_injected_gap_resyncs_to_identical_book() -> None:
    """Drop one diff mid-capture: the book notices, resyncs from a snapshot, then equals the reference."""
    symbol = "BTCUSDT"
    ref, gapped = LocalOrderBook(symbol), LocalOrderBook(symbol)
    n_diff = 0
    pending_snapshot_at: int | None = None
    for ev in decoded_capture(symbol):
        if isinstance(ev, DepthSnapshot):
            ref.apply_snapshot(ev)
            gapped.apply_snapshot(ev)
            continue
        if not isinstance(ev, DepthUpdate):
            continue
        n_diff += 1
        ref.on_diff(ev)
        if n_diff == 3000:
            continue  # the injected gap
        if gapped.on_diff(ev) and n_diff > 3000 and pending_snapshot_at is None:
            pending_snapshot_at = n_diff + 3  # the REST snapshot arrives a few diffs later
        if pending_snapshot_at == n_diff:
            full = DepthSnapshot(symbol, ref.last_update_id, tuple(ref.bids(10**6)), tuple(ref.asks(10**6)), 0, 0)
            assert gapped.apply_snapshot(full)
            pending_snapshot_at = None
        if n_diff > 3010 and n_diff % 100 == 0 and gapped.is_synced:
            assert gapped.bids(50) == ref.bids(50) and gapped.asks(50) == ref.asks(50)
    assert gapped.resyncs == 1 and gapped.is_synced
    assert gapped.bids(10**6) == ref.bids(10**6) and gapped.asks(10**6) == ref.asks(10**6)
