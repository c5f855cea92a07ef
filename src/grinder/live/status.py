"""What the live engine reports to operators: /readyz (ready, or every reason it is not), /status,
and the adapter that serves both (and the /control actions) to the ops server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from grinder.connector.config import env_flag
from grinder.core.enums import SafeMode
from grinder.live import control
from grinder.live.trip import loss_tripped
from grinder.ops.server import Readiness

if TYPE_CHECKING:
    from grinder.live.engine import LiveEngine


def readiness(engine: LiveEngine) -> Readiness:
    """Ready to trade, or every reason the engine is not (each one names what to look at)."""
    p = engine.parts
    reasons: list[str] = []
    if engine.phase != "running":
        reasons.append(f"engine {engine.phase}")
    now_ms = engine.clock.now_ms()
    for sym, view in engine.views.items():
        if not view.last_tick_ms:
            reasons.append(f"no market data yet for {sym}")
        elif now_ms - view.last_tick_ms > engine.config.stale_feed_s * 1000:
            reasons.append(f"market data for {sym} stale ({(now_ms - view.last_tick_ms) / 1000:.1f}s)")
    if not p.market_connected():
        reasons.append("market stream disconnected")
    if engine.has_account and not p.user_connected():
        reasons.append("user-data stream disconnected or silent (no event or pong in its liveness time)")
    if engine.write_block is not None and p.want_armed:
        reasons.append(f"writes blocked ({engine.write_block})")
    cfg = p.connector.config
    if p.want_armed and not cfg.armed:
        reasons.append("follower: only the leader is armed" if engine.role == "follower" else "disarmed")
    elif not p.want_armed:
        reasons.append(f"not configured to trade (mode={cfg.mode.value} armed={cfg.armed})")
    if engine.kill_switch:
        reasons.append("kill switch engaged")
    tripped = loss_tripped(p.pipeline.guard)
    if tripped is not None:
        reasons.append(f"loss limit tripped ({tripped}): reset with POST /control/reset-trip")
    blocked = p.exchange_block() if p.exchange_block is not None else None
    if blocked is not None:
        reasons.append(blocked)
    return Readiness(role=engine.role, ready=not reasons, reasons=tuple(reasons))


def status(engine: LiveEngine) -> dict[str, Any]:
    """The /status body: mode, gates, streams, per-symbol views, order counts, latencies, jobs."""
    p = engine.parts
    cfg = p.connector.config
    ready = readiness(engine)
    now_ms = engine.clock.now_ms()
    port = p.port
    feed: dict[str, Any] = {
        s: {"age_s": None if not v.last_tick_ms else round((now_ms - v.last_tick_ms) / 1000, 3),
            "ticks": v.ticks}
        for s, v in engine.views.items()
    }
    deadman = engine.deadman
    return {
        "mode": cfg.mode.value,
        "armed": cfg.armed,
        "role": ready.role,
        "ready": ready.ready,
        "reasons": list(ready.reasons),
        "phase": engine.phase,
        "quoting": engine.quoting and engine.write_block is None,
        "write_block": engine.write_block,
        "kill_switch": engine.kill_switch,
        "uptime_s": round((engine.clock.monotonic_ns() - engine.started_mono) / 1e9, 3),
        "exchange": port.base_url,
        "gates": {
            "armed": cfg.armed,
            "mode_live_trade": cfg.mode is SafeMode.LIVE_TRADE,
            "mainnet_ok": not port.is_mainnet or env_flag(os.environ, "ALLOW_MAINNET_TRADE"),
            "futures_port": cfg.futures_port is not None,
        },
        "streams": {"market": p.market_connected(), "user": p.user_connected()},
        "symbols": {s: v.as_dict() for s, v in engine.views.items()},
        "feed": feed,
        "orders": engine.counts.as_dict(),
        "inflight": len(engine.dispatcher.inflight),
        "latency": engine.latency.as_dict(),
        "recent_fills": list(engine.recent_fills)[-10:],
        "pipeline": p.pipeline.status(),
        "flatten": None if engine.flattener is None else engine.flattener.status(),
        "deadman": None if deadman is None else {"countdown_ms": deadman.countdown_ms,
                                                 "refreshes": deadman.refreshes},
    }


class EngineHooks:
    """Adapter from the engine to the ops server's `OpsHooks` protocol."""

    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine

    def readiness(self) -> Readiness:
        return readiness(self.engine)

    def status(self) -> Mapping[str, Any]:
        return status(self.engine)

    async def disarm(self, reason: str) -> Mapping[str, Any]:
        return await control.disarm(self.engine, reason)

    async def kill_switch(self, reason: str) -> Mapping[str, Any]:
        return await control.kill_switch(self.engine, reason)

    async def cancel_all(self, reason: str) -> Mapping[str, Any]:
        return await control.cancel_all(self.engine, reason)

    async def reset_trip(self, reason: str) -> Mapping[str, Any]:
        return await control.reset_trip(self.engine, reason)
