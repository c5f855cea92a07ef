"""Reports say what was run and what the figures can support: trades, config, balance, dates, ratios."""

from __future__ import annotations

from decimal import Decimal

from grinder.backtest.engine import Backtest
from grinder.backtest.report import html_report, summary_rows
from grinder.backtest.results import summarize
from tests.backtest.conftest import reference_run_configs
from tests.backtest.test_funding_files import _tape


def test_short_run_reports_trades_config_dates_and_no_annualised_ratios() -> None:
    tape = _tape()
    log = Backtest(tape, **reference_run_configs()).run()
    res = summarize(tape, log, initial_balance=Decimal(10**9), bar_ms=1000, sharpe_bar_ms=60_000)
    s = res.summary
    # ten minutes of data: annualised Sharpe/Sortino would be noise, so they are n/a with the reason
    assert s["sharpe_annualized"] is None and s["sortino_annualized"] is None
    assert s["risk_ratios_note"].startswith("n/a: ") and ">= 30 returns" in s["risk_ratios_note"]
    rows = dict(summary_rows(res))
    assert rows["Sharpe (annualised)"] == "n/a (see risk ratios)"
    assert rows["initial balance (USDT)"] == "1000000000"
    assert rows["period (UTC)"] == "2024-01-01 07:50:00 → 2024-01-01 08:00:00"
    [trade] = res.trades
    assert trade["time"] == "2024-01-01T07:50:00.002+00:00"
    assert (trade["side"], trade["price"], trade["qty"]) == ("BUY", "59940.00", "0.010")
    page = html_report(res, config={"grid": {"levels": 5}, "venue": {"initial_balance": "1000000000"}})
    assert "<h2>Trades</h2>" in page and "59940.00" in page
    assert "<h2>Configuration</h2>" in page and "initial_balance" in page
    assert "2024-01-01 07:5" in page  # time axes carry the date
