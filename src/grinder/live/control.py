"""The engine's control actions (`/control/*`), each answering with what the exchange did.

- kill switch: latch, stop quoting, cancel our orders through every gate, disarm. From a disarmed
  engine every cancel is `blocked` by the armed gate, and the answer says so (0 accepted).
- cancel-all: disarm strategy writes, then cancel our orders as an explicit operator action
  (allowed while disarmed, ADR-100), confirmed by a query of open orders.
- disarm: no write from the next one on; the answer lists our orders still resting.
- reset-trip: clear a loss-limit latch (journaled); limits restart from the current equity.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from grinder.core.commands import CancelOrder, CommandResult
from grinder.live.operator import CANCEL_ALL_COMMAND, cancel_ours, our_open_orders

if TYPE_CHECKING:
    from grinder.live.engine import LiveEngine

log = logging.getLogger(__name__)


class EngineRecorder:
    """Journals an operator cancel and applies it to the order manager, as engine commands are."""

    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine

    def before(self, cmd: CancelOrder) -> None:
        eng = self.engine
        try:
            eng.parts.journal.record_command(cmd, eng.clock.now_ms())
        except Exception:
            log.exception("journal write of an operator cancel failed order_id=%s", cmd.client_order_id)
        eng.parts.pipeline.orders.on_submitted(cmd)

    def after(self, res: CommandResult) -> None:
        self.engine.dispatcher.apply_result(res)
        self.engine.dispatcher.count("cancel", res)


async def _quiesce(engine: LiveEngine) -> None:
    """Stop quoting and let the commands already in flight finish."""
    engine.pause_quoting()
    await engine.dispatcher.drain(engine.mono_s() + engine.config.shutdown_timeout_s)


async def kill_switch(engine: LiveEngine, reason: str) -> Mapping[str, Any]:
    engine.kill_switch = True
    engine.parts.pipeline.engage_kill_switch("MANUAL")
    await _quiesce(engine)
    log.warning("kill switch engaged reason=%s", reason)
    report = await cancel_ours(engine.parts.connector, engine.config.symbols, action="kill_switch",
                               operator=False, recorder=EngineRecorder(engine))
    engine.parts.want_armed = False
    engine.apply_role()
    body = {"kill_switch": True, "armed": engine.parts.connector.config.armed, **report.as_dict()}
    body["cancelled"] = report.count("accepted")
    return body


async def cancel_all(engine: LiveEngine, reason: str) -> Mapping[str, Any]:
    engine.parts.want_armed = False
    engine.apply_role()
    await _quiesce(engine)
    log.warning("operator cancel-all reason=%s (strategy writes disarmed)", reason)
    report = await cancel_ours(engine.parts.connector, engine.config.symbols, action="cancel_all",
                               operator=True, recorder=EngineRecorder(engine))
    return {"armed": engine.parts.connector.config.armed, **report.as_dict()}


async def disarm(engine: LiveEngine, reason: str) -> Mapping[str, Any]:
    engine.parts.want_armed = False
    engine.apply_role()
    log.warning("engine disarmed reason=%s", reason)
    body: dict[str, Any] = {"armed": engine.parts.connector.config.armed, "reason": reason}
    if engine.has_account:
        try:
            left = await our_open_orders(engine.parts.connector, engine.config.symbols)
            body["open_orders"] = [o.client_order_id for o in left]
            if left:
                body["fix"] = (f"{len(left)} orders of ours still rest on the exchange: clear them with "
                               f"POST /control/cancel-all or `{CANCEL_ALL_COMMAND}`")
                if engine.deadman is not None and engine.deadman.refreshes:
                    body["deadman"] = (f"no longer refreshed: the exchange cancels every open order of "
                                       f"these symbols within {engine.deadman.countdown_ms / 1000:.0f}s")
        except Exception as exc:
            body["open_orders_error"] = f"{type(exc).__name__}: {exc}"
    return body


async def reset_trip(engine: LiveEngine, reason: str) -> Mapping[str, Any]:
    guard = engine.parts.pipeline.guard
    before = guard.kill_switch_reason
    guard.reset_trip()
    engine.kill_switch = False
    engine.trip.persist(engine.clock.now_ms(), note=f"operator reset: {reason}", force=True)
    engine.stop_flatten()
    engine.resume_quoting()
    log.warning("risk trip reset previous=%s reason=%s", before, reason)
    return {"reset": before is not None, "previous_reason": before,
            "armed": engine.parts.connector.config.armed, "risk": guard.status()}

