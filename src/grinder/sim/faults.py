"""Fault injection: a deterministic (seeded) plan of what to break, set via /_sim/faults, CLI or Python.

Counters ("the next N") are exact; rates draw from one `random.Random(seed)`, so a given request
sequence meets the same faults on every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any

from grinder.core.errors import ErrorCode

UNKNOWN_AFTER = "unknown_after_execute"  # 503 "Unknown error..." AFTER the order was executed
UNAVAILABLE_BEFORE = "unavailable_before_execute"  # 503 "Service Unavailable." before executing


@dataclass(slots=True)
class FaultPlan:
    """Mutable fault settings; every field defaults to 'no fault'."""

    delay_ms: int = 0  # added to every REST response
    unknown_after_execute: int = 0  # next N order writes: execute, then answer 503 unknown
    unknown_after_execute_rate: float = 0.0
    unavailable_before_execute: int = 0  # next N order writes: 503 Service Unavailable, not executed
    unavailable_before_execute_rate: float = 0.0
    throttle: int = 0  # next N new orders: 503 -1008 (not executed)
    too_many_requests: int = 0  # next N requests: 429 -1003
    ban: int = 0  # next N requests: 418 -1003
    reject_rate: float = 0.0  # share of new orders rejected with `reject_code`
    reject_code: int = int(ErrorCode.NEW_ORDER_REJECTED)
    clock_skew_ms: int = 0  # server time = clock + skew
    duplicate_user_event_rate: float = 0.0
    reorder_user_event_rate: float = 0.0
    depth_gaps: int = 0  # next N depth diffs (any symbol / `depth_gap_symbol`) are dropped
    depth_gap_symbol: str = ""
    ws_stall_ms: int = 0  # applied by the "stall_ws" action
    seed: int = 1
    _rng: random.Random = field(default_factory=lambda: random.Random(1), repr=False)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def reset(self) -> None:
        """Back to 'no fault' (in place: every component holds this object); the seed is kept."""
        for f in fields(self):
            if not f.name.startswith("_") and f.name != "seed":
                setattr(self, f.name, f.default)
        self.reseed(self.seed)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object of field -> value; unknown keys or wrong types raise ValueError."""
        known = {f.name: f for f in fields(self) if not f.name.startswith("_")}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, key)
            if isinstance(current, bool) or not isinstance(value, type(current)):
                if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                else:
                    raise ValueError(f"fault {key!r} needs a {type(current).__name__}, got {value!r}")
            if key == "seed":
                self.reseed(int(value))
            else:
                setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    # ------------------------------------------------------------------ draws
    def _take(self, counter: str, rate: float = 0.0) -> bool:
        left: int = getattr(self, counter)
        if left > 0:
            setattr(self, counter, left - 1)
            return True
        return rate > 0 and self._rng.random() < rate

    def take_unknown_after(self) -> bool:
        return self._take("unknown_after_execute", self.unknown_after_execute_rate)

    def take_unavailable_before(self) -> bool:
        return self._take("unavailable_before_execute", self.unavailable_before_execute_rate)

    def take_throttle(self) -> bool:
        return self._take("throttle")

    def take_too_many_requests(self) -> bool:
        return self._take("too_many_requests")

    def take_ban(self) -> bool:
        return self._take("ban")

    def take_reject(self) -> bool:
        return self.reject_rate > 0 and self._rng.random() < self.reject_rate

    def take_duplicate(self) -> bool:
        return self.duplicate_user_event_rate > 0 and self._rng.random() < self.duplicate_user_event_rate

    def take_reorder(self) -> bool:
        return self.reorder_user_event_rate > 0 and self._rng.random() < self.reorder_user_event_rate

    def take_depth_gap(self, symbol: str) -> bool:
        if self.depth_gaps <= 0 or (self.depth_gap_symbol and self.depth_gap_symbol != symbol):
            return False
        self.depth_gaps -= 1
        return True
