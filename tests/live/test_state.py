"""The operator's view: average-cost PnL of our fills, latency percentiles, config validation, rendering."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from grinder.core.enums import PositionSide, Side
from grinder.core.events import Fill
from grinder.core.rules import btcusdt_rules
from grinder.live.config import EngineConfig, resolve_urls
from grinder.live.dashboard import plain_line, render
from grinder.live.state import LatencyWindow, Series, SymbolView


def fill(side: Side, price_ticks: int, lots: int, trade_id: int, fee: str = "0.01") -> Fill:
    return Fill(symbol="BTCUSDT", order_id=1, client_order_id="grinder_t_BTCUSDT_b1_1_1", trade_id=trade_id,
                side=side, position_side=PositionSide.BOTH, price_ticks=price_ticks, qty_lots=lots, is_maker=True,
                commission=Decimal(fee), commission_asset="USDT", realized_pnl=Decimal(0), time_ms=trade_id)


def test_round_trip_realizes_the_price_difference_net_of_fees() -> None:
    v = SymbolView("BTCUSDT", btcusdt_rules())  # tick 0.10, step 0.001
    assert v.on_fill(fill(Side.BUY, 600_000, 2, 1))  # buy 0.002 @ 60000.0
    assert v.on_fill(fill(Side.SELL, 600_100, 2, 2))  # sell 0.002 @ 60010.0
    assert v.position_lots == 0
    assert v.realized_pnl == Decimal("0.0200")  # 10 USDT × 0.002
    assert v.fees == Decimal("0.02")
    assert v.net_pnl() == Decimal("0")


def test_duplicate_trade_is_booked_once() -> None:
    v = SymbolView("BTCUSDT", btcusdt_rules())
    assert v.on_fill(fill(Side.BUY, 600_000, 2, 7))
    assert not v.on_fill(fill(Side.BUY, 600_000, 2, 7))
    assert v.position_lots == 2 and v.fill_count == 1


def test_average_entry_partial_close_and_flip() -> None:
    v = SymbolView("BTCUSDT", btcusdt_rules())
    v.on_fill(fill(Side.BUY, 600_000, 1, 1))
    v.on_fill(fill(Side.BUY, 600_200, 1, 2))
    assert v.avg_entry == Decimal("60010.0")
    v.on_fill(fill(Side.SELL, 600_300, 3, 3))  # closes 0.002, opens a 0.001 short at 60030
    assert v.position_lots == -1
    assert v.realized_pnl == Decimal("0.0400")  # (60030 - 60010) × 0.002
    assert v.avg_entry == Decimal("60030.0")
    v.on_book(600_000, 600_010, 1)  # mid 60000.5
    assert v.unrealized_pnl() == Decimal("0.0295")  # short 0.001 from 60030 to 60000.5


def test_latency_window_percentiles_in_microseconds() -> None:
    w = LatencyWindow(size=100)
    assert w.as_dict() == {"count": 0, "p50_us": None, "p99_us": None}
    for ns in range(1_000, 101_000, 1_000):
        w.add(ns)
    assert w.percentile_us(0.5) == pytest.approx(50.0, abs=1.0)
    assert w.percentile_us(0.99) == pytest.approx(99.0, abs=1.0)


def test_engine_config_rejects_bad_values_with_the_fix() -> None:
    with pytest.raises(ValueError, match="leftover_orders"):
        EngineConfig(leftover_orders="keep")
    with pytest.raises(ValueError, match="not a Binance symbol"):
        EngineConfig(symbols=("btcusdt",))
    with pytest.raises(ValueError, match="bookTicker"):
        EngineConfig(market_streams=("depth",))


def test_urls_default_to_config_and_env_overrides_them() -> None:
    assert resolve_urls("https://fapi.binance.com", "wss://fstream.binance.com", env={}) == (
        "https://fapi.binance.com", "wss://fstream.binance.com")
    env = {"BINANCE_FUTURES_BASE_URL": "http://127.0.0.1:8765/", "BINANCE_FUTURES_WS_URL": "ws://127.0.0.1:8765"}
    assert resolve_urls("https://fapi.binance.com", "wss://fstream.binance.com", env=env) == (
        "http://127.0.0.1:8765", "ws://127.0.0.1:8765")
    with pytest.raises(ValueError, match="BINANCE_FUTURES_BASE_URL"):
        resolve_urls("ftp://x", "wss://y", env={})


STATUS = {
    "mode": "LIVE_TRADE", "armed": True, "role": "standalone", "ready": True, "uptime_s": 3.5,
    "gates": {"armed": True, "mode_live_trade": True},
    "symbols": {"BTCUSDT": {"bid": "60000.0", "ask": "60000.1", "position_qty": "0.002", "fills": 3,
                            "realized_pnl": "0.5", "fees": "0.01", "unrealized_pnl": "-0.1", "net_pnl": "0.39",
                            "working_orders": 4, "working_bids": ["59990.0"], "working_asks": ["60010.0"]}},
    "feed": {"BTCUSDT": {"age_s": 0.1}},
    "latency": {"tick_to_order": {"p50_us": 300.0, "p99_us": 900.0}, "order_roundtrip": {}},
    "orders": {"placed": 5}, "recent_fills": [{"time": "00:00:01", "symbol": "BTCUSDT", "side": "BUY",
                                               "price": "60000.0", "qty": "0.002", "is_maker": True}],
}


def test_dashboard_renders_every_panel() -> None:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(render(STATUS))
    text = out.getvalue()
    for expected in ("LIVE_TRADE", "READY", "BTCUSDT", "1b≤59990.0", "+0.39", "p99=900µs", "armed=pass"):
        assert expected in text


def test_plain_line_has_no_control_codes() -> None:
    line = plain_line(STATUS)
    assert line.startswith("status t=3.5s mode=LIVE_TRADE")
    assert "BTCUSDT bid=60000.0" in line and "\x1b" not in line


def test_series_stays_bounded_and_keeps_covering_the_whole_run() -> None:
    s = Series(cap=100, gap_ms=10)
    for t in range(0, 1_000_000, 5):  # 200k offers, one every 5 ms
        s.add(t, float(t))
    points = list(s)
    assert len(points) < 100
    assert points[0] == (0, 0.0)  # the start of the run is kept
    assert points[-1][0] >= 1_000_000 - s.gap_ms  # and it reaches (almost) now
    times = [t for t, _ in points]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert s.gap_ms > 10  # the resolution halved as it filled


def test_symbol_view_memory_is_bounded_by_its_caps() -> None:
    from grinder.live import state

    v = SymbolView("BTCUSDT", btcusdt_rules())
    for i in range(1, state.MAX_FILLS_KEPT + 50):
        v.on_fill(fill(Side.BUY if i % 2 else Side.SELL, 600_000, 1, i))
        v.on_book(600_000 - 1, 600_000 + 1, i * 100)
        v.sample(i * 250)
    assert len(v.fills) == state.MAX_FILLS_KEPT and v.fill_count == state.MAX_FILLS_KEPT + 49
    assert len(v.price_series) < state.MAX_SERIES_POINTS and len(v.equity_series) < state.MAX_SERIES_POINTS
    assert not v.on_fill(fill(Side.BUY, 600_000, 1, state.MAX_FILLS_KEPT + 10))  # duplicate still refused
