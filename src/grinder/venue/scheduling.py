"""Venue time: commands delayed by `order_latency_ms` reaching the matching engine, and funding
settlements, run in time order whenever an event or call moves venue time past them."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING

from grinder.venue.book import MarketState

if TYPE_CHECKING:
    from grinder.venue.margin import Ledger

NEVER = 1 << 62  # `next_due_ms` when nothing is scheduled


class Scheduler:
    """The latency queue of delayed commands plus each symbol's next funding time."""

    __slots__ = ("ledger", "markets", "next_due_ms", "on_due", "pending", "pending_seq")

    def __init__(
        self, markets: dict[str, MarketState], ledger: Ledger, on_due: Callable[[int], None]
    ) -> None:
        self.markets = markets
        self.ledger = ledger
        self.on_due = on_due  # told every new `next_due_ms` (the venue's per-event check reads its copy)
        # Latency-delayed commands: (arrival_ms, seq, action).
        self.pending: list[tuple[int, int, Callable[[int], None]]] = []
        self.pending_seq = 0
        self.next_due_ms = NEVER

    def schedule(self, at: int, action: Callable[[int], None]) -> None:
        self.pending_seq += 1
        heapq.heappush(self.pending, (at, self.pending_seq, action))
        self.recompute_due()

    def recompute_due(self) -> None:
        due = self.pending[0][0] if self.pending else NEVER
        for m in self.markets.values():
            if m.next_funding_ms and m.next_funding_ms < due:
                due = m.next_funding_ms
        self.next_due_ms = due
        self.on_due(due)

    def run_due(self, t: int) -> None:
        """Run latency-delayed commands and funding settlements due at or before `t`, in time order."""
        while True:
            funding_m = None
            for m in self.markets.values():
                if (
                    m.next_funding_ms
                    and m.next_funding_ms <= t
                    and (funding_m is None or m.next_funding_ms < funding_m.next_funding_ms)
                ):
                    funding_m = m
            pending_at = self.pending[0][0] if self.pending and self.pending[0][0] <= t else None
            if funding_m is None and pending_at is None:
                break
            if funding_m is not None and (pending_at is None or funding_m.next_funding_ms <= pending_at):
                self.ledger.settle_funding(funding_m)
            else:
                at, _, action = heapq.heappop(self.pending)
                action(at)
        self.recompute_due()
