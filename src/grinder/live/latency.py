"""The live engine's latency figures: tick-to-order (every request, a tick's first, a tick's last),
decision compute and order round trip, as windows for /status and as Prometheus histograms."""

from __future__ import annotations

import contextvars
from typing import Any

from grinder.live.state import LatencyWindow
from grinder.ops import metrics


class TickOrders:
    """The commands one market message caused: when it arrived, how many are still unsent, first write.

    Tick-to-first-order is the latency of the first of them to reach the socket; tick-to-all-orders
    the latency of the last one (commands refused before the socket do not count).
    """

    __slots__ = ("first_ns", "last_ns", "left", "recv_ns", "symbol")

    def __init__(self, recv_ns: int, symbol: str, count: int) -> None:
        self.recv_ns = recv_ns
        self.symbol = symbol
        self.left = count
        self.first_ns = 0
        self.last_ns = 0


# The tick behind the command being sent. The REST session's trace hook reads it when the
# request headers are written (`LatencyTracker.order_written`): tick-to-order latency.
TICK_ORDERS: contextvars.ContextVar[TickOrders | None] = contextvars.ContextVar(
    "grinder_tick_orders", default=None
)


class LatencyTracker:
    """Every latency sample the engine takes, kept for display and observed into the histograms."""

    def __init__(self) -> None:
        self.tick_to_order = LatencyWindow()  # every command caused by a market message
        self.tick_to_first_order = LatencyWindow()  # per message: its first request written
        self.tick_to_all_orders = LatencyWindow()  # per message: its last request written
        self.decision = LatencyWindow()  # pipeline compute for an event that produced commands
        self.order_roundtrip = LatencyWindow()
        self._children: dict[str, tuple[Any, Any, Any]] = {}

    def _tick_metrics(self, symbol: str) -> tuple[Any, Any, Any]:
        children = self._children.get(symbol)
        if children is None:
            children = self._children[symbol] = (
                metrics.TICK_TO_ORDER_SECONDS.labels(symbol),
                metrics.TICK_TO_FIRST_ORDER_SECONDS.labels(symbol),
                metrics.TICK_TO_ALL_ORDERS_SECONDS.labels(symbol),
            )
        return children

    def order_written(self, tick: TickOrders, now_ns: int) -> None:
        """A request caused by `tick` reached the socket (headers written) at `now_ns`."""
        ns = now_ns - tick.recv_ns
        every, first, last = self._tick_metrics(tick.symbol)
        self.tick_to_order.add(ns)
        every.observe(ns / 1e9)
        if not tick.first_ns:
            tick.first_ns = now_ns
            self.tick_to_first_order.add(ns)
            first.observe(ns / 1e9)
        tick.last_ns = now_ns
        tick.left -= 1
        if tick.left == 0:
            self.tick_to_all_orders.add(ns)
            last.observe(ns / 1e9)

    def order_not_written(self, tick: TickOrders) -> None:
        """A command caused by `tick` was refused before the socket (gate, limit, rate budget)."""
        tick.left -= 1
        if tick.left == 0 and tick.last_ns:
            ns = tick.last_ns - tick.recv_ns
            self.tick_to_all_orders.add(ns)
            self._tick_metrics(tick.symbol)[2].observe(ns / 1e9)

    def roundtrip(self, kind: str, outcome: str, ns: int) -> None:
        """A command's answer arrived `ns` after it was sent."""
        self.order_roundtrip.add(ns)
        metrics.ORDER_ROUNDTRIP_SECONDS.labels(kind, outcome).observe(ns / 1e9)

    def as_dict(self) -> dict[str, Any]:
        return {"tick_to_order": self.tick_to_order.as_dict(),
                "tick_to_first_order": self.tick_to_first_order.as_dict(),
                "tick_to_all_orders": self.tick_to_all_orders.as_dict(),
                "decision": self.decision.as_dict(),
                "order_roundtrip": self.order_roundtrip.as_dict()}
