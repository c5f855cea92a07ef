"""`grinder optimize --demo`: generated data, a walk-forward study per window on a local Dask cluster,
the chosen parameters re-run in- and out-of-sample, and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grinder.cli import main
from grinder.optimize.windows import DAY_MS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_demo_walk_forward_reports_in_and_out_of_sample_per_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    argv = ["optimize", "--demo", "--out", str(out), "--trials", "3", "--workers", "1", "--quiet"]
    assert main([*argv, "--json", str(out / "result.json")]) == 0
    printed = capsys.readouterr().out
    assert "report: " in printed and "study demo: 6 complete trial(s), 6 run by this process" in printed

    doc = json.loads((out / "result.json").read_text())
    studies = doc["studies"]
    assert [s["name"] for s in studies] == ["demo-wf0", "demo-wf1"]  # 4 days, 2/1: two windows
    for s in studies:
        train, test = s["train"], s["test"]
        assert train[1] - train[0] == 2 * DAY_MS and test == [train[1], train[1] + DAY_MS]
        assert s["complete_trials"] == 3 and s["pareto"]
        chosen = s["chosen"]
        assert chosen["number"] in {p["number"] for p in s["pareto"]}
        # the in-sample re-run of the chosen parameters reproduces the trial exactly (same tape, same
        # config): the figures in the report are the study's, not a lookalike
        values = next(p["values"] for p in s["pareto"] if p["number"] == chosen["number"])
        assert s["in_sample"]["net_pnl_usdt"] == pytest.approx(values[0], abs=1e-9)
        assert s["in_sample"]["max_drawdown_usdt"] == pytest.approx(values[1], abs=1e-9)
        # out-of-sample: a different, later day of data
        assert s["out_of_sample"]["events"] > 0 and s["out_of_sample"]["duration_s"] <= DAY_MS / 1000
        assert s["out_of_sample"]["digest"] != s["in_sample"]["digest"]
    assert studies[0]["test"][0] < studies[1]["test"][0]

    html = (out / "report.html").read_text()
    for heading in (
        "In-sample vs out-of-sample per window",
        "Equity of the chosen parameters (out-of-sample, stitched)",
        "Pareto front · demo-wf0",
        "Pareto front · demo-wf1",
        "Parameter importances",
    ):
        assert heading in html, heading
    assert html.count("<svg") >= 3 and "<script" not in html
