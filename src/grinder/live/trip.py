"""Loss limits that hold: the trip state survives restarts, and a trip flattens the position.

`TripKeeper` journals the risk guard's latch, reason, high-water mark, UTC day and day-start
equity whenever they change, and restores them at start (ADR-102); only the token-protected
`POST /control/reset-trip` clears a latch. `Flattener` runs after a DAILY_LOSS or DRAWDOWN trip:
quoting has stopped and our orders are cancelled; it closes each position with reduce-only IOC
orders in slices, each priced inside the slippage budget around the mid seen when flattening
began, so the loss past the trip is bounded by |position| × mid × flatten_slippage_bps.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from grinder.core.commands import CommandResult, Outcome, PlaceOrder
from grinder.core.enums import OrderType, Side, TimeInForce
from grinder.core.ids import ClientOrderIdFactory
from grinder.live.operator import FLATTEN_COMMAND
from grinder.risk.config import RiskConfig
from grinder.risk.guard import KillReason, RiskGuard, TripState
from grinder.store import Journal, JournalRiskState

if TYPE_CHECKING:
    from grinder.live.engine import LiveEngine

log = logging.getLogger(__name__)

LOSS_REASONS = frozenset({KillReason.DAILY_LOSS.value, KillReason.DRAWDOWN.value})
HWM_PERSIST_EVERY_MS = 5_000  # a rising high-water mark alone is journaled at most this often
FLATTEN_LEVEL = "flat"
_BPS = Decimal(10_000)


class TripKeeper:
    """Journals the guard's trip state on change; restores it at start."""

    def __init__(self, guard: RiskGuard, store: Journal | None) -> None:
        self.guard = guard
        self.store = store
        self._last: TripState | None = None
        self._last_ms = 0

    def restore(self) -> TripState | None:
        if self.store is None:
            return None
        row = self.store.last_risk_state()
        if row is None:
            return None
        state = TripState(row.latched, row.reason, row.high_water, row.utc_day, row.day_start_equity)
        self.guard.restore_trip_state(state)
        self._last = state
        log.warning("risk state restored latched=%s reason=%s high_water=%s utc_day=%s day_start_equity=%s",
                    state.latched, state.reason, state.high_water, state.utc_day, state.day_start_equity)
        return state

    def persist(self, now_ms: int, note: str = "", *, force: bool = False) -> None:
        """Journal the state if it changed (a rising high-water mark alone: at most every 5 s).

        A MANUAL kill switch is not journaled as a latch: it lasts until restart (Runbook 02 §6)."""
        if self.store is None:
            return
        st = self.guard.trip_state()
        if st.latched and st.reason not in LOSS_REASONS:
            st = TripState(False, None, st.high_water, st.utc_day, st.day_start_equity)
        last = self._last
        if not force and last == st:
            return
        only_hwm = last is not None and (last.latched, last.reason, last.utc_day, last.day_start_equity) == (
            st.latched, st.reason, st.utc_day, st.day_start_equity)
        if not force and only_hwm and now_ms - self._last_ms < HWM_PERSIST_EVERY_MS:
            return
        try:
            self.store.append_risk_state(JournalRiskState(now_ms, st.latched, st.reason, st.high_water,
                                                          st.utc_day, st.day_start_equity, note))
        except Exception:
            log.exception("journal write of the risk state failed; retried on the next pass")
            return
        self._last, self._last_ms = st, now_ms


def loss_tripped(guard: RiskGuard) -> str | None:
    """The loss-limit reason when the latch is engaged by DAILY_LOSS or DRAWDOWN, else None."""
    reason = guard.kill_switch_reason
    return reason if reason in LOSS_REASONS else None


