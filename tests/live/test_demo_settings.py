"""`grinder demo --speed S`: the strategy's per-time volatility thresholds follow the fast-forward (ADR-311)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from grinder.core.events import BookTicker
from grinder.core.rules import btcusdt_rules
from grinder.live.demo import demo_settings
from grinder.strategy import GridStrategy
from grinder.strategy.types import ControllerMode

MID = 600_000  # 60 000.0 in 0.1 ticks: 1 bp = 60 ticks
T0 = 1_700_000_000_000


def _mode_after_bars(speed: float, range_bps: float) -> ControllerMode:
    sim: Any = SimpleNamespace(rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1")
    cfg = demo_settings(sim, Path("unused"), 0, speed).strategies["BTCUSDT"]  # type: ignore[index]
    s = GridStrategy("BTCUSDT", btcusdt_rules("100"), cfg)
    half = range_bps * 60 / 2
    s.warm_up([(MID + half, MID - half, float(MID)) for _ in range(20)], "test")
    s.on_event(BookTicker("BTCUSDT", MID - 1, 10, MID + 1, 10, T0, T0, T0))
    s.desired_quotes(0, T0)
    return s.mode


def test_a_fast_forwarded_market_is_not_taken_for_a_violent_one() -> None:
    # one-minute bars of 81 bps (ETH's first bar in a speed-10 demo, seed 7): at speed 1 that is
    # violent (PAUSE at 80); at speed 10 a wall-clock minute holds ten of the market's, whose range is
    # about √10 = 3.16 times one minute's: 81 bps is 26 bps of real-time range, WIDEN (25 × 3.16 = 79)
    assert _mode_after_bars(1, 81) is ControllerMode.PAUSE
    assert _mode_after_bars(10, 81) is ControllerMode.WIDEN
    assert _mode_after_bars(10, 60) is ControllerMode.BASE
