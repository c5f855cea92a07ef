"""`RiskGuard`: pre-trade checks with stable reason codes, fail-closed, plus the kill-switch latch.

Every command passes `check(cmd, view, now_ms)` before it may be sent. A refused command gets a
`RiskDecision(allowed=False, reason=<RiskReason>)`; the reason strings are a contract (metrics,
journal, docs/risk.md). Missing data blocks risk-increasing orders instead of guessing. Cancels and
risk-reducing orders pass the kill switch; nothing passes the order-rate budget when it is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Protocol

from grinder.core.commands import AmendOrder, CancelOrder, Command, PlaceOrder
from grinder.core.enums import OrderType, Side
from grinder.core.rules import SymbolRules
from grinder.risk import metrics
from grinder.risk.config import RiskConfig
from grinder.risk.rate import OrderRateBudget

log = logging.getLogger(__name__)

_MS_PER_DAY = 86_400_000
_HUNDRED = Decimal(100)


class RiskReason(StrEnum):
    """Why a command was refused. Stable strings: dashboards and the journal key on them."""

    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"  # no SymbolRules for the symbol
    INVALID_ORDER = "INVALID_ORDER"  # non-positive quantity, LIMIT without price
    SYMBOL_RULES = "SYMBOL_RULES"  # outside PRICE_FILTER / LOT_SIZE bounds
    PERCENT_PRICE = "PERCENT_PRICE"  # outside the PERCENT_PRICE band around the reference price
    UNKNOWN_ORDER = "UNKNOWN_ORDER"  # amend of an order we do not track
    KILL_SWITCH = "KILL_SWITCH"  # latch engaged and the order is not risk-reducing
    NO_PRICE = "NO_PRICE"  # no reference price to value a risk-increasing order
    NO_EQUITY = "NO_EQUITY"  # no equity observed yet, so drawdown cannot be watched
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MIN_NOTIONAL = "MIN_NOTIONAL"  # exchange MIN_NOTIONAL (would be -4164)
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
    MAX_POSITION = "MAX_POSITION"  # per-symbol worst-case position notional
    MAX_TOTAL_POSITION = "MAX_TOTAL_POSITION"
    RATE_LIMIT = "RATE_LIMIT"  # order-rate budget (Binance ORDERS limits) exhausted


class KillReason(StrEnum):
    MANUAL = "MANUAL"
    DRAWDOWN = "DRAWDOWN"
    DAILY_LOSS = "DAILY_LOSS"


def watch_equity(
    high_water: Decimal | None,
    day: int | None,
    day_start: Decimal | None,
    equity: Decimal,
    now_ms: int,
    max_drawdown_pct: Decimal,
    daily_loss_limit: Decimal,
) -> tuple[Decimal, int, Decimal | None, KillReason | None]:
    """One re-mark of the equity watch, pure: the new high-water mark, UTC day and day-start equity,
    and the latch the re-mark trips (DRAWDOWN before DAILY_LOSS; None). `RiskGuard.on_equity` applies
    it; a backtest that makes the re-marks of skipped rows itself reads it ahead (ADR-330)."""
    if high_water is None or equity > high_water:
        high_water = equity
    utc_day = now_ms // _MS_PER_DAY
    if utc_day != day:
        day_start = equity
    if equity <= 0 or (high_water > 0 and (high_water - equity) / high_water * _HUNDRED >= max_drawdown_pct):
        return high_water, utc_day, day_start, KillReason.DRAWDOWN
    if day_start is not None and day_start - equity >= daily_loss_limit:
        return high_water, utc_day, day_start, KillReason.DAILY_LOSS
    return high_water, utc_day, day_start, None


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TripState:
    """The loss-limit latch and the references it is measured from: journaled, restored at start."""

    latched: bool
    reason: str | None
    high_water: Decimal | None
    utc_day: int | None
    day_start_equity: Decimal | None


ALLOWED = RiskDecision(True)
_BLOCK_COUNTERS = {reason.value: metrics.RISK_BLOCKS.labels(reason=reason.value) for reason in RiskReason}


@dataclass(frozen=True, slots=True)
class SymbolExposure:
    """What the guard needs to know about one symbol. Working lots include in-flight orders."""

    position_lots: int = 0  # signed, one-way
    working_buy_lots: int = 0  # remaining quantity of our open + in-flight BUY orders
    working_sell_lots: int = 0
    open_orders: int = 0  # open + in-flight orders
    price_ticks: int | None = None  # reference (mid or mark) price; None = unknown

    def worst_case_lots(self, side: Side, extra_lots: int = 0) -> int:
        """Position size on `side`'s direction if every working order of that side filled."""
        if side is Side.BUY:
            return self.position_lots + self.working_buy_lots + extra_lots
        return -self.position_lots + self.working_sell_lots + extra_lots


