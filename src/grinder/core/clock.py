"""The Clock protocol: the only place GRINDER reads time (wall clock live, virtual in backtests)."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now_ns(self) -> int:
        """Epoch time in nanoseconds."""
        ...

    def now_ms(self) -> int:
        """Epoch time in milliseconds."""
        ...

    def monotonic_ns(self) -> int:
        """A monotonic nanosecond counter for measuring durations."""
        ...


class WallClock:
    """The machine's clock."""

    __slots__ = ()

    def now_ns(self) -> int:
        return time.time_ns()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class VirtualClock:
    """A clock that only moves when told to: backtests and deterministic tests."""

    __slots__ = ("_ns",)

    def __init__(self, start_ns: int = 0) -> None:
        self._ns = start_ns

    @classmethod
    def from_ms(cls, start_ms: int) -> VirtualClock:
        return cls(start_ms * 1_000_000)

    def now_ns(self) -> int:
        return self._ns

    def now_ms(self) -> int:
        return self._ns // 1_000_000

    def monotonic_ns(self) -> int:
        return self._ns

    def set_ms(self, ms: int) -> None:
        """Move to an exchange timestamp; time never runs backwards."""
        ns = ms * 1_000_000
        if ns > self._ns:
            self._ns = ns

    def advance_ns(self, delta_ns: int) -> None:
        if delta_ns < 0:
            raise ValueError(f"VirtualClock cannot go backwards (delta_ns={delta_ns})")
        self._ns += delta_ns

    def advance_ms(self, delta_ms: int) -> None:
        self.advance_ns(delta_ms * 1_000_000)
