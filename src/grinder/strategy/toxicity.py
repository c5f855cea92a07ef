"""Toxicity gate: pauses or widens the side exposed to adverse selection, with stable reason codes.

* SPREAD_SPIKE: the spread is wider than max(spread_spike_bps, spread_spike_mult × smoothed spread)
  → both sides paused.
* PRICE_IMPACT_UP / PRICE_IMPACT_DOWN: mid moved more than impact_bps from its value
  impact_lookback_ms ago → the side being run over is paused (up: sells, down: buys).
* FLOW_TOXIC_BUY / FLOW_TOXIC_SELL: trade flow one-sided (aggressive buyers / sellers) → the side
  they trade against (sells / buys) is widened or paused (flow_action).
* SLIDE_UP / SLIDE_DOWN: a slide with a tight spread — the mid moved slide_bps within
  impact_lookback_ms while the trade flow leaned at least slide_flow the same way → the side
  being run over is paused (ADR-173). Catches what the spread and impact checks are too coarse for.

Spread and impact are checked on every recompute against integer thresholds that are refreshed
on the controller's event-time grid (`evaluate`), so `GridStrategy` can state them as a quiet
band. A triggered condition holds for cooldown_ms and until it is no longer true.
"""

from __future__ import annotations

import logging
from collections import deque
from fractions import Fraction

from grinder.strategy import metrics
from grinder.strategy.config import ToxicAction, ToxicityConfig
from grinder.strategy.features import FeatureEngine
from grinder.strategy.types import INT_MAX, INT_MIN

log = logging.getLogger(__name__)

SPREAD_SPIKE = "SPREAD_SPIKE"
PRICE_IMPACT_UP = "PRICE_IMPACT_UP"
PRICE_IMPACT_DOWN = "PRICE_IMPACT_DOWN"
FLOW_TOXIC_BUY = "FLOW_TOXIC_BUY"
FLOW_TOXIC_SELL = "FLOW_TOXIC_SELL"
SLIDE_UP = "SLIDE_UP"
SLIDE_DOWN = "SLIDE_DOWN"
REASON_ORDER = (
    SPREAD_SPIKE,
    PRICE_IMPACT_UP,
    PRICE_IMPACT_DOWN,
    FLOW_TOXIC_BUY,
    FLOW_TOXIC_SELL,
    SLIDE_UP,
    SLIDE_DOWN,
)