class RiskView(Protocol):
    """The caller's current account picture (the trading pipeline implements it)."""

    def symbols(self) -> Iterable[str]: ...

    def exposure(self, symbol: str) -> SymbolExposure: ...

    def working_order(self, client_order_id: str) -> tuple[int, int] | None:
        """(orig_qty_lots, filled_lots) of one working order, or None if unknown."""
        ...


@dataclass(slots=True)
class RiskSnapshot:
    """A plain `RiskView` built from dictionaries (tests, tools)."""

    exposures: dict[str, SymbolExposure] = field(default_factory=dict)
    orders: dict[str, tuple[int, int]] = field(default_factory=dict)

    def symbols(self) -> Iterable[str]:
        return self.exposures.keys()

    def exposure(self, symbol: str) -> SymbolExposure:
        return self.exposures.get(symbol, SymbolExposure())

    def working_order(self, client_order_id: str) -> tuple[int, int] | None:
        return self.orders.get(client_order_id)


@dataclass(frozen=True, slots=True)
class _Limits:
    """One symbol's limits in integer units (ticks, lots, tick×lot)."""

    rules: SymbolRules
    min_price_ticks: int
    max_price_ticks: int  # 0 = unbounded
    min_lots: int
    max_lots: int  # 0 = unbounded
    max_order_units: int  # max_notional_per_order in tick×lot units
    max_position_units: int
    max_open_orders: int


def _units(amount: Decimal, rules: SymbolRules) -> int:
    return int((amount / (rules.tick_size * rules.step_size)).to_integral_value(rounding=ROUND_FLOOR))


def _limits(rules: SymbolRules, cfg: RiskConfig) -> _Limits:
    return _Limits(
        rules=rules,
        min_price_ticks=rules.ceil_ticks(rules.min_price) if rules.min_price > 0 else 1,
        max_price_ticks=rules.floor_ticks(rules.max_price) if rules.max_price > 0 else 0,
        min_lots=rules.ceil_lots(rules.min_qty) if rules.min_qty > 0 else 1,
        max_lots=rules.floor_lots(rules.max_qty) if rules.max_qty > 0 else 0,
        max_order_units=_units(cfg.max_notional_per_order, rules),
        max_position_units=_units(cfg.max_position_notional, rules),
        max_open_orders=min(cfg.max_open_orders_per_symbol, rules.max_num_orders),
    )


