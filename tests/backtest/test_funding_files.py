"""Funding from Binance's funding-rate history, and "unknown" (never 0) when nothing covers a position."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from grinder.backtest.engine import Backtest
from grinder.backtest.results import summarize
from grinder.cli import main
from grinder.core.rules import btcusdt_rules
from grinder.data import DataError
from grinder.data.funding import load_funding
from grinder.data.tape import QUOTE, TRADE_SELL_AGGR, Tape
from tests.backtest.conftest import reference_run_configs
from tests.fixtures.paths import capture_path

T0 = 1_704_095_400_000  # 2024-01-01 07:50 UTC
FUNDING_AT = 1_704_096_000_000  # 08:00 UTC, on the 00/08/16 UTC grid


def _tape(end_ms: int = FUNDING_AT + 9) -> Tape:
    rows = [  # (kind, bid, ask, time): no mark-price stream
        (QUOTE, 599_999, 600_001, T0),  # anchor 60000.0: buys at 59940.0, ...
        (TRADE_SELL_AGGR, 599_400, 599_400, T0 + 2),  # fills b1: long 0.01 BTC
        (QUOTE, 599_500, 599_502, FUNDING_AT - 1),  # mid 59950.1 at the funding time
        (QUOTE, 599_500, 599_502, FUNDING_AT + 5),
        (QUOTE, 599_501, 599_502, end_ms),
    ]
    n = len(rows)
    return Tape(
        symbols=("BTCUSDT",),
        rules=(btcusdt_rules(),),
        time_ms=np.array([r[3] for r in rows], np.int64),
        kind=np.array([r[0] for r in rows], np.int8),
        sym=np.zeros(n, np.int16),
        a=np.array([r[1] for r in rows], np.int32),
        b=np.array([r[2] for r in rows], np.int32),
        qa=np.ones(n, np.int32),
        qb=np.ones(n, np.int32),
        ident=np.arange(n, dtype=np.int64),
        event_ms=np.array([r[3] for r in rows], np.int64),
        objects=[],
    )


def _csv(tmp_path: Path, rows: list[tuple[int, str]], header: bool = True) -> Path:
    p = tmp_path / "BTCUSDT-fundingRate-2024-01.csv"
    lines = (["calc_time,funding_interval_hours,last_funding_rate"] if header else []) + [
        f"{t},8,{r}" for t, r in rows
    ]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_funding_rate_file_charges_a_position_held_across_the_funding_time(tmp_path: Path) -> None:
    path = _csv(tmp_path, [(FUNDING_AT - 8 * 3_600_000, "0.0003"), (FUNDING_AT, "0.0001")])
    funding = load_funding([path])
    tape = _tape()
    log = Backtest(tape, **reference_run_configs(), funding=funding).run()
    assert [(f.fill.side.sign, f.fill.qty_lots) for f in log.fills] == [(1, 10)]
    # long 0.010 BTC x mid 59950.1 (no mark stream: the L1 mid stands in) x 0.0001 = 0.0599501 paid;
    # the earlier rate (before the run) is not charged
    assert log.funding == [(FUNDING_AT, "BTCUSDT", Decimal("-0.05995010"))]
    res = summarize(tape, log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    assert Decimal(res.summary["funding_usdt"]) == Decimal("-0.0599501")
    assert res.summary["funding_status"] == "settled from the funding-rate file"


def test_without_rates_funding_is_unknown_not_zero() -> None:
    tape = _tape()
    log = Backtest(tape, **reference_run_configs()).run()
    assert log.funding == []
    assert log.funding_unknown == [("BTCUSDT", FUNDING_AT, 10)]
    res = summarize(tape, log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    assert res.summary["funding_usdt"] is None and res.symbols["BTCUSDT"]["funding_usdt"] is None
    status = res.summary["funding_status"]
    assert status.startswith("unknown: no funding rate for BTCUSDT held 0.010 at 2024-01-01 08:00 UTC")
    assert "--funding" in status


def test_a_run_that_crosses_no_funding_time_knows_its_funding_is_zero() -> None:
    tape = _tape().slice(3)  # ends before 04:00
    log = Backtest(tape, **reference_run_configs()).run()
    res = summarize(tape, log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    assert res.summary["funding_usdt"] == "0"
    assert res.summary["funding_status"] == "none due: no funding time in the run"


def test_rest_history_json_and_headerless_csv(tmp_path: Path) -> None:
    j = tmp_path / "rates.json"
    j.write_text(
        json.dumps(
            [{"symbol": "ETHUSDT", "fundingRate": "-0.00005", "fundingTime": FUNDING_AT, "markPrice": "2300.5"}]
        )
    )
    c = _csv(tmp_path, [(FUNDING_AT, "0.0001")], header=False)
    rates = load_funding([j, c])
    assert [(r.time_ms, r.rate, r.mark_price) for r in rates["ETHUSDT"]] == [
        (FUNDING_AT, Decimal("-0.00005"), Decimal("2300.5"))
    ]
    assert [(r.time_ms, r.rate) for r in rates["BTCUSDT"]] == [(FUNDING_AT, Decimal("0.0001"))]


def test_bad_funding_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "BTCUSDT-fundingRate-2024-01.csv"
    bad.write_text("calc_time,funding_interval_hours,last_funding_rate\n1704096000000,8,abc\n")
    with pytest.raises(DataError, match="last_funding_rate 'abc' is not a number"):
        load_funding([bad])
    rc = main(["backtest", "--data", str(capture_path("btcusdt_20240808.gz")), "--funding", str(bad), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "is not a number" in err


def test_cli_funding_file_on_the_real_captures(tmp_path: Path) -> None:
    """The captures cross 2024-08-09 00:00 UTC holding a position: unknown without rates, charged with them."""
    midnight = 1_723_161_600_000
    files = []
    for sym in ("BTCUSDT", "ETHUSDT"):
        p = tmp_path / f"{sym}-fundingRate-2024-08.csv"
        p.write_text(f"calc_time,funding_interval_hours,last_funding_rate\n{midnight},8,0.0001\n")
        files.append(str(p))
    data = [str(capture_path("btcusdt_20240808.gz")), str(capture_path("ethusdt_20240808.gz"))]
    out = tmp_path / "with.json"
    assert main(["backtest", "--data", *data, "--funding", *files, "--quiet", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["summary"]["funding_status"] == "settled from the funding-rate file"
    paid = Decimal(doc["summary"]["funding_usdt"])
    assert paid != 0  # positions were open at midnight
    held = {s: v["final_position_qty"] for s, v in doc["symbols"].items()}
    assert any(held.values())
