"""Binance public-data files: header detection, layouts, zip/Parquet, exact ticks, clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from grinder.core.rules import btcusdt_rules
from grinder.data import DataError, load_quotes, load_tape, load_trades, sniff_csv
from grinder.data.binance_files import to_units

BT_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time\n"
BT_ROWS = (
    "4000000000036,60000.2,3.640,60000.5,0.704,1704067200000,1704067200002\n"
    "4000000000054,59999.3,1.224,59999.4,4.526,1704067200091,1704067200094\n"
)
AT_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
AT_ROWS = (
    "2000000000,60000.2,0.138,5000000001,5000000003,1704067200008,true\n"
    "2000000001,59999.4,0.015,5000000004,5000000004,1704067200120,false\n"
)
TR_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker\n"
TR_ROWS = "5000000001,60000.2,0.100,6000.02,1704067200008,true\n"


def write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


@pytest.mark.parametrize("header", [True, False])
def test_book_ticker_csv_with_and_without_header(tmp_path: Path, header: bool) -> None:
    p = write(tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv", (BT_HEADER if header else "") + BT_ROWS)
    assert sniff_csv(p) == ("bookTicker", header, 7)
    q = load_quotes(p, btcusdt_rules())
    assert q.bid.tolist() == [600002, 599993]
    assert q.ask.tolist() == [600005, 599994]
    assert q.bid_qty.tolist() == [3640, 1224]
    assert q.time_ms.tolist() == [1704067200000, 1704067200091]
    assert q.event_ms.tolist() == [1704067200002, 1704067200094]
    assert q.update_id.tolist() == [4000000000036, 4000000000054]


@pytest.mark.parametrize("header", [True, False])
def test_agg_trades_and_trades_layouts(tmp_path: Path, header: bool) -> None:
    # headerless files named without the data type are told apart by column count and last field
    agg = write(tmp_path / "BTCUSDT-x-agg.csv", (AT_HEADER if header else "") + AT_ROWS)
    tr = write(tmp_path / "BTCUSDT-x-raw.csv", (TR_HEADER if header else "") + TR_ROWS)
    assert sniff_csv(agg)[0] == "aggTrades"
    assert sniff_csv(tr)[0] == "trades"
    t = load_trades(agg, btcusdt_rules())
    assert t.price.tolist() == [600002, 599994]
    assert t.qty.tolist() == [138, 15]
    assert t.buyer_is_maker.tolist() == [True, False]
    assert t.trade_id.tolist() == [2000000000, 2000000001]
    r = load_trades(tr, btcusdt_rules())
    assert r.price.tolist() == [600002] and r.qty.tolist() == [100] and r.time_ms.tolist() == [1704067200008]


def test_zip_and_parquet_match_csv(tmp_path: Path) -> None:
    csv = write(tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv", BT_HEADER + BT_ROWS)
    zpath = tmp_path / "BTCUSDT-bookTicker-2024-01-02.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(csv, "BTCUSDT-bookTicker-2024-01-02.csv")
    table = pa.table(
        {
            "update_id": [4000000000036, 4000000000054],
            "best_bid_price": [60000.2, 59999.3],
            "best_bid_qty": [3.64, 1.224],
            "best_ask_price": [60000.5, 59999.4],
            "best_ask_qty": [0.704, 4.526],
            "transaction_time": [1704067200000, 1704067200091],
            "event_time": [1704067200002, 1704067200094],
        }
    )
    ppath = tmp_path / "BTCUSDT-bookTicker-2024-01-03.parquet"
    pq.write_table(table, ppath)
    a, b, c = (load_quotes(p, btcusdt_rules()) for p in (csv, zpath, ppath))
    for name in ("bid", "ask", "bid_qty", "ask_qty", "time_ms", "event_ms", "update_id"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist() == getattr(c, name).tolist()


def test_off_grid_price_is_refused_with_row_and_fix(tmp_path: Path) -> None:
    p = write(
        tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv",
        BT_HEADER + BT_ROWS + BT_ROWS.replace("60000.2", "60000.25"),
    )
    with pytest.raises(DataError, match=r"best_bid_price 60000\.25 at row 2 .*--rules"):
        load_quotes(p, btcusdt_rules())


def test_unknown_header_and_empty_file_are_explained(tmp_path: Path) -> None:
    bad = write(tmp_path / "BTCUSDT-bookTicker-x.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="unknown header"):
        sniff_csv(bad)
    empty = write(tmp_path / "BTCUSDT-aggTrades-x.csv", "")
    with pytest.raises(DataError, match="empty"):
        sniff_csv(empty)
    with pytest.raises(DataError, match="does not exist"):
        load_tape([tmp_path / "nope.csv"])


def test_unknown_symbol_needs_rules(tmp_path: Path) -> None:
    p = write(tmp_path / "DOGEUSDT-bookTicker-2024-01-01.csv", BT_HEADER + BT_ROWS)
    with pytest.raises(DataError, match="exchangeInfo"):
        load_tape([p])


def test_to_units_is_exact_over_many_decimals() -> None:
    rng = np.random.default_rng(3)
    ticks = rng.integers(1, 10**9, 200_000)
    prices = ticks / 10.0  # the nearest double of each one-decimal price, as a CSV reader makes it
    from decimal import Decimal

    assert (to_units(prices, Decimal("0.1"), "p", "w") == ticks).all()
    with pytest.raises(DataError, match=r"not a multiple of 0\.2"):
        to_units(np.array([0.2, 0.3]), Decimal("0.2"), "p", "w")


def test_tape_merges_by_exchange_time_and_rebuilds_core_events(tmp_path: Path) -> None:
    write(tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv", BT_HEADER + BT_ROWS)
    write(tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv", AT_HEADER + AT_ROWS)
    tape = load_tape([tmp_path])
    assert tape.time_ms.tolist() == [1704067200000, 1704067200008, 1704067200091, 1704067200120]
    evs = list(tape.events())
    assert [type(e).__name__ for e in evs] == ["BookTicker", "Trade", "BookTicker", "Trade"]
    assert evs[1].price_ticks == 600002 and evs[1].buyer_is_maker is True  # type: ignore[union-attr]
    assert evs[2].ask_ticks == 599994 and evs[2].event_time_ms == 1704067200094  # type: ignore[union-attr]
    assert tape.counts() == {"quotes": 2, "trades": 2, "other": 0}
