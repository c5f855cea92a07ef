"""Property tests: the pipeline against a small truthful exchange over random market paths and fills.

Invariants: the exchange never holds two live orders for one level; with the kill switch engaged
no risk-increasing order is sent; every order satisfies the symbol rules; the position never
exceeds its cap through our own orders; after every answer arrives, every live order is tracked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import BookTicker, Fill, MarketEvent, OrderUpdate
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import SymbolRules, btcusdt_rules
from grinder.execution import ExecutionConfig, TradingPipeline
from grinder.risk import RiskConfig
from grinder.strategy.types import EMPTY_BAND, ControllerMode, DesiredQuote, QuietBand, QuoteSet

SYM = "BTCUSDT"
RULES = btcusdt_rules("100")
RISK = RiskConfig(
    max_notional_per_order=Decimal("400"),
    max_position_notional=Decimal("1000"),
    max_total_position_notional=Decimal("2000"),
    max_open_orders_per_symbol=12,
    orders_per_10s=60,
    orders_per_minute=400,
)


class RandomQuotes:
    """A seeded quote source that moves, resizes, drops and adds levels at random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.mid = 0

    def on_event(self, ev: MarketEvent) -> None:
        if isinstance(ev, BookTicker):
            self.mid = (ev.bid_ticks + ev.ask_ticks) // 2

    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        quotes = []
        for side in (Side.BUY, Side.SELL):
            for i in range(1, 5):
                if self.rng.random() < 0.15:
                    continue
                off = i * 20 + self.rng.choice((0, 0, 0, 1, 5))
                px = self.mid - off if side is Side.BUY else self.mid + off
                lots = self.rng.choice((1, 2, 3, 4, 6))  # 1 lot is under MIN_NOTIONAL at ~50 000
                quotes.append(DesiredQuote(SYM, side, px, lots, f"{side.value[0].lower()}{i}", True))
        return QuoteSet(SYM, tuple(quotes), ControllerMode.BASE, "QUOTING")

    def on_fill(self, fill: Fill) -> None:
        pass

    def quiet_band(self) -> QuietBand:
        return EMPTY_BAND


@dataclass
class LiveOrder:
    level: str
    side: Side
    price: int
    qty: int
    filled: int = 0
    order_id: int = 0