class ToxicityGate:
    """Per-symbol gate state. `active` maps reason code → the event time it holds until."""

    __slots__ = (
        "_samples",
        "active",
        "cfg",
        "impact_hi2",
        "impact_lo2",
        "spike_ticks",
        "symbol",
        "triggers",
        "widen",
    )

    def __init__(self, cfg: ToxicityConfig | None = None, symbol: str = "") -> None:
        self.cfg = cfg or ToxicityConfig()
        self.symbol = symbol
        self.active: dict[str, int] = {}
        self.spike_ticks = 0  # 0 = not yet known (set from the first mid)
        self.impact_lo2 = INT_MIN  # mid2 band of the impact check
        self.impact_hi2 = INT_MAX
        self._samples: deque[tuple[int, int]] = deque()  # (time_ms, mid2) on the evaluation grid
        self.triggers = 0
        self.widen = Fraction(self.cfg.flow_widen_factor)

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    def _trigger(self, code: str, now_ms: int, detail: str) -> None:
        # The hold runs from the first trigger; a condition that stays true is kept by `evaluate`.
        # (Not extending on re-trigger makes the state independent of how often the checks run.)
        if code in self.active:
            return
        self.active[code] = now_ms + self.cfg.cooldown_ms
        self.triggers += 1
        metrics.TOXICITY_TRIGGERS.labels(self.symbol, code).inc()
        log.info(
            "strategy_toxicity_trigger symbol=%s reason=%s %s time_ms=%d", self.symbol, code, detail, now_ms
        )

    def _abs_spike_ticks(self, mid2: int) -> int:
        return max(1, int(self.cfg.spread_spike_bps * mid2 / 20_000.0))

    def check_fast(self, now_ms: int, bid_ticks: int, ask_ticks: int) -> None:
        """The per-recompute checks: spread spike and price impact against the current thresholds."""
        if not self.cfg.enabled:
            return
        mid2 = bid_ticks + ask_ticks
        if self.spike_ticks == 0:
            self.spike_ticks = self._abs_spike_ticks(mid2)
        spread = ask_ticks - bid_ticks
        if spread > self.spike_ticks:
            self._trigger(SPREAD_SPIKE, now_ms, f"spread_ticks={spread} limit_ticks={self.spike_ticks}")
        if mid2 > self.impact_hi2:
            self._trigger(PRICE_IMPACT_UP, now_ms, f"mid2={mid2} limit_mid2={self.impact_hi2}")
        elif mid2 < self.impact_lo2:
            self._trigger(PRICE_IMPACT_DOWN, now_ms, f"mid2={mid2} limit_mid2={self.impact_lo2}")

    def evaluate(self, now_ms: int, features: FeatureEngine) -> None:
        """On the evaluation grid: refresh thresholds, check flow, expire conditions that cleared."""
        cfg = self.cfg
        if not cfg.enabled:
            return
        mid2 = features.mid2
        if mid2 <= 0:
            return
        # thresholds
        ema = features.spread_ema_ticks
        rel = int(cfg.spread_spike_mult * ema) if ema == ema else 0  # NaN-safe
        self.spike_ticks = max(self._abs_spike_ticks(mid2), rel)
        samples = self._samples
        samples.append((now_ms, mid2))
        horizon = now_ms - max(cfg.impact_lookback_ms, cfg.slide_lookback_ms)
        while len(samples) > 1 and samples[1][0] <= horizon:
            samples.popleft()
        ref2 = _mid_at(samples, now_ms - cfg.impact_lookback_ms)
        slide_ref2 = _mid_at(samples, now_ms - cfg.slide_lookback_ms)
        band2 = int(cfg.impact_bps * ref2 / 10_000.0)
        self.impact_lo2, self.impact_hi2 = ref2 - band2, ref2 + band2
        # flow
        tfi, count = features.flow()
        toxic_flow = None
        if count >= cfg.flow_min_trades:
            if tfi >= cfg.flow_threshold:
                toxic_flow = FLOW_TOXIC_BUY
            elif tfi <= -cfg.flow_threshold:
                toxic_flow = FLOW_TOXIC_SELL
        if toxic_flow is not None:
            self._trigger(toxic_flow, now_ms, f"flow_imbalance={tfi:.3f} trades={count:.1f}")
        drift_bps = (mid2 - slide_ref2) * 10_000.0 / slide_ref2
        slide = None
        if count >= cfg.slide_min_trades:
            if drift_bps <= -cfg.slide_bps and tfi <= -cfg.slide_flow:
                slide = SLIDE_DOWN
            elif drift_bps >= cfg.slide_bps and tfi >= cfg.slide_flow:
                slide = SLIDE_UP
        if slide is not None:
            self._trigger(
                slide, now_ms, f"drift_bps={drift_bps:.2f} flow_imbalance={tfi:.3f} trades={count:.1f}"
            )
        # expiry: held for the cooldown and while still true
        still = {
            SPREAD_SPIKE: features.spread_ticks > self.spike_ticks,
            PRICE_IMPACT_UP: mid2 > self.impact_hi2,
            PRICE_IMPACT_DOWN: mid2 < self.impact_lo2,
            FLOW_TOXIC_BUY: toxic_flow == FLOW_TOXIC_BUY,
            FLOW_TOXIC_SELL: toxic_flow == FLOW_TOXIC_SELL,
            SLIDE_UP: slide == SLIDE_UP,
            SLIDE_DOWN: slide == SLIDE_DOWN,
        }
        for code in list(self.active):
            if now_ms >= self.active[code] and not still[code]:
                del self.active[code]
                log.info("strategy_toxicity_clear symbol=%s reason=%s time_ms=%d", self.symbol, code, now_ms)

    # ----------------------------------------------------------------- outputs
    def paused_all(self) -> bool:
        return SPREAD_SPIKE in self.active

    def buy_blocked(self) -> bool:
        return self._blocked(PRICE_IMPACT_DOWN, SLIDE_DOWN, FLOW_TOXIC_SELL)

    def sell_blocked(self) -> bool:
        return self._blocked(PRICE_IMPACT_UP, SLIDE_UP, FLOW_TOXIC_BUY)

    def _blocked(self, impact: str, slide: str, toxic_flow: str) -> bool:
        """A side stops quoting on a price impact or a slide against it, or on toxic flow against it
        when the flow action is PAUSE (otherwise that flow widens the side: `buy_factor`)."""
        a = self.active
        return impact in a or slide in a or (toxic_flow in a and self.cfg.flow_action is ToxicAction.PAUSE)

    def buy_factor(self) -> Fraction:
        return self.widen if FLOW_TOXIC_SELL in self.active else Fraction(1)

    def sell_factor(self) -> Fraction:
        return self.widen if FLOW_TOXIC_BUY in self.active else Fraction(1)

    def reasons(self) -> tuple[str, ...]:
        return tuple(code for code in REASON_ORDER if code in self.active)


def _mid_at(samples: deque[tuple[int, int]], at_ms: int) -> int:
    """mid2 of the last sample at or before `at_ms` (the oldest sample when none is that old)."""
    ref = samples[0][1]
    for t, m2 in samples:
        if t > at_ms:
            break
        ref = m2
    return ref
