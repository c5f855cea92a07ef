"""`TradingPipeline`: strategy → risk guard → order manager, one object for live, paper and backtest.

Per symbol it feeds market events to the strategy, asks for the desired quote set when the market
left the strategy's quiet band (or anything else changed), diffs it against our working orders,
and passes every command through the risk guard. What comes out is already risk-filtered; what
was refused is kept as a `BlockedCommand` for the journal. Pure and deterministic: time is the
`now_ms` argument, there is no I/O (ADR-047).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from grinder.api import (
    ReportsStats,
    Strategy,
    StrategyFactory,
    WarmsUp,
)
from grinder.core.blocks import BlockKind, BlockReason
from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import Side
from grinder.core.events import (
    AccountUpdate,
    BookTicker,
    DepthUpdate,
    Fill,
    MarketEvent,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.quotes import DesiredQuote, QuietBand
from grinder.core.rules import SymbolRules
from grinder.execution import metrics
from grinder.execution.config import ExecutionConfig
from grinder.execution.order_manager import OrderManager, WorkingOrder
from grinder.execution.refusal import SEARCH_SPAN_TICKS, RefusalBand, verdict_range
from grinder.execution.symbol_state import INT_MAX, INT_MIN, NO_REACH, SymbolState, build_symbol_state
from grinder.execution.write_budget import WriteBudget
from grinder.risk.config import RiskConfig
from grinder.risk.guard import RiskGuard, RiskReason, SymbolExposure

log = logging.getLogger(__name__)

# The write-budget pressure is re-read on the first event at least this long after the last read.
PRESSURE_REREAD_MS = 100


@dataclass(frozen=True, slots=True)
class BlockedCommand:
    """A command the risk guard refused: journal it (reason is a `RiskReason` string)."""

    command: Command
    reason: str
    time_ms: int

    @property
    def block(self) -> BlockReason:
        return BlockReason(BlockKind.RISK, self.reason)


class TradingPipeline:
    """Strategy + RiskGuard + OrderManager for a set of symbols of one account."""

    def __init__(
        self,
        symbols_rules: Mapping[str, SymbolRules],
        strategy_config: Any,
        risk_config: RiskConfig,
        execution_config: ExecutionConfig,
        id_factory: ClientOrderIdFactory,
        *,
        strategy_factory: StrategyFactory,
    ) -> None:
        """`strategy_factory(StrategyContext(symbol, rules, strategy_config))` builds each symbol's
        strategy (`grinder.strategy.grid_factory` for the grid; see `grinder.api`)."""
        if not symbols_rules:
            raise ValueError("TradingPipeline needs at least one symbol with its SymbolRules")
        self.config = execution_config
        self.guard = RiskGuard(risk_config, symbols_rules)
        self.orders = OrderManager(execution_config, id_factory)
        self.writes = WriteBudget(execution_config)  # per account: every symbol draws on it
        self._pressure = 0
        self._pressure_ms = INT_MIN
        self._symbols: dict[str, SymbolState] = {
            sym: build_symbol_state(strategy_factory, sym, rules, strategy_config)
            for sym, rules in symbols_rules.items()
        }
        self._blocked: list[BlockedCommand] = []
        self._last_block: dict[tuple[str, str], str] = {}
        self._fills: list[Fill] = []
        self._seen_fills: OrderedDict[tuple[str, int, str], None] = OrderedDict()
        self._wallet: Decimal | None = None
        self._last_equity_ms: int | None = None

    # ----------------------------------------------------------------- market side
    def on_market_event(self, ev: MarketEvent, now_ms: int) -> list[Command]:
        """Feed one market event; returns the risk-approved commands to send, most urgent first."""
        st = self._symbols.get(ev.symbol)
        if st is None:
            return []
        hold = self.config.crossed_hold_ms
        if st.orders_version != self.orders.version:
            self._order_bounds(ev.symbol, st)
        if isinstance(ev, BookTicker):
            st.bid_ticks, st.ask_ticks = ev.bid_ticks, ev.ask_ticks
            st.book_ms = max(st.book_ms, ev.transaction_time_ms)
            st.reach(ev.ask_ticks, ev.bid_ticks, now_ms, hold)
            if st.fill_ms:
                st.on_book(ev)
        elif isinstance(ev, MarkPrice):
            st.mark_ticks = st.rules.nearest_ticks(ev.mark_price)
        elif isinstance(ev, Trade):
            st.last_trade_ticks = ev.price_ticks
            st.reach(ev.price_ticks, ev.price_ticks, now_ms, hold)
        st.strategy.on_event(ev)
        self._refresh_equity(now_ms)
        if not self._needs_plan(st, ev, now_ms):
            return []
        if hold and isinstance(ev, Trade) and ev.trade_time_ms > st.book_ms > 0:
            # A print newer than our book: the book of that instant is on its way and may be through
            # our prices already. Plan on it, not on the stale one (maker orders sent now were
            # refused -5022, cancels hit orders filled that instant -2011; ADR-261). A hold like
            # the crossed holds: off with them (crossed_hold_ms = 0, the reference grid).
            st.dirty = True
            return []
        return self._plan(ev.symbol, st, now_ms)

    def _order_bounds(self, symbol: str, st: SymbolState) -> None:
        top, low = INT_MIN, INT_MAX
        for wo in self.orders.working_orders(symbol):
            prices = (wo.price_ticks, wo.amend_to[0]) if wo.amend_to is not None else (wo.price_ticks,)
            if wo.side is Side.BUY:
                top = max(top, *prices)
            else:
                low = min(low, *prices)
        st.top_buy, st.low_sell, st.orders_version = top, low, self.orders.version

    def write_pressure(self, now_ms: int) -> int:
        """The account's write-budget pressure (0 normal, 1-2 thin the grid), re-read every 100 ms."""
        if now_ms - self._pressure_ms >= PRESSURE_REREAD_MS or now_ms < self._pressure_ms:
            pressure = self.writes.pressure(now_ms)
            if pressure != self._pressure:
                log.info("write_pressure from=%d to=%d time_ms=%d", self._pressure, pressure, now_ms)
                self._pressure = pressure
            self._pressure_ms = now_ms
        return self._pressure

    def pressure_read_ms(self) -> int:
        """When the write-budget pressure was last read (`write_pressure`)."""
        return self._pressure_ms

    def pressure_settled(self, now_ms: int) -> bool:
        """The pressure read last and the budget's pressure now are both 0: with nothing sent, buckets
        only refill, so every later read gives 0 too."""
        return self._pressure == 0 and self.writes.pressure(now_ms) == 0

    def note_pressure_read(self, read_ms: int) -> None:
        """A caller that skipped events (each of which would have re-read a settled pressure, as 0)
        sets the time of the last of those reads, so later reads happen when they would have."""
        self._pressure_ms = read_ms

    def _needs_plan(self, st: SymbolState, ev: MarketEvent, now_ms: int) -> bool:
        if st.dirty and not self._refusal_holds(st, now_ms):
            return True
        band = st.band
        if band is None:
            return True
        if not isinstance(ev, BookTicker | Trade) and not (band.covers_depth and isinstance(ev, DepthUpdate)):
            return True
        if st.pressure != self.write_pressure(now_ms):
            return True
        if st.planned_under_kill is not self.guard.kill_switch_engaged:
            return True  # the latch moved (possibly straight on the guard): re-plan now
        if st.bid_ticks is None or st.ask_ticks is None:
            return True
        if not (band.position_lots == st.position_lots and band.contains(st.bid_ticks, st.ask_ticks, now_ms)):
            return True
        if st.dirty and st.blocked_inputs is not None:
            # Inside the refusal band a plan would be refused again whole, changing nothing but the
            # remembered inputs' reference price: keep that, as the plan would have.
            bi = st.blocked_inputs
            st.blocked_inputs = (bi[0], st.reference_ticks, *bi[2:])
        return False

    def _refusal_holds(self, st: SymbolState, now_ms: int) -> bool:
        """The last plan was refused whole and only the market moved since, inside its refusal band."""
        band = st.refused
        if band is None or st.blocked_inputs is None or st.fill_ms or now_ms >= band.until_ms:
            return False
        if not band.covers(self.orders.version, st.position_lots, self.guard.kill_switch_engaged):
            return False
        ref = st.reference_ticks
        return ref is not None and band.ref_lo <= ref <= band.ref_hi

    def quiet_refusal(self, symbol: str) -> RefusalBand | None:
        """The refusal band of `symbol`'s last plan while it still holds apart from price and time
        (a backtester may skip rows inside it and the quiet band, as `on_market_event` plans nothing
        there), else None."""
        st = self._symbols[symbol]
        band = st.refused
        if band is None or st.blocked_inputs is None or st.fill_ms:
            return None
        if not band.covers(self.orders.version, st.position_lots, self.guard.kill_switch_engaged):
            return None
        return band

    def _plan(self, symbol: str, st: SymbolState, now_ms: int) -> list[Command]:
        st.pressure = self.write_pressure(now_ms)
        if st.thin is not None:
            st.thin(st.pressure)
        qs = st.strategy.desired_quotes(st.position_lots, now_ms)
        if st.band_of is not None:
            st.band = st.band_of()
        st.mode, st.quote_reason = str(qs.mode), str(qs.reason)
        quotes: Iterable[DesiredQuote] = qs.quotes
        st.planned_under_kill = self.guard.kill_switch_engaged
        if st.planned_under_kill:
            # Only quotes that shrink the position survive; the plan cancels everything else.
            quotes = [q for q in qs.quotes if q.side.sign * st.position_lots < 0]
        budget = min(
            self.guard.rate_budget_available(now_ms),
            self.writes.available(now_ms),
            self.config.max_commands_per_event,
        )
        # under the kill switch nothing is held back: every order that can add risk goes now
        crossed = None if st.planned_under_kill else st.crossed(now_ms, self.config.crossed_hold_ms)
        # Everything the plan and the guard's verdicts on it depend on (other symbols only matter to
        # MAX_TOTAL_POSITION, which is never remembered). When the last plan had the same inputs and
        # every command of it was refused, this one would be refused again for the same reasons,
        # which are already recorded: skip it, allocating no client ids for doomed orders. The
        # crossed-order hold is one of them: when it ends, a held order joins the plan.
        inputs = (
            tuple(quotes),
            st.reference_ticks,
            st.position_lots,
            st.planned_under_kill,
            self.guard.equity is None,
            budget,
            self.orders.version,
            crossed,
        )
        if inputs == st.blocked_inputs or self._refused_again(st, inputs):
            st.blocked_inputs = inputs
            st.dirty = True  # as after the refused plan: plan again when something changes
            st.refused = self._renewed_refusal(st, now_ms)
            return []
        st.blocked_inputs = None
        st.refused = None
        refused: list[tuple[Command, str]] = []
        # New orders get their client id only once the guard lets them through.
        planned = self.orders.plan(
            symbol,
            quotes,
            mid_ticks=st.reference_ticks,
            position_lots=st.position_lots,
            budget=budget,
            allocate_ids=False,
            crossed=crossed,
        )
        approved: list[Command] = []
        remember = True
        for cmd in planned:
            decision = self.guard.check(cmd, self, now_ms)
            key = (symbol, _level_of(cmd, self.orders))
            if decision.allowed:
                if isinstance(cmd, PlaceOrder):
                    cmd = self.orders.issue_id(cmd)
                self.orders.on_submitted(cmd)
                self.writes.take(now_ms)
                approved.append(cmd)
                self._last_block.pop(key, None)
                continue
            if decision.reason not in _REPEATABLE_BLOCKS:
                remember = False
            refused.append((cmd, decision.reason))
            if self._last_block.get(key) != decision.reason:
                # Record a block once per level and reason, not on every tick it persists.
                self._last_block[key] = decision.reason
                self._blocked.append(BlockedCommand(cmd, decision.reason, now_ms))
                log.info(
                    "risk_block symbol=%s client_order_id=%s reason=%s",
                    symbol,
                    cmd.client_order_id,
                    decision.reason,
                )
        # Plan again on the next event while anything is left to do (budget, blocks, in flight).
        st.dirty = bool(planned) or budget == 0 or self.orders.held > 0
        if planned and not approved and remember:
            st.blocked_inputs = inputs
            st.refused = self._refusal_band(symbol, st, refused, budget, now_ms)
        return approved

    @staticmethod
    def _refused_again(st: SymbolState, inputs: tuple[Any, ...]) -> bool:
        """The last plan was refused whole, and this one differs from it only in a reference price
        inside that plan's refusal band (its time ran out, e.g. on the strategy's evaluation grid, and
        the strategy answered the same): the same commands would be refused for the same reasons."""
        bi, band = st.blocked_inputs, st.refused
        if bi is None or band is None or inputs[0] != bi[0] or inputs[2:] != bi[2:]:
            return False
        ref = inputs[1]
        return (
            ref is not None
            and band.ref_lo <= ref <= band.ref_hi
            and band.covers(inputs[6], inputs[2], inputs[3])
            and band.crossed == inputs[7]
        )

    def _refusal_band(
        self, symbol: str, st: SymbolState, refused: list[tuple[Command, str]], budget: int, now_ms: int
    ) -> RefusalBand | None:
        """Where planning again would refuse the same commands for the same reasons (see
        grinder.execution.refusal), or None when something other than the mid could change that."""
        ref = st.reference_ticks
        band = st.band
        if ref is None or band is None or band.is_empty or st.fill_ms:
            return None
        # The budget only grows while nothing is sent, so at its cap it stays there; pressure only
        # falls, so at 0 it stays there.
        if budget != self.config.max_commands_per_event or st.pressure != 0:
            return None
        crossed, until = self._crossed_until(st, now_ms)
        lo, hi = self.orders.mid_range()
        lo = max(lo, band.mid2_lo // 2, ref - SEARCH_SPAN_TICKS)
        hi = min(hi, band.mid2_hi // 2, ref + SEARCH_SPAN_TICKS)
        if not lo <= ref <= hi:
            return None
        lo, hi = verdict_range(self.guard, self, symbol, refused, ref, lo, hi)
        kill = st.planned_under_kill
        return RefusalBand(lo, hi, until, self.orders.version, st.position_lots, kill, crossed)

    def _crossed_until(self, st: SymbolState, now_ms: int) -> tuple[tuple[int, int, int, int] | None, int]:
        """The crossed-order hold a plan now uses, and until when it stays the same (it changes when
        its clock bucket ends while the market has reached our orders lately)."""
        until = st.band.until_ms if st.band is not None else now_ms
        if st.planned_under_kill:
            return None, until
        hold = self.config.crossed_hold_ms
        crossed = st.crossed(now_ms, hold)
        if st.reach_now != NO_REACH or st.reach_prev != NO_REACH:
            until = min(until, (now_ms // hold + 1) * hold if hold > 0 else now_ms + 1)
        return crossed, until

    def _renewed_refusal(self, st: SymbolState, now_ms: int) -> RefusalBand | None:
        """The refusal band again after its time ran out with the plan's inputs unchanged: the same
        prices hold while the crossed-order hold is still the one the refused plan was made with."""
        band = st.refused
        if band is None or st.fill_ms or st.pressure != 0:
            return None
        if not band.covers(self.orders.version, st.position_lots, self.guard.kill_switch_engaged):
            return None
        crossed, until = self._crossed_until(st, now_ms)
        if crossed != band.crossed or until <= now_ms:
            return None
        return msgspec.structs.replace(band, until_ms=until)

    def cancel_all(self, now_ms: int, symbol: str | None = None) -> list[Command]:
        """Cancels for every open order (shutdown, disarm); each still spends an order-rate token."""
        out: list[Command] = []
        for cmd in self.orders.plan_cancel_all(symbol):
            decision = self.guard.check(cmd, self, now_ms)
            if decision.allowed:
                self.orders.on_submitted(cmd)
                self.writes.take(now_ms, force=True)  # counted, never held back
                out.append(cmd)
            else:
                self._blocked.append(BlockedCommand(cmd, decision.reason, now_ms))
        for st in self._symbols.values():
            st.dirty = True
        return out

    # ----------------------------------------------------------------- account side
    def on_user_event(self, ev: OrderUpdate | AccountUpdate) -> Fill | None:
        """Apply a user-stream event; returns the new Fill (None for duplicates and non-fills)."""
        if isinstance(ev, AccountUpdate):
            self._on_account_update(ev)
            return None
        st = self._symbols.get(ev.symbol)
        if st is None:
            return None
        fill: Fill | None = None
        if ev.is_fill:
            key = (ev.symbol, ev.trade_id, ev.client_order_id)
            if key in self._seen_fills:
                metrics.OM_DUPLICATE_FILLS.inc()
            else:
                self._seen_fills[key] = None
                while len(self._seen_fills) > self.config.fill_memory:
                    self._seen_fills.popitem(last=False)
                fill = Fill.from_order_update(ev)
                if self.config.crossed_hold_ms:
                    st.on_own_fill(fill)
                st.position_lots += ev.side.sign * ev.last_fill_lots
                st.strategy.on_fill(fill)
                self._fills.append(fill)
        self.orders.on_order_update(ev)
        st.dirty = True
        return fill

    def _on_account_update(self, ev: AccountUpdate) -> None:
        for bal in ev.balances:
            if bal.asset == self.config.margin_asset:
                self._wallet = bal.wallet_balance
        for pos in ev.positions:
            st = self._symbols.get(pos.symbol)
            if st is not None:
                st.entry_price = pos.entry_price
                st.account_amount_lots = pos.amount_lots
        self._last_equity_ms = None  # re-mark on the next event
        self._refresh_equity(ev.transaction_time_ms)

    def on_result(self, res: CommandResult) -> None:
        """Apply the outcome of a command we sent (or a gate's BLOCKED verdict on it)."""
        self.orders.on_result(res)
        st = self._symbols.get(res.command.symbol)
        if st is not None:
            st.dirty = True
        if res.outcome is Outcome.UNKNOWN:
            log.warning(
                "command_outcome_unknown symbol=%s client_order_id=%s reason=%s",
                res.command.symbol,
                res.command.client_order_id,
                res.reason,
            )

    def on_wallet_balance(self, wallet_balance: Decimal, now_ms: int) -> None:
        """Seed the margin-asset wallet balance (start-up account snapshot, backtest start)."""
        self._wallet = wallet_balance
        self._last_equity_ms = None
        self._refresh_equity(now_ms)

    def set_position(self, symbol: str, position_lots: int) -> None:
        """Adopt the exchange's position (start-up, reconciliation)."""
        st = self._symbols[symbol]
        st.position_lots = position_lots
        st.dirty = True

    def restore_orders(self, orders: Iterable[WorkingOrder]) -> None:
        """Adopt working orders believed open at restart (journal, then exchange reconciliation)."""
        self.orders.restore(orders)
        for st in self._symbols.values():
            st.dirty = True

    def seed_fill_keys(self, keys: Iterable[tuple[str, int, str]]) -> None:
        """Fills already applied before a restart ((symbol, trade_id, client_order_id), e.g.
        `Journal.fill_keys()`): replays of them from the user stream change nothing."""
        for key in keys:
            self._seen_fills[key] = None
        while len(self._seen_fills) > self.config.fill_memory:
            self._seen_fills.popitem(last=False)

    def engage_kill_switch(self, reason: str = "MANUAL") -> None:
        self.guard.engage_kill_switch(reason)
        for st in self._symbols.values():
            st.dirty = True

    def equity(self) -> Decimal | None:
        """Wallet balance plus unrealized PnL of the account positions at reference prices."""
        return self.equity_at({})

    def equity_at(self, ref_ticks: Mapping[str, int]) -> Decimal | None:
        """`equity()` with the reference prices of the symbols in `ref_ticks` replaced by those (what a
        backtester that skipped quotes computes for a re-mark inside the skip)."""
        if self._wallet is None:
            return None
        total = self._wallet
        for sym, st in self._symbols.items():
            ref = ref_ticks.get(sym, st.reference_ticks)
            if st.account_amount_lots and ref is not None:
                qty = st.rules.lots_to_qty(st.account_amount_lots)
                total += qty * (st.rules.ticks_to_price(ref) - st.entry_price)
        return total

    def _refresh_equity(self, now_ms: int) -> None:
        if self._wallet is None:
            return
        if self._last_equity_ms is not None and now_ms - self._last_equity_ms < self.config.equity_refresh_ms:
            return
        equity = self.equity()
        if equity is not None:
            self.note_equity_mark(equity, now_ms)

    def note_equity_mark(self, equity: Decimal, now_ms: int) -> None:
        """Re-mark `equity` at `now_ms` for the equity watch (the risk guard's drawdown and daily-loss
        latches). A backtester that skipped events calls it for the re-marks they would have made."""
        self._last_equity_ms = now_ms
        was_engaged = self.guard.kill_switch_engaged
        self.guard.on_equity(equity, now_ms)
        if self.guard.kill_switch_engaged and not was_engaged:
            for st in self._symbols.values():
                st.dirty = True

    # ----------------------------------------------------------------- RiskView
    def symbols(self) -> Iterable[str]:
        return self._symbols.keys()

    def exposure(self, symbol: str) -> SymbolExposure:
        st = self._symbols.get(symbol)
        if st is None:
            return SymbolExposure()
        buy, sell, count = self.orders.working_lots(symbol)
        return SymbolExposure(st.position_lots, buy, sell, count, st.reference_ticks)

    def working_order(self, client_order_id: str) -> tuple[int, int] | None:
        wo = self.orders.order(client_order_id)
        return None if wo is None else (wo.qty_lots, wo.filled_lots)

    # ----------------------------------------------------------------- queries
    def position_lots(self, symbol: str) -> int:
        return self._symbols[symbol].position_lots

    def strategy(self, symbol: str) -> Strategy:
        """The strategy object trading `symbol` (for its optional capabilities, see `grinder.api`)."""
        return self._symbols[symbol].strategy

    def quiet_state(self, symbol: str) -> tuple[QuietBand | None, bool]:
        """(the strategy's quiet band from the last plan or None, needs replanning on the next event).

        While the flag is False and market events stay inside the band (same position, before its
        expiry), `on_market_event` returns no commands: what a backtester may skip over."""
        st = self._symbols[symbol]
        return st.band, st.dirty

    def warm_up(self, symbol: str, bars: list[tuple[float, float, float]], source: str) -> bool:
        """Hand history bars to the symbol's strategy (when it takes them); True when it did."""
        strategy = self._symbols[symbol].strategy
        if not isinstance(strategy, WarmsUp):
            return False
        strategy.warm_up(bars, source)
        self._symbols[symbol].dirty = True
        return True

    def strategy_stats(self, symbol: str) -> dict[str, Any]:
        """The strategy's own report figures (adaptive spacing, skew), when it keeps any."""
        strategy = self._symbols[symbol].strategy
        return dict(strategy.stats()) if isinstance(strategy, ReportsStats) else {}

    def symbol_mode(self, symbol: str) -> str:
        """The strategy mode the last plan of `symbol` ran in (as `status()` reports it)."""
        return self._symbols[symbol].mode

    @property
    def last_equity_ms(self) -> int | None:
        """When equity was last re-marked for the risk guard (None: on the next event)."""
        return self._last_equity_ms

    def working_orders(self, symbol: str | None = None) -> list[WorkingOrder]:
        return self.orders.working_orders(symbol)

    def take_blocked(self) -> list[BlockedCommand]:
        """Blocks recorded since the last call (the engine journals them)."""
        out, self._blocked = self._blocked, []
        return out

    def take_fills(self) -> list[Fill]:
        """New (de-duplicated) fills since the last call."""
        out, self._fills = self._fills, []
        return out

    def status(self) -> dict[str, Any]:
        """Plain values for /status: risk latches, per-symbol position, quotes and working orders."""
        return {
            "risk": self.guard.status(),
            "symbols": {
                sym: {
                    "position_lots": st.position_lots,
                    "reference_ticks": st.reference_ticks,
                    "mode": st.mode,
                    "quote_reason": st.quote_reason,
                    "working_orders": [o.as_dict() for o in self.orders.working_orders(sym)],
                }
                for sym, st in self._symbols.items()
            },
            "unknown_orders": [o.client_order_id for o in self.orders.unknown_orders()],
        }


# Refusals decided by this symbol's own state alone (the inputs compared in `_plan`).
_REPEATABLE_BLOCKS = frozenset(
    {
        RiskReason.UNKNOWN_SYMBOL,
        RiskReason.INVALID_ORDER,
        RiskReason.SYMBOL_RULES,
        RiskReason.PERCENT_PRICE,
        RiskReason.UNKNOWN_ORDER,
        RiskReason.KILL_SWITCH,
        RiskReason.NO_PRICE,
        RiskReason.NO_EQUITY,
        RiskReason.MAX_ORDER_NOTIONAL,
        RiskReason.MIN_NOTIONAL,
        RiskReason.MAX_OPEN_ORDERS,
        RiskReason.MAX_POSITION,
    }
)


def _level_of(cmd: Command, orders: OrderManager) -> str:
    if isinstance(cmd, PlaceOrder):
        return cmd.level
    wo = orders.order(cmd.client_order_id)
    if isinstance(cmd, CancelOrder | AmendOrder) and wo is not None:
        return wo.level
    return cmd.client_order_id
