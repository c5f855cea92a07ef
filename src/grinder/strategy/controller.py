"""Adaptive controller: picks BASE / WIDEN / TIGHTEN / PAUSE from the volatility and spread regime.

Escalations (towards PAUSE, or out of TIGHTEN) take effect at once; de-escalations wait for the
metric to fall `hysteresis` below the threshold that caused the mode, and for `min_dwell_ms` of
event time in the current mode. Every switch carries a stable reason code.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction

from grinder.strategy import metrics
from grinder.strategy.config import ControllerConfig
from grinder.strategy.types import ControllerMode

log = logging.getLogger(__name__)

_SEVERITY = {
    ControllerMode.TIGHTEN: 0,
    ControllerMode.BASE: 1,
    ControllerMode.WIDEN: 2,
    ControllerMode.PAUSE: 3,
}

# Reason codes
VOL_PAUSE = "VOL_PAUSE"
SPREAD_PAUSE = "SPREAD_PAUSE"
VOL_WIDEN = "VOL_WIDEN"
SPREAD_WIDEN = "SPREAD_WIDEN"
CALM = "CALM"
NORMAL = "NORMAL"
START = "START"


@dataclass(frozen=True, slots=True)
class ModeSwitch:
    time_ms: int
    from_mode: ControllerMode
    to_mode: ControllerMode
    reason: str  # stable code
    vol_bps: float
    spread_bps: float


class ModeController:
    """Mode state machine for one symbol; call `evaluate` on the controller's event-time grid."""

    __slots__ = ("_factors", "cfg", "last_switch", "mode", "reason", "since_ms", "switches", "symbol")

    def __init__(self, cfg: ControllerConfig | None = None, symbol: str = "") -> None:
        self.cfg = cfg or ControllerConfig()
        self.symbol = symbol
        self.mode = ControllerMode.BASE
        self.reason = START
        self.since_ms: int | None = None
        self.last_switch: ModeSwitch | None = None
        self.switches = 0
        self._factors = {
            ControllerMode.BASE: Fraction(1),
            ControllerMode.WIDEN: Fraction(self.cfg.widen_factor),
            ControllerMode.TIGHTEN: Fraction(self.cfg.tighten_factor),
            ControllerMode.PAUSE: Fraction(1),
        }

    def spacing_factor(self) -> Fraction:
        """Exact multiplier of the grid spacing in the current mode."""
        return self._factors[self.mode]

    def classify(
        self, vol_bps: float, spread_bps: float, high_scale: float = 1.0, low_scale: float = 1.0
    ) -> tuple[ControllerMode, str]:
        """The mode the metrics call for, with thresholds scaled (NaN metrics never trigger)."""
        c = self.cfg
        if vol_bps >= c.pause_vol_bps * high_scale:
            return ControllerMode.PAUSE, VOL_PAUSE
        if spread_bps >= c.pause_spread_bps * high_scale:
            return ControllerMode.PAUSE, SPREAD_PAUSE
        if vol_bps >= c.widen_vol_bps * high_scale:
            return ControllerMode.WIDEN, VOL_WIDEN
        if spread_bps >= c.widen_spread_bps * high_scale:
            return ControllerMode.WIDEN, SPREAD_WIDEN
        if vol_bps <= c.tighten_vol_bps * low_scale and spread_bps <= c.tighten_spread_bps * low_scale:
            return ControllerMode.TIGHTEN, CALM
        return ControllerMode.BASE, NORMAL

    def evaluate(self, now_ms: int, vol_bps: float, spread_bps: float) -> ModeSwitch | None:
        """Update the mode from the metrics at `now_ms`; returns the switch if one happened."""
        if not self.cfg.enabled:
            return None
        if self.since_ms is None:
            self.since_ms = now_ms
        cur = self.mode
        h = self.cfg.hysteresis
        raw, why = self.classify(vol_bps, spread_bps)
        target, reason = raw, why
        if _SEVERITY[raw] > _SEVERITY[cur]:
            if cur is ControllerMode.TIGHTEN and raw is ControllerMode.BASE:
                held, _ = self.classify(vol_bps, spread_bps, low_scale=1.0 + h)
                if held is ControllerMode.TIGHTEN:
                    target, reason = cur, self.reason
        elif _SEVERITY[raw] < _SEVERITY[cur]:
            held, held_why = self.classify(vol_bps, spread_bps, high_scale=1.0 - h)
            if _SEVERITY[held] >= _SEVERITY[cur]:
                target, reason = cur, self.reason
            else:
                target, reason = held, held_why
            if target is not cur and now_ms - self.since_ms < self.cfg.min_dwell_ms:
                target, reason = cur, self.reason
        if target is cur:
            return None
        switch = ModeSwitch(now_ms, cur, target, reason, vol_bps, spread_bps)
        self.mode, self.reason, self.since_ms = target, reason, now_ms
        self.last_switch = switch
        self.switches += 1
        metrics.MODE_SWITCHES.labels(self.symbol, target.value, reason).inc()
        log.info(
            "strategy_mode_switch symbol=%s from=%s to=%s reason=%s natr_bps=%s spread_bps=%s time_ms=%d",
            self.symbol,
            cur.value,
            target.value,
            reason,
            _fmt(vol_bps),
            _fmt(spread_bps),
            now_ms,
        )
        return switch


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.3f}"
