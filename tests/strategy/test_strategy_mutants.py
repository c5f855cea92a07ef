"""Controller / toxicity / grid edges that mutation testing (bench/mutation.py) showed unpinned.

The controller's thresholds are inclusive ("at or above"), its hysteresis and dwell gate
de-escalation only, and every switch carries a stable reason code; the grid's level offsets and
skew are exact integer formulas. Each test pins one of these at its boundary.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from grinder.strategy.config import ControllerConfig
from grinder.strategy.controller import (
    CALM,
    NORMAL,
    SPREAD_PAUSE,
    SPREAD_WIDEN,
    START,
    VOL_PAUSE,
    VOL_WIDEN,
    ModeController,
)
from grinder.strategy.grid import level_offset
from grinder.strategy.types import ControllerMode as M

CFG = ControllerConfig(min_dwell_ms=1000, hysteresis=0.2, pause_vol_bps=80.0, widen_vol_bps=25.0,
                       tighten_vol_bps=3.0, pause_spread_bps=10.0, widen_spread_bps=3.0, tighten_spread_bps=0.5)


@pytest.mark.parametrize(
    ("vol", "spread", "mode", "reason"),
    [
        (80.0, 0.0, M.PAUSE, VOL_PAUSE), (79.9, 0.0, M.WIDEN, VOL_WIDEN),
        (10.0, 10.0, M.PAUSE, SPREAD_PAUSE), (10.0, 9.99, M.WIDEN, SPREAD_WIDEN),
        (25.0, 1.0, M.WIDEN, VOL_WIDEN), (24.9, 1.0, M.BASE, NORMAL),
        (10.0, 3.0, M.WIDEN, SPREAD_WIDEN), (10.0, 2.99, M.BASE, NORMAL),
        (3.0, 0.5, M.TIGHTEN, CALM), (3.01, 0.5, M.BASE, NORMAL), (3.0, 0.51, M.BASE, NORMAL),
        (float("nan"), float("nan"), M.BASE, NORMAL),  # NaN metrics never trigger
    ],
)
def test_classify_thresholds_are_inclusive(vol: float, spread: float, mode: M, reason: str) -> None:
    assert ModeController(CFG).classify(vol, spread) == (mode, reason)


def test_classify_scales_the_thresholds() -> None:
    c = ModeController(CFG)
    assert c.classify(64.0, 0.0, high_scale=0.8) == (M.PAUSE, VOL_PAUSE)  # 80 × 0.8
    assert c.classify(63.9, 0.0, high_scale=0.8) == (M.WIDEN, VOL_WIDEN)
    assert c.classify(3.5, 0.55, low_scale=1.2) == (M.TIGHTEN, CALM)  # under 3 × 1.2 and 0.5 × 1.2
    assert c.classify(3.7, 0.55, low_scale=1.2) == (M.BASE, NORMAL)
    assert c.classify(3.5, 0.65, low_scale=1.2) == (M.BASE, NORMAL)


def test_escalation_is_immediate_and_deescalation_waits_for_margin_and_dwell() -> None:
    c = ModeController(CFG, "BTCUSDT")
    assert (c.mode, c.reason, c.spacing_factor()) == (M.BASE, START, Fraction(1))
    assert c.evaluate(0, 10.0, 1.0) is None and c.since_ms == 0
    sw = c.evaluate(100, 30.0, 1.0)  # WIDEN at once, whatever the dwell
    assert sw is not None and (sw.time_ms, sw.from_mode, sw.to_mode, sw.reason) == (100, M.BASE, M.WIDEN, VOL_WIDEN)
    assert (sw.vol_bps, sw.spread_bps) == (30.0, 1.0)
    assert c.last_switch is sw and c.switches == 1 and c.spacing_factor() == Fraction(3, 2)
    assert c.evaluate(5000, 21.0, 1.0) is None  # below 25 but not below 25 × 0.8 = 20: held
    assert c.mode is M.WIDEN and c.reason == VOL_WIDEN
    assert c.evaluate(1099, 10.0, 1.0) is None  # cleared the margin, but inside the 1000 ms dwell
    sw = c.evaluate(1100, 10.0, 1.0)  # dwell over (since 100)
    assert sw is not None and (sw.from_mode, sw.to_mode, sw.reason) == (M.WIDEN, M.BASE, NORMAL)
    assert c.switches == 2 and c.since_ms == 1100
    sw = c.evaluate(1200, 100.0, 1.0)  # PAUSE at once
    assert sw is not None and sw.to_mode is M.PAUSE and c.spacing_factor() == Fraction(1)


def test_deescalation_lands_on_the_held_mode() -> None:
    c = ModeController(CFG)
    c.evaluate(0, 100.0, 1.0)  # PAUSE
    # vol 30: below pause × 0.8 = 64 but above widen: steps down to WIDEN (not BASE) after the dwell
    sw = c.evaluate(2000, 30.0, 1.0)
    assert sw is not None and (sw.to_mode, sw.reason) == (M.WIDEN, VOL_WIDEN)
    # vol 21: under widen (25) but not under 25 × 0.8: the held classification is still WIDEN
    assert c.evaluate(5000, 21.0, 1.0) is None


def test_tighten_is_left_only_past_the_margin() -> None:
    c = ModeController(CFG)
    assert c.evaluate(0, 2.0, 0.4) is None  # into TIGHTEN is a de-escalation: it waits for the dwell
    sw = c.evaluate(1000, 2.0, 0.4)
    assert sw is not None and (sw.to_mode, sw.reason) == (M.TIGHTEN, CALM)
    assert c.spacing_factor() == Fraction(3, 4)
    assert c.evaluate(1010, 3.5, 0.5) is None  # above 3 but not above 3 × 1.2: still TIGHTEN
    sw = c.evaluate(1020, 3.7, 0.5)  # out of TIGHTEN is an escalation: no dwell
    assert sw is not None and (sw.from_mode, sw.to_mode, sw.reason) == (M.TIGHTEN, M.BASE, NORMAL)


def test_zero_dwell_and_disabled() -> None:
    c = ModeController(ControllerConfig(min_dwell_ms=0))
    c.evaluate(0, 100.0, 1.0)
    assert c.evaluate(0, 1.0, 1.0) is not None  # de-escalates in the same millisecond
    off = ModeController(ControllerConfig(enabled=False))
    assert off.evaluate(0, 100.0, 100.0) is None and off.mode is M.BASE and off.since_ms is None


def test_level_offset_is_floor_of_the_exact_fraction() -> None:
    # 50 000.0 in ticks, 3 bps: level 1 = floor(500000 × 3 / 10000) = 150 ticks
    assert level_offset(500_000, Fraction(3), 1) == 150
    assert level_offset(500_000, Fraction(3), 2) == 300
    assert level_offset(333_333, Fraction(1, 3), 1) == 11  # floor(11.1111)
    assert level_offset(100, Fraction(1), 3, min_ticks=2) == 6  # the minimum tick distance wins
    assert level_offset(1_000_000, Fraction(1), 3, min_ticks=2) == 300
    assert level_offset(500_000, Fraction(Decimal("2.5")), 1) == 125
