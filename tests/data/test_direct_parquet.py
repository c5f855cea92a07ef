"""`load_tape`'s direct Parquet path gives exactly the general path's tape, errors and fallbacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import grinder.data.sources as sources
from grinder.data import DataError, Tape, load_tape

COLS = ("time_ms", "kind", "sym", "a", "b", "qa", "qb", "ident", "event_ms")


def general(paths: list[Path], monkeypatch: pytest.MonkeyPatch) -> Tape:
    with monkeypatch.context() as mp:
        mp.setattr(sources, "load_public_parquet", lambda *a, **k: None)
        return load_tape(paths)


def assert_same(x: Tape, y: Tape) -> None:
    for c in COLS:
        u, v = getattr(x, c), getattr(y, c)
        assert u.dtype == v.dtype and np.array_equal(u, v), c
    assert (x.symbols, x.rules, x.sources, x.objects) == (y.symbols, y.rules, y.sources, y.objects)


def quotes(path: Path, n: int, t0: int, seed: int, price: float = 60000.0, step_t: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    bid = np.round(price + np.cumsum(rng.integers(-3, 4, n)) * 0.1, 1)
    pq.write_table(
        pa.table(
            {
                "update_id": np.arange(n, dtype=np.int64) + 10**12,
                "best_bid_price": bid,
                "best_bid_qty": rng.integers(1, 5000, n) / 1000,
                "best_ask_price": np.round(bid + 0.1 * rng.integers(1, 4, n), 1),
                "best_ask_qty": rng.integers(1, 5000, n) / 1000,
                "transaction_time": t0 + np.cumsum(rng.integers(0, step_t, n)),
                "event_time": t0 + np.cumsum(rng.integers(0, step_t, n)) + 2,
            }
        ),
        path,
        row_group_size=max(1, n // 3),
    )
    return path


def trades(path: Path, n: int, t0: int, seed: int, price: float = 60000.0) -> Path:
    rng = np.random.default_rng(seed)
    pq.write_table(
        pa.table(
            {
                "agg_trade_id": np.arange(n, dtype=np.int64) + 5 * 10**9,
                "price": np.round(price + np.cumsum(rng.integers(-3, 4, n)) * 0.1, 1),
                "quantity": rng.integers(1, 900, n) / 1000,
                "first_trade_id": np.arange(n, dtype=np.int64),
                "last_trade_id": np.arange(n, dtype=np.int64),
                "transact_time": t0 + np.cumsum(rng.integers(0, 7, n)),
                "is_buyer_maker": rng.random(n) < 0.5,
            }
        ),
        path,
        row_group_size=max(1, n // 2),
    )
    return path


T0 = 1_704_067_200_000


def test_same_tape_as_the_general_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [
        quotes(tmp_path / "BTCUSDT-bookTicker-2024-01-01.parquet", 5000, T0, 1),
        trades(tmp_path / "BTCUSDT-aggTrades-2024-01-01.parquet", 2000, T0, 2),
    ]
    fast = load_tape(paths)
    assert len(fast) == 7000 and fast.a.dtype == np.int32
    assert bool((fast.time_ms[1:] >= fast.time_ms[:-1]).all())
    assert_same(fast, general(paths, monkeypatch))


def test_two_symbols_and_an_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [
        quotes(tmp_path / "BTCUSDT-bookTicker-2024-01-01.parquet", 3000, T0, 3),
        quotes(tmp_path / "ETHUSDT-bookTicker-2024-01-01.parquet", 2500, T0, 4, price=2500.0),
        trades(tmp_path / "ETHUSDT-aggTrades-2024-01-01.parquet", 0, T0, 5, price=2500.0),
    ]
    fast = load_tape(paths)
    assert fast.symbols == ("BTCUSDT", "ETHUSDT") and set(fast.sym.tolist()) == {0, 1}
    assert_same(fast, general(paths, monkeypatch))


def test_unsorted_file_falls_back_to_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = quotes(tmp_path / "BTCUSDT-bookTicker-2024-01-01.parquet", 100, T0, 6)
    t = pq.read_table(p)
    times = t.column("transaction_time").to_numpy()[::-1].copy()
    pq.write_table(t.set_column(5, "transaction_time", pa.array(times)), p)
    fast = load_tape([p])
    assert bool((fast.time_ms[1:] >= fast.time_ms[:-1]).all())
    assert_same(fast, general([p], monkeypatch))


def test_off_grid_price_names_file_column_and_row(tmp_path: Path) -> None:
    p = quotes(tmp_path / "BTCUSDT-bookTicker-2024-01-01.parquet", 90, T0, 7)
    t = pq.read_table(p)
    bid = t.column("best_bid_price").to_numpy().copy()
    bid[70] += 0.05
    pq.write_table(t.set_column(1, "best_bid_price", pa.array(bid)), p, row_group_size=30)
    with pytest.raises(DataError, match=r"best_bid_price .* at row 70 .*--rules"):
        load_tape([p])


def test_empty_values_are_refused(tmp_path: Path) -> None:
    p = trades(tmp_path / "BTCUSDT-aggTrades-2024-01-01.parquet", 10, T0, 8)
    t = pq.read_table(p)
    qty = pa.array([None if i == 4 else 0.001 for i in range(10)], pa.float64())
    pq.write_table(t.set_column(2, "quantity", qty), p)
    with pytest.raises(DataError, match=r"column quantity has empty values"):
        load_tape([p])


def test_public_parquet_takes_the_direct_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [quotes(tmp_path / "BTCUSDT-bookTicker-2024-01-01.parquet", 50, T0, 9)]
    calls: list[Tape | None] = []
    real = sources.load_public_parquet

    def spy(*a: object, **k: object) -> Tape | None:
        calls.append(real(*a, **k))  # type: ignore[arg-type]
        return calls[-1]

    monkeypatch.setattr(sources, "load_public_parquet", spy)
    load_tape(paths)
    assert len(calls) == 1 and calls[0] is not None


def test_trades_layout_matches_the_general_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 400
    rng = np.random.default_rng(10)
    p = tmp_path / "BTCUSDT-trades-2024-01-01.parquet"
    pq.write_table(
        pa.table(
            {
                "id": np.arange(n, dtype=np.int64) + 7 * 10**9,
                "price": np.round(60000.0 + np.cumsum(rng.integers(-3, 4, n)) * 0.1, 1),
                "qty": rng.integers(1, 900, n) / 1000,
                "quote_qty": np.zeros(n),
                "time": T0 + np.cumsum(rng.integers(0, 5, n)),
                "is_buyer_maker": rng.random(n) < 0.5,
            }
        ),
        p,
        row_group_size=150,
    )
    paths = [p, quotes(tmp_path / "BTCUSDT-bookTicker-2024-01-01.parquet", 300, T0, 11)]
    fast = load_tape(paths)
    assert fast.counts()["trades"] == n
    assert_same(fast, general(paths, monkeypatch))
