"""The refusal band: where a plan the risk guard refused whole would be refused again, unchanged.

After a plan whose every command the guard refused for a reason decided by the symbol's own state
(`TradingPipeline`'s remembered refusal), planning again while only the mid moves changes nothing as
long as the mid stays inside this band: the order manager plans the same commands there
(`OrderManager.mid_range`), and the guard refuses each for the same reason. Every check of the
guard is monotone in the reference price, so a verdict, once changed, does not come back: the mids
with the same verdicts form one interval, and bisection with the guard's own `verdict` finds its
ends exactly. The pipeline does not plan inside the band; the backtester skips rows inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import msgspec

from grinder.core.commands import Command
from grinder.risk.guard import RiskGuard, RiskView, SymbolExposure

# How far from the current mid the search looks when nothing else bounds it (ticks); stopping the
# band short only costs a re-plan there.
SEARCH_SPAN_TICKS = 1 << 20


class RefusalBand(msgspec.Struct, frozen=True, gc=False):
    """Reference prices (mid ticks, inclusive) and times (before `until_ms`) in which the refused plan
    made with this order book version, position and kill-switch state stays refused the same way."""

    ref_lo: int
    ref_hi: int
    until_ms: int
    orders_version: int
    position_lots: int
    kill_switch: bool
    crossed: tuple[int, int, int, int] | None  # the crossed-order hold the refused plan was made with

    @property
    def mid2_lo(self) -> int:
        """The band as bid + ask (half ticks): the reference price is (bid + ask) // 2."""
        return 2 * self.ref_lo

    @property
    def mid2_hi(self) -> int:
        return 2 * self.ref_hi + 1

    def covers(self, orders_version: int, position_lots: int, kill_switch: bool) -> bool:
        """True while nothing but the market moved since the refused plan."""
        return (
            orders_version == self.orders_version
            and position_lots == self.position_lots
            and kill_switch is self.kill_switch
        )


class _AtReference:
    """The caller's `RiskView`, read once, with one symbol's reference price replaceable."""

    __slots__ = ("_exposures", "_own", "_symbol", "_view", "ref")

    def __init__(self, view: RiskView, symbol: str) -> None:
        self._view, self._symbol, self.ref = view, symbol, 0
        self._exposures = {s: view.exposure(s) for s in view.symbols()}
        self._own = self._exposures.get(symbol) or view.exposure(symbol)

    def symbols(self) -> Iterable[str]:
        return self._exposures.keys()

    def exposure(self, symbol: str) -> SymbolExposure:
        if symbol == self._symbol:
            e = self._own
            return SymbolExposure(
                e.position_lots, e.working_buy_lots, e.working_sell_lots, e.open_orders, self.ref
            )
        exp = self._exposures.get(symbol)
        return exp if exp is not None else self._view.exposure(symbol)

    def working_order(self, client_order_id: str) -> tuple[int, int] | None:
        return self._view.working_order(client_order_id)


def verdict_range(
    guard: RiskGuard,
    view: RiskView,
    symbol: str,
    refused: Sequence[tuple[Command, str]],
    ref_ticks: int,
    lo: int,
    hi: int,
) -> tuple[int, int]:
    """The reference prices in [lo, hi] around `ref_ticks` at which the guard refuses each command of
    `refused` for the same reason it did at `ref_ticks` (everything else as `view` has it)."""

    at = _AtReference(view, symbol)

    def same(ref: int) -> bool:
        at.ref = ref
        for cmd, reason in refused:
            d = guard.verdict(cmd, at)
            if d.allowed or d.reason != reason:
                return False
        return True

    return _extent(same, ref_ticks, lo, hi)


def _extent(pred: Callable[[int], bool], x0: int, lo: int, hi: int) -> tuple[int, int]:
    """The largest [a, b] within [lo, hi] holding x0 on which `pred` is true, for a `pred` true at x0
    whose true set is one interval (bisection from each end)."""
    out: list[int] = []
    for end, step in ((hi, 1), (lo, -1)):
        if pred(end):
            out.append(end)
            continue
        good, bad = x0, end  # pred(good) true, pred(bad) false
        while (bad - good) * step > 1:
            mid = (good + bad) // 2
            if pred(mid):
                good = mid
            else:
                bad = mid
        out.append(good)
    return out[1], out[0]