class RiskGuard:
    """Pre-trade checks for every command, the equity watch and the kill-switch latch."""

    def __init__(self, config: RiskConfig, rules_by_symbol: Mapping[str, SymbolRules]) -> None:
        self.config = config
        self._limits = {sym: _limits(rules, config) for sym, rules in rules_by_symbol.items()}
        self._budget = OrderRateBudget(config.orders_per_10s, config.orders_per_minute)
        self._kill_reason: str | None = None
        self._equity: Decimal | None = None
        self._high_water: Decimal | None = None
        self._day: int | None = None
        self._day_start_equity: Decimal | None = None
        metrics.KILL_SWITCH_ENGAGED.set(0)

    # ----------------------------------------------------------------- kill switch
    @property
    def kill_switch_engaged(self) -> bool:
        return self._kill_reason is not None

    @property
    def kill_switch_reason(self) -> str | None:
        return self._kill_reason

    def engage_kill_switch(self, reason: str = KillReason.MANUAL) -> None:
        """Latch: from now on only cancels and risk-reducing orders pass, until `reset_kill_switch`."""
        if self._kill_reason is not None:
            return
        self._kill_reason = str(reason)
        metrics.KILL_SWITCH_ENGAGED.set(1)
        metrics.KILL_SWITCH_TRIPS.labels(reason=str(reason)).inc()
        log.warning("kill_switch_engaged reason=%s", reason)

    def reset_kill_switch(self) -> None:
        """Operator action only: the latch never clears itself."""
        if self._kill_reason is None:
            return
        log.warning("kill_switch_reset previous_reason=%s", self._kill_reason)
        self._kill_reason = None
        metrics.KILL_SWITCH_ENGAGED.set(0)

    def trip_state(self) -> TripState:
        return TripState(self._kill_reason is not None, self._kill_reason, self._high_water, self._day,
                         self._day_start_equity)

    def restore_trip_state(self, state: TripState) -> None:
        """Adopt a journaled state at start: the latch holds across restarts, and so do the
        high-water mark and (on the same UTC day) the day's start equity."""
        self._high_water = state.high_water
        self._day = state.utc_day
        self._day_start_equity = state.day_start_equity
        if state.latched:
            self.engage_kill_switch(state.reason or KillReason.MANUAL)

    def reset_trip(self) -> None:
        """Operator reset of a tripped latch: the limits start again from the current equity."""
        self.reset_kill_switch()
        if self._equity is not None:
            self._high_water = self._equity
            self._day_start_equity = self._equity
        log.warning("risk_limits_rebased equity=%s", self._equity)

    # ----------------------------------------------------------------- equity watch
    @property
    def equity(self) -> Decimal | None:
        return self._equity

    @property
    def high_water_mark(self) -> Decimal | None:
        return self._high_water

    def drawdown_pct(self) -> Decimal | None:
        if self._equity is None or self._high_water is None or self._high_water <= 0:
            return None
        return (self._high_water - self._equity) / self._high_water * _HUNDRED

    def on_equity(self, equity: Decimal, now_ms: int) -> None:
        """Feed account equity (wallet + unrealized PnL); trips DRAWDOWN / DAILY_LOSS latches."""
        if not equity.is_finite():
            raise ValueError(f"equity {equity!r} is not a finite number; check the account feed")
        self._equity = equity
        self._high_water, self._day, self._day_start_equity, trip = watch_equity(
            self._high_water, self._day, self._day_start_equity, equity, now_ms,
            self.config.max_drawdown_pct, self.config.daily_loss_limit,
        )
        dd = self.drawdown_pct()
        if dd is not None:
            metrics.DRAWDOWN_RATIO.set(float(dd) / 100)
        if trip is not None:
            self.engage_kill_switch(trip)

    # ----------------------------------------------------------------- rate budget
    def rate_budget_available(self, now_ms: int) -> int:
        """How many commands the order-rate budget lets through right now."""
        return self._budget.available(now_ms)

    # ----------------------------------------------------------------- checks
    def check(self, cmd: Command, view: RiskView, now_ms: int) -> RiskDecision:
        """Decide one command; an allowed command has consumed one order-rate token."""
        decision = self.verdict(cmd, view)
        if decision.allowed and not self._budget.take(now_ms):
            decision = RiskDecision(False, RiskReason.RATE_LIMIT)
        if not decision.allowed:
            _BLOCK_COUNTERS[decision.reason].inc()
        return decision

    def verdict(self, cmd: Command, view: RiskView) -> RiskDecision:
        """What `check` decides before the order-rate budget: pure, no token taken, nothing counted."""
        if isinstance(cmd, CancelOrder):
            return ALLOWED
        if isinstance(cmd, PlaceOrder):
            return self._check_place(cmd, view)
        return self._check_amend(cmd, view)

    def is_risk_reducing(
        self, side: Side, qty_lots: int, exposure: SymbolExposure, replaced_lots: int = 0
    ) -> bool:
        """True when this order (with every working order of its side) can only shrink the position."""
        pos = exposure.position_lots
        if side is Side.SELL:
            return pos > 0 and exposure.working_sell_lots - replaced_lots + qty_lots <= pos
        return pos < 0 and exposure.working_buy_lots - replaced_lots + qty_lots <= -pos

    def _check_place(self, cmd: PlaceOrder, view: RiskView) -> RiskDecision:
        if cmd.order_type is OrderType.LIMIT and (cmd.price_ticks is None or cmd.price_ticks <= 0):
            return RiskDecision(False, RiskReason.INVALID_ORDER)
        return self._check_order(
            cmd.symbol, cmd.side, cmd.price_ticks, cmd.qty_lots, 0, cmd.reduce_only, True, view
        )

    def _check_amend(self, cmd: AmendOrder, view: RiskView) -> RiskDecision:
        working = view.working_order(cmd.client_order_id)
        if working is None:
            return RiskDecision(False, RiskReason.UNKNOWN_ORDER)
        orig_lots, filled_lots = working
        # AmendOrder.qty_lots is the new total quantity (Binance semantics: executed part included).
        return self._check_order(
            cmd.symbol,
            cmd.side,
            cmd.price_ticks,
            cmd.qty_lots - filled_lots,
            orig_lots - filled_lots,
            False,
            False,
            view,
        )

    def _check_order(  # noqa: C901 - one branch per check, in documented precedence
        self,
        symbol: str,
        side: Side,
        price_ticks: int | None,
        new_lots: int,
        replaced_lots: int,
        reduce_only: bool,
        adds_order: bool,
        view: RiskView,
    ) -> RiskDecision:
        lim = self._limits.get(symbol)
        if lim is None:
            return RiskDecision(False, RiskReason.UNKNOWN_SYMBOL)
        if new_lots <= 0:
            return RiskDecision(False, RiskReason.INVALID_ORDER)
        if (
            (price_ticks is not None and price_ticks < lim.min_price_ticks)
            or (price_ticks is not None and lim.max_price_ticks and price_ticks > lim.max_price_ticks)
            or new_lots < lim.min_lots
            or (lim.max_lots and new_lots > lim.max_lots)
        ):
            return RiskDecision(False, RiskReason.SYMBOL_RULES)
        exp = view.exposure(symbol)
        reducing = reduce_only or self.is_risk_reducing(side, new_lots, exp, replaced_lots)
        if self._kill_reason is not None and not reducing:
            return RiskDecision(False, RiskReason.KILL_SWITCH)
        ref = exp.price_ticks
        if not reducing:
            if ref is None and self.config.block_without_price:
                return RiskDecision(False, RiskReason.NO_PRICE)
            if self._equity is None and self.config.block_without_equity:
                return RiskDecision(False, RiskReason.NO_EQUITY)
        order_px = price_ticks if price_ticks is not None else ref
        if order_px is None:
            return RiskDecision(False, RiskReason.NO_PRICE)  # a MARKET order cannot be valued
        if (
            ref is not None
            and price_ticks is not None
            and not self._inside_percent_band(lim, side, price_ticks, ref)
        ):
            return RiskDecision(False, RiskReason.PERCENT_PRICE)
        units = order_px * new_lots
        if units > lim.max_order_units:
            return RiskDecision(False, RiskReason.MAX_ORDER_NOTIONAL)
        if not reduce_only and units < lim.rules.min_notional_units:
            return RiskDecision(False, RiskReason.MIN_NOTIONAL)
        if adds_order and exp.open_orders + 1 > lim.max_open_orders:
            return RiskDecision(False, RiskReason.MAX_OPEN_ORDERS)
        if not reducing:
            value_px = max(order_px, ref) if ref is not None else order_px
            worst = exp.worst_case_lots(side, new_lots - replaced_lots)
            if worst * value_px > lim.max_position_units:
                return RiskDecision(False, RiskReason.MAX_POSITION)
            if self._total_notional(view, symbol, lim.rules.notional(value_px, worst)) > (
                self.config.max_total_position_notional
            ):
                return RiskDecision(False, RiskReason.MAX_TOTAL_POSITION)
        return ALLOWED

    @staticmethod
    def _inside_percent_band(lim: _Limits, side: Side, price_ticks: int, ref_ticks: int) -> bool:
        rules = lim.rules
        if side is Side.BUY and rules.multiplier_up > 0:
            return price_ticks <= ref_ticks * rules.multiplier_up
        if side is Side.SELL and rules.multiplier_down > 0:
            return price_ticks >= ref_ticks * rules.multiplier_down
        return True

    def _total_notional(self, view: RiskView, symbol: str, this_symbol: Decimal) -> Decimal:
        total = this_symbol
        for other in view.symbols():
            if other == symbol:
                continue
            lim = self._limits.get(other)
            exp = view.exposure(other)
            worst = max(exp.worst_case_lots(Side.BUY), exp.worst_case_lots(Side.SELL), 0)
            if worst == 0:
                continue
            if lim is None or exp.price_ticks is None:
                # Exposure we cannot value: count it as the whole budget (fail closed).
                return self.config.max_total_position_notional + 1
            total += lim.rules.notional(exp.price_ticks, worst)
        return total

    def status(self) -> dict[str, object]:
        """Plain values for /status."""
        dd = self.drawdown_pct()
        return {
            "kill_switch_engaged": self.kill_switch_engaged,
            "kill_switch_reason": self._kill_reason,
            "equity": None if self._equity is None else str(self._equity),
            "high_water_mark": None if self._high_water is None else str(self._high_water),
            "drawdown_pct": None if dd is None else str(dd.quantize(Decimal("0.01"))),
        }
