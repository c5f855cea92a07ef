"""Walk-forward windows: rolling (train, test) spans over the data, aligned to UTC days.

`--walk-forward 3/1` trains on days 1-3 and tests on day 4, then trains on days 2-4 and tests on
day 5, and so on: the test spans follow each other without overlap, each one unseen by the study
that chose its parameters. Units: days by default, or `h` / `m` suffixes (`12h/4h`) for short data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DAY_MS = 86_400_000
_UNITS = {"d": DAY_MS, "h": 3_600_000, "m": 60_000}
_SPEC = re.compile(r"^(\d+)([dhm]?)/(\d+)([dhm]?)$")


class WindowError(ValueError):
    """A walk-forward spec the data cannot fill."""


@dataclass(frozen=True, slots=True)
class Window:
    index: int
    train: tuple[int, int]  # [start_ms, end_ms)
    test: tuple[int, int]


def parse_walk_forward(text: str) -> tuple[int, int]:
    """`TRAIN/TEST` -> (train ms, test ms)."""
    m = _SPEC.match(text.strip())
    if not m or int(m.group(1)) == 0 or int(m.group(3)) == 0:
        raise WindowError(
            f"--walk-forward {text!r}: write TRAIN/TEST in whole days (3/1) or with a unit (12h/4h, 90m/30m)"
        )
    train = int(m.group(1)) * _UNITS[m.group(2) or "d"]
    test = int(m.group(3)) * _UNITS[m.group(4) or "d"]
    return train, test


def rolling_windows(start_ms: int, end_ms: int, train_ms: int, test_ms: int) -> list[Window]:
    """Every (train, test) pair inside the data's units: from the unit boundary at or before the
    first event (UTC calendar days with day units) to the boundary after the last one."""
    unit = next(u for u in sorted(_UNITS.values(), reverse=True) if train_ms % u == 0 and test_ms % u == 0)
    origin = start_ms - start_ms % unit
    limit = end_ms - end_ms % unit + unit
    out: list[Window] = []
    while origin + len(out) * test_ms + train_ms + test_ms <= limit:
        t0 = origin + len(out) * test_ms
        out.append(Window(len(out), (t0, t0 + train_ms), (t0 + train_ms, t0 + train_ms + test_ms)))
    if not out:
        span_h = (end_ms - start_ms) / 3_600_000
        raise WindowError(
            f"the data spans {span_h:.1f} h, too short for one train + test window of "
            f"{(train_ms + test_ms) / 3_600_000:.1f} h; fetch more days or shorten --walk-forward"
        )
    return out
