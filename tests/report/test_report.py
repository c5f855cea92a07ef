"""HTML report: self-contained (no script, no external URL), escaped text, charts that keep extremes."""

from __future__ import annotations

import re

import numpy as np

from grinder.report import (
    Section,
    drawdown,
    equity_drawdown_chart,
    inventory_chart,
    key_values,
    price_fills_chart,
    reduce_series,
    render_report,
    table,
)


def test_page_is_self_contained_and_escapes_text() -> None:
    html = render_report(
        "<b>x</b> & co",
        [
            Section(
                "Figures <1>",
                key_values({"pnl <usd>": 1.5, "name": "<script>alert(1)</script>"}),
                note="n & m",
            )
        ],
        subtitle="a<b",
    )
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt; &amp; co" in html and "a&lt;b" in html
    assert not re.search(r"(src|href)=\"https?://", html)  # no CDN, nothing fetched


def test_charts_are_inline_svg_with_fills_and_drawdown() -> None:
    t = np.arange(0, 3_600_000, 1000, dtype=np.int64) + 1_723_161_255_000
    price = 60000 + np.cumsum(np.sin(np.arange(len(t)) / 50.0))
    svg = price_fills_chart(t, price, (t[[10, 20]], price[[10, 20]]), (t[[30]], price[[30]]))
    assert svg.startswith("<svg") and svg.count("<polyline") == 1
    assert svg.count("<path") == 3  # two buy markers, one sell marker
    eq = 1000 + np.cumsum(np.random.default_rng(1).normal(0, 1, len(t)))
    svg2 = equity_drawdown_chart(t, eq)
    assert svg2.count("<polyline") == 2 and "<polygon" in svg2
    svg3 = inventory_chart(t, np.where(np.arange(len(t)) % 500 < 250, 0.01, -0.02))
    assert svg3.count("<polyline") == 1


def test_reduce_series_keeps_extremes_and_bounds_points() -> None:
    x = np.arange(200_000, dtype=np.float64)
    y = np.zeros_like(x)
    y[123_457] = 99.0
    y[5] = -7.0
    rx, ry = reduce_series(x, y, max_points=1000)
    assert len(rx) <= 1000 + 4
    assert ry.max() == 99.0 and ry.min() == -7.0
    assert (np.diff(rx) > 0).all()


def test_drawdown_and_table() -> None:
    assert drawdown([1.0, 3.0, 2.0, 5.0, 1.0]).tolist() == [0.0, 0.0, -1.0, 0.0, -4.0]
    html = table(["a", "b"], [[1, "x"]] * 3, max_rows=2)
    assert html.count("<tr>") == 3 and "showing 2 of 3 rows" in html


def test_empty_series_do_not_break_the_page() -> None:
    assert "no data" in price_fills_chart([], [])
    assert "<svg" in equity_drawdown_chart([1, 2], [5.0, 5.0])