class Flattener:
    """Closes every position of the engine with reduce-only IOC slices inside the slippage budget."""

    def __init__(self, engine: LiveEngine, risk: RiskConfig, ids: ClientOrderIdFactory) -> None:
        self.engine = engine
        self.risk = risk
        self.ids = ids
        self.anchors: dict[str, int] = {}  # symbol -> mid (ticks) when flattening began
        self.budget_usdt = Decimal(0)
        self.sent = 0
        self.done = False
        self._warned: set[str] = set()

    def status(self) -> dict[str, Any]:
        return {"anchors": dict(self.anchors), "slippage_budget_usdt": str(self.budget_usdt),
                "slices_sent": self.sent, "done": self.done}

    def _limit_ticks(self, side: Side, anchor: int) -> int:
        bps = self.risk.flatten_slippage_bps
        raw = Decimal(anchor) * (1 - bps / _BPS) if side is Side.SELL else Decimal(anchor) * (1 + bps / _BPS)
        return int(raw.to_integral_value(rounding=ROUND_CEILING if side is Side.SELL else ROUND_FLOOR))

    def _slice(self, sym: str, position_lots: int) -> PlaceOrder | None:
        view = self.engine.views[sym]
        if view.bid_ticks <= 0 or view.ask_ticks <= 0:
            return None
        side = Side.SELL if position_lots > 0 else Side.BUY
        if sym not in self.anchors:
            self.anchors[sym] = (view.bid_ticks + view.ask_ticks) // 2
            rules = view.rules
            self.budget_usdt += rules.notional(self.anchors[sym], abs(position_lots)) * (
                self.risk.flatten_slippage_bps / _BPS)
            log.warning("flatten start symbol=%s position_lots=%d anchor_ticks=%d budget_usdt=%s", sym,
                        position_lots, self.anchors[sym], self.budget_usdt)
        limit = self._limit_ticks(side, self.anchors[sym])
        touch = view.bid_ticks if side is Side.SELL else view.ask_ticks
        if (side is Side.SELL and touch < limit) or (side is Side.BUY and touch > limit):
            if sym not in self._warned:
                self._warned.add(sym)
                log.error("flatten paused symbol=%s: the market moved past the slippage budget "
                          "(touch %d, limit %d ticks); %d lots still open. Close it with `%s` or widen "
                          "[risk] flatten_slippage_bps", sym, touch, limit, position_lots,
                          FLATTEN_COMMAND.format(symbol=sym))
            return None
        self._warned.discard(sym)
        rules = view.rules
        unit = rules.tick_size * rules.step_size
        slice_lots = max(1, int(self.risk.flatten_slice_notional / unit / limit))
        qty = min(abs(position_lots), slice_lots)
        return PlaceOrder(symbol=sym, side=side, order_type=OrderType.LIMIT, qty_lots=qty,
                          client_order_id=self.ids.next_id(sym, FLATTEN_LEVEL), price_ticks=limit,
                          time_in_force=TimeInForce.IOC, reduce_only=True, level=FLATTEN_LEVEL)

    async def run(self) -> None:
        """Slice until every position is flat; pauses (and retries) while gates or the budget stop it."""
        eng = self.engine
        interval = self.risk.flatten_interval_s
        while True:
            open_positions = {s: eng.parts.pipeline.position_lots(s) for s in eng.views}
            open_positions = {s: lots for s, lots in open_positions.items() if lots}
            if not open_positions:
                if not self.done:
                    log.warning("flatten complete: every position is flat slices=%d", self.sent)
                self.done = True
                await asyncio.sleep(interval)
                continue
            self.done = False
            if eng.writable():
                # Grid orders still resting (a cancel refused by the rate budget, a late ack): cancel first.
                eng.dispatcher.dispatch(eng.parts.pipeline.cancel_all(eng.clock.now_ms()))
                for sym, lots in open_positions.items():
                    cmd = self._slice(sym, lots)
                    if cmd is not None:
                        await self._send(cmd)
            await asyncio.sleep(interval)

    async def _send(self, cmd: PlaceOrder) -> None:
        eng = self.engine
        now_ms = eng.clock.now_ms()
        try:
            eng.parts.journal.record_command(cmd, now_ms)
        except Exception:
            log.exception("flatten slice not sent: journal write failed")
            return
        try:
            res = await eng.parts.connector.submit(cmd)
        except Exception as exc:
            res = CommandResult(cmd, Outcome.UNKNOWN, reason=f"connector raised {type(exc).__name__}")
        self.sent += 1
        try:
            eng.parts.journal.record_result(res, eng.clock.now_ms())
        except Exception:
            log.exception("journal write of a flatten result failed")
        eng.dispatcher.count("place", res)
        log.warning("flatten slice symbol=%s side=%s qty_lots=%d price_ticks=%s outcome=%s reason=%s",
                    cmd.symbol, cmd.side.value, cmd.qty_lots, cmd.price_ticks, res.outcome.value, res.reason)
        if eng.parts.poll_user_events is not None:
            eng.parts.poll_user_events()