class Exchange:
    """Truthful order book of our orders with random outcomes, delays and unknowns."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.live: dict[str, LiveOrder] = {}
        self.pending: list[CommandResult] = []
        self.next_oid = 1
        self.trade_id = 1

    def assert_one_per_level(self) -> None:
        levels = [o.level for o in self.live.values()]
        assert len(levels) == len(set(levels)), f"two live orders share a level: {sorted(levels)}"

    def submit(self, cmd: Command) -> None:
        roll = self.rng.random()
        if isinstance(cmd, PlaceOrder):
            assert cmd.client_order_id not in self.live
            if roll < 0.08:
                res = CommandResult(cmd, Outcome.REJECTED, code=-5022, reason="would immediately match")
            elif roll < 0.16:
                if self.rng.random() < 0.5:
                    self._add(cmd)
                res = CommandResult(cmd, Outcome.UNKNOWN, reason="timeout")
            else:
                oid = self._add(cmd)
                res = CommandResult(cmd, Outcome.ACCEPTED, order_id=oid, status=OrderStatus.NEW)
        elif isinstance(cmd, CancelOrder):
            if roll < 0.05:
                if self.rng.random() < 0.5:
                    self.live.pop(cmd.client_order_id, None)
                res = CommandResult(cmd, Outcome.UNKNOWN, reason="timeout")
            elif self.live.pop(cmd.client_order_id, None) is not None:
                res = CommandResult(cmd, Outcome.ACCEPTED, status=OrderStatus.CANCELED)
            else:
                res = CommandResult(cmd, Outcome.REJECTED, code=-2011, reason="Unknown order sent.")
        else:
            o = self.live.get(cmd.client_order_id)
            if o is None:
                res = CommandResult(cmd, Outcome.REJECTED, code=-2013, reason="Order does not exist.")
            elif cmd.qty_lots <= o.filled:
                del self.live[cmd.client_order_id]
                res = CommandResult(cmd, Outcome.ACCEPTED, status=OrderStatus.CANCELED)
            else:
                o.price, o.qty = cmd.price_ticks, cmd.qty_lots
                res = CommandResult(cmd, Outcome.ACCEPTED, status=OrderStatus.NEW)
        self.assert_one_per_level()
        self.pending.append(res)

    def _add(self, cmd: PlaceOrder) -> int:
        assert cmd.price_ticks is not None
        self.live[cmd.client_order_id] = LiveOrder(
            cmd.level, cmd.side, cmd.price_ticks, cmd.qty_lots, 0, self.next_oid
        )
        self.next_oid += 1
        return self.next_oid - 1

    def fill_one(self) -> OrderUpdate | None:
        if not self.live:
            return None
        cid = self.rng.choice(sorted(self.live))
        o = self.live[cid]
        lots = self.rng.randint(1, o.qty - o.filled)
        o.filled += lots
        status = OrderStatus.FILLED if o.filled == o.qty else OrderStatus.PARTIALLY_FILLED
        if status is OrderStatus.FILLED:
            del self.live[cid]
        self.trade_id += 1
        return OrderUpdate(
            symbol=SYM,
            order_id=o.order_id,
            client_order_id=cid,
            side=o.side,
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTX,
            position_side=PositionSide.BOTH,
            reduce_only=False,
            price_ticks=o.price,
            orig_qty_lots=o.qty,
            execution_type=ExecutionType.TRADE,
            status=status,
            last_fill_lots=lots,
            last_fill_price_ticks=o.price,
            cum_filled_lots=o.filled,
            avg_price=Decimal(0),
            commission=Decimal(0),
            commission_asset="USDT",
            realized_pnl=Decimal(0),
            is_maker=True,
            trade_id=self.trade_id,
            event_time_ms=0,
            transaction_time_ms=0,
        )


def check_command(cmd: Command, pipe: TradingPipeline, rules: SymbolRules, kill: bool) -> None:
    if isinstance(cmd, CancelOrder):
        return
    pos = pipe.position_lots(SYM)
    if isinstance(cmd, PlaceOrder):
        rules.validate_ticks(cmd.side, OrderType.LIMIT, cmd.qty_lots, cmd.price_ticks)
        side, new = cmd.side, cmd.qty_lots
        replaced = 0
    else:
        assert isinstance(cmd, AmendOrder)
        wo = pipe.orders.order(cmd.client_order_id)
        assert wo is not None
        rules.validate_ticks(cmd.side, OrderType.LIMIT, cmd.qty_lots - wo.filled_lots, cmd.price_ticks)
        side, new, replaced = cmd.side, cmd.qty_lots - wo.filled_lots, wo.remaining_lots
    if kill:
        # Working lots of that side once every in-flight command (this one included) has landed.
        same_side = sum(
            (o.amend_to[1] - o.filled_lots) if o.amend_to else o.remaining_lots
            for o in pipe.working_orders(SYM)
            if o.side is side
        )
        assert side.sign * pos < 0, f"kill switch: {cmd} does not reduce position {pos}"
        assert same_side <= abs(pos), f"kill switch: {cmd} would flip position {pos}"
        del new, replaced


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kill_step=st.integers(20, 400))
def test_pipeline_invariants_over_random_paths(seed: int, kill_step: int) -> None:
    rng = random.Random(seed)
    pipe = TradingPipeline(
        {SYM: RULES},
        None,
        RISK,
        ExecutionConfig(),
        ClientOrderIdFactory("p", 1),
        strategy_factory=lambda ctx: RandomQuotes(rng),
    )
    ex = Exchange(rng)
    now = 1_000_000
    mid = 500_000
    pipe.on_wallet_balance(Decimal("100000"), now)
    min_mid = mid
    sent: dict[str, int] = {}
    for step in range(300):
        now += rng.choice((1, 50, 200, 1000))
        mid += rng.randint(-30, 30)
        min_mid = min(min_mid, mid)
        if step == kill_step:
            pipe.engage_kill_switch("TEST")
        kill = pipe.guard.kill_switch_engaged
        ev = BookTicker(SYM, mid - 1, 5, mid + 1, 5, step, now, now)
        for cmd in pipe.on_market_event(ev, now):
            check_command(cmd, pipe, RULES, kill)
            ex.submit(cmd)
            sent[type(cmd).__name__] = sent.get(type(cmd).__name__, 0) + 1
        # deliver some answers, maybe out of order relative to fills
        rng.shuffle(ex.pending)
        keep = []
        for res in ex.pending:
            if rng.random() < 0.7:
                pipe.on_result(res)
            else:
                keep.append(res)
        ex.pending = keep
        if rng.random() < 0.3:
            upd = ex.fill_one()
            if upd is not None:
                pipe.on_user_event(upd)
                if rng.random() < 0.2:
                    pipe.on_user_event(upd)  # replayed event: must change nothing
        if rng.random() < 0.2:
            for wo in pipe.orders.unknown_orders():
                o = ex.live.get(wo.client_order_id)
                if o is None:
                    pipe.orders.resolve(wo.client_order_id, None)
                else:
                    pipe.orders.resolve(
                        wo.client_order_id,
                        OrderStatus.NEW,
                        price_ticks=o.price,
                        qty_lots=o.qty,
                        filled_lots=o.filled,
                    )
        cap_lots = RISK.max_position_notional / (RULES.tick_size * RULES.step_size) / (min_mid - 1)
        assert abs(pipe.position_lots(SYM)) <= cap_lots
        exp = pipe.exposure(SYM)
        assert exp.position_lots + exp.working_buy_lots <= cap_lots or kill
        # the incremental exposure equals a recount from the working orders
        recount = [0, 0, 0]
        for o in pipe.working_orders(SYM):
            recount[0 if o.side is Side.BUY else 1] += pipe.orders.exposure_lots(o)
            recount[2] += 1
        assert pipe.orders.working_lots(SYM) == tuple(recount)
    # drain every answer and resolve every unknown: the manager must track every live order
    for res in ex.pending:
        pipe.on_result(res)
    for wo in pipe.orders.unknown_orders():
        o = ex.live.get(wo.client_order_id)
        pipe.orders.resolve(wo.client_order_id, None if o is None else OrderStatus.NEW)
    tracked = {o.client_order_id for o in pipe.working_orders(SYM)}
    assert set(ex.live) <= tracked
    assert sent.get("PlaceOrder", 0) > 5 and sent.get("AmendOrder", 0) > 0 and sent.get("CancelOrder", 0) > 0
    assert ex.trade_id > 1  # fills happened
