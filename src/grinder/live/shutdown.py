"""Shutdown on SIGTERM / SIGINT that ends in a known state on the exchange.

Stop quoting, let in-flight commands finish, cancel our working orders where the gates allow it,
then confirm by a query of open orders. If any order of ours is still open (a gate is closed, the
exchange refused, the query failed) the engine logs ONE error line listing every open order of
ours and every position with the command that clears it, and the process exits with
`EXIT_ORDERS_LEFT` (3) instead of 0. Positions alone do not change the exit code (a grid usually
holds one); they are listed at WARNING with the flatten command. An engine started without the
intent to trade (READ_ONLY or disarmed in its config: an observer) and an HA follower never touch
or report orders: those belong to whoever placed them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from grinder.connector.port import PositionState
from grinder.core.aio import within
from grinder.live.operator import CancelReport, cancel_ours, leftovers_message, our_open_orders

if TYPE_CHECKING:
    from grinder.live.engine import LiveEngine

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_CONFIG = 2
EXIT_ORDERS_LEFT = 3  # stopped, but orders of ours are still open on the exchange (see the ERROR line)
POSITIONS_TIMEOUT_S = 3.0


async def stop_orders(engine: LiveEngine, deadline: float) -> CancelReport | None:
    """`cancel_on_shutdown` bounded by the shutdown deadline: past it, nothing is confirmed."""
    try:
        budget = max(1.0, deadline - engine.mono_s())
        return await within(cancel_on_shutdown(engine, deadline), budget)
    except TimeoutError:
        return CancelReport("shutdown", query_error="no answer before [engine] shutdown_timeout_s")
    except Exception as exc:
        return CancelReport("shutdown", query_error=f"{type(exc).__name__}: {exc}")


async def cancel_on_shutdown(engine: LiveEngine, deadline: float) -> CancelReport | None:
    """Cancel our orders (gated) and confirm by query; None when there is nothing to check."""
    p = engine.parts
    if not engine.has_account or engine.role == "follower" or not engine.configured_to_trade:
        return None  # a follower's book belongs to the leader; an observer never had orders
    symbols = engine.config.symbols
    if not engine.config.cancel_on_shutdown:
        try:
            left = await our_open_orders(p.connector, symbols)
        except Exception as exc:
            log.warning("shutdown: cannot list open orders: %s", exc)
            return None
        if left:
            log.warning("shutdown leaves %d orders of ours open ([engine] cancel_on_shutdown = false)",
                        len(left))
        return None
    block = p.connector.check_gates("cancel_order")
    report = await cancel_ours(p.connector, symbols, action="shutdown", operator=False,
                               recorder=engine.recorder())
    # Orders still in flight when the first list was taken: one more pass while there is time.
    while block is None and report.open_after and engine.mono_s() < deadline:
        await asyncio.sleep(0.2)
        report = await cancel_ours(p.connector, symbols, action="shutdown", operator=False,
                                   recorder=engine.recorder())
    return report


async def report_leftovers(engine: LiveEngine, report: CancelReport | None) -> int:
    """Log what is left on the exchange; the process exit code (0 or EXIT_ORDERS_LEFT)."""
    if report is None:
        return EXIT_OK
    positions: list[PositionState] = []
    try:
        listed = await within(engine.parts.port.positions(), POSITIONS_TIMEOUT_S)
        positions = [ps for ps in listed if ps.symbol in engine.views]
    except Exception as exc:
        log.warning("shutdown: cannot read positions: %s", exc)
    if not report.clean:
        why = "shutdown could not confirm our orders are cancelled"
        if report.query_error is not None:
            why += f" (open-orders query failed: {report.query_error})"
        elif report.count("blocked"):
            blocked = {o.reason for o in report.outcomes if o.outcome == "blocked"}
            why += f" (blocked by {', '.join(sorted(blocked))})"
        log.error(leftovers_message(report.open_after, positions, why))
        return EXIT_ORDERS_LEFT
    if positions:
        log.warning(leftovers_message((), positions, "shutdown complete, no order of ours open"))
    else:
        log.info("shutdown complete: no order of ours open, no position (confirmed by query)")
    return EXIT_OK
