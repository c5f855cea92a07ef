"""FeatureEngine: each feature against a direct computation on small scripted inputs."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from grinder.core.events import DepthUpdate
from grinder.core.rules import btcusdt_rules
from grinder.strategy import FeatureConfig, FeatureEngine, GridConfig, GridStrategy, StrategyConfig
from tests.strategy.helpers import SYM, book, mark, trade

T0 = 1_700_000_000_000


def engine(**kw: int) -> FeatureEngine:
    return FeatureEngine(SYM, btcusdt_rules(), FeatureConfig(**kw))  # type: ignore[arg-type]


def test_book_features_mid_microprice_spread_imbalance() -> None:
    f = engine()
    f.on_event(book(600_000, 600_004, T0, bq=30, aq=10))
    s = f.snapshot()
    assert s.mid == pytest.approx(60000.2)
    assert s.microprice == pytest.approx((600_000 * 10 + 600_004 * 30) / 40 * 0.1)  # leans to the thin ask
    assert s.spread_bps == pytest.approx(4 / 600_002 * 10_000)
    assert s.imbalance_l1 == pytest.approx(0.5)
    assert math.isnan(s.natr_bps) and not s.natr_warm


def reference_natr(bars: list[tuple[float, float, float]], n: int) -> float:
    trs: list[float] = []
    prev = None
    for h, lo, c in bars:
        trs.append(h - lo if prev is None else max(h, prev) - min(lo, prev))
        prev = c
    atr = sum(trs[:n]) / n
    for tr in trs[n:]:
        atr = (atr * (n - 1) + tr) / n
    return atr / bars[-1][2] * 10_000


def test_natr_on_event_time_bars_matches_wilder() -> None:
    rng = random.Random(1)
    f = engine(bar_ms=1000, natr_period=4)
    bars: list[tuple[float, float, float]] = []
    t = T0
    mid = 600_000
    for _ in range(12):
        mids = []
        for k in range(10):
            mid += rng.randint(-80, 80)
            f.on_book_ticker(book(mid - 1, mid + 1, t + k * 100))
            mids.append(float(mid))
        bars.append((max(mids), min(mids), mids[-1]))
        t += 1000
    f.on_book_ticker(book(mid - 1, mid + 1, t))  # closes the 12th bar
    assert f.bars_closed == 12
    assert f.natr_bps == pytest.approx(reference_natr(bars, 4))


@pytest.mark.parametrize("period", [3, 8])  # the gap after warm-up, and inside it
def test_empty_bars_decay_atr_like_zero_range_bars(period: int) -> None:
    a, b = engine(bar_ms=1000, natr_period=period), engine(bar_ms=1000, natr_period=period)
    for i, m in enumerate([600_000, 600_600, 599_400, 600_300, 600_000]):
        for f in (a, b):
            f.on_book_ticker(book(m - 1, m + 1, T0 + i * 1000))
    # a: a gap of 5 bars with no events; b: the same bars with an unchanged quote in each
    for k in range(1, 6):
        b.on_book_ticker(book(599_999, 600_001, T0 + (4 + k) * 1000))
    a.on_book_ticker(book(599_999, 600_001, T0 + 9 * 1000))
    for f in (a, b):  # a few more bars so that period 8 is warm
        for k in range(1, 4):
            f.on_book_ticker(book(599_999 + 40 * k, 600_001 + 40 * k, T0 + (9 + k) * 1000))
    assert a.bars_closed == b.bars_closed
    assert a.natr_warm and a.natr_bps == pytest.approx(b.natr_bps)


def test_ewma_volatility_scale_and_zero_when_flat() -> None:
    f = engine(vol_halflife_ms=60_000)
    f.on_book_ticker(book(599_999, 600_001, T0))
    for i in range(1, 400):
        f.on_book_ticker(book(599_999, 600_001, T0 + i * 1000))
    assert f.vol_bps == 0.0
    g = engine(vol_halflife_ms=60_000)
    m = 600_000
    for i in range(400):
        m += 60 if i % 2 else -60  # |r| = 1 bp every second
        g.on_book_ticker(book(m - 1, m + 1, T0 + i * 1000))
    assert g.vol_bps == pytest.approx(1.0, rel=0.05)


def test_order_flow_imbalance_signs() -> None:
    f = engine()
    f.on_book_ticker(book(600_000, 600_002, T0, bq=10, aq=10))
    f.on_book_ticker(book(600_000, 600_002, T0, bq=25, aq=10))  # bid queue grows: buying pressure
    assert f.snapshot().ofi_l1 == pytest.approx(15)
    f.on_book_ticker(book(600_000, 600_001, T0, bq=25, aq=40))  # ask steps down with size: selling
    assert f.snapshot().ofi_l1 == pytest.approx(15 - 40)


def test_trade_flow_imbalance_and_decay() -> None:
    f = engine(flow_halflife_ms=1000)
    for k in range(10):
        f.on_trade(trade(600_000, 2, T0 + k, buyer_is_maker=False))
    tfi, cnt = f.flow()
    assert tfi == pytest.approx(1.0) and cnt == pytest.approx(10, rel=0.01)
    f.on_trade(trade(600_000, 20, T0 + 20, buyer_is_maker=True))
    assert f.flow()[0] == pytest.approx(0.0, abs=0.01)
    f.on_book_ticker(book(599_999, 600_001, T0 + 10_020))  # ten half-lives later
    assert f.flow()[1] == pytest.approx(11 / 1024, rel=0.05)


def test_l2_depth_features() -> None:
    f = engine(l2_band_bps=1.0)
    f.on_book_ticker(book(600_000, 600_001, T0))
    f.on_depth(DepthUpdate(SYM, 1, 1, 0, ((600_000, 30), (599_990, 10)), ((600_001, 10),), T0, T0))
    s = f.snapshot()
    assert s.depth_imbalance_l2 == pytest.approx((40 - 10) / 50)
    assert s.ofi_l2 == pytest.approx(40 - 10)
    f.on_depth(DepthUpdate(SYM, 2, 2, 1, ((600_000, 0),), (), T0, T0))  # bid level cancelled
    assert f.snapshot().ofi_l2 == pytest.approx(0)
    assert f.snapshot().depth_imbalance_l2 == pytest.approx(0.0)


def test_range_trend_scores_and_funding() -> None:
    up, chop = engine(bar_ms=1000, trend_window_bars=5), engine(bar_ms=1000, trend_window_bars=5)
    for i in range(8):
        up.on_book_ticker(book(600_000 + 100 * i, 600_002 + 100 * i, T0 + i * 1000))
        m = 600_000 + (100 if i % 2 else 0)
        chop.on_book_ticker(book(m, m + 2, T0 + i * 1000))
    assert up.snapshot().trend_score == pytest.approx(1.0)
    assert chop.snapshot().trend_score < 0.3
    assert chop.snapshot().range_bps == pytest.approx(100 / 600_101 * 10_000, rel=1e-3)
    up.on_mark_price(mark("60000.5", T0 + 9000, funding="-0.0003"))
    s = up.snapshot()
    assert s.funding_rate == pytest.approx(-0.0003) and s.mark_price == pytest.approx(60000.5)


def test_strategy_refuses_other_symbols_and_bad_sizes() -> None:
    s = GridStrategy(SYM, btcusdt_rules(), StrategyConfig())
    with pytest.raises(ValueError, match="ETHUSDT"):
        s.on_event(book(1, 2, T0, symbol="ETHUSDT"))
    with pytest.raises(
        ValueError, match=r"\[grid\] order_qty = 0.0015 is not a multiple of BTCUSDT stepSize"
    ):
        GridStrategy(SYM, btcusdt_rules(), StrategyConfig(grid=GridConfig(order_qty=Decimal("0.0015"))))
    with pytest.raises(ValueError, match=r"levels = 0 is invalid: use 1..99"):
        GridConfig(levels=0)
    before = s.desired_quotes(0, T0)
    assert before.reason == "NO_BOOK" and before.quotes == () and s.quiet_band().is_empty
    s.on_event(book(600_002, 600_000, T0))
    assert s.desired_quotes(0, T0).reason == "BOOK_CROSSED"
