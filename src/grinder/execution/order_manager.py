"""The order manager: the minimal place / cancel / amend commands from desired quotes to working orders.

It owns client order ids, tracks every order from the moment a command is sent (in-flight,
unknown outcome, open) and applies command results and exchange order updates idempotently.
A level holds at most one live order: a level whose order is in flight or whose outcome is
unknown is frozen until the exchange tells us what happened (ADR-046).
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from grinder.core.errors import ORDER_NOT_OPEN_CODES
from grinder.core.events import OrderUpdate
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.quotes import DesiredQuote
from grinder.execution import metrics
from grinder.execution.config import ExecutionConfig
from grinder.execution.working import (
    INT_MAX,
    INT_MIN,
    WorkingOrder,
    WorkingState,
    free_tag,
    level_tag,
    mid_of_quotes,
    mover_order,
    nearest_order,
    order_range,
    quotes_by_tag,
)

log = logging.getLogger(__name__)

_COMMAND_COUNTERS = {kind: metrics.OM_COMMANDS.labels(kind=kind) for kind in ("place", "amend", "cancel")}

_BPS = 10_000


@dataclass(frozen=True, slots=True)
class _Intent:
    """A planned command before ids are allocated: lets the budget cut plans without burning ids."""

    priority: tuple[int, int, str]
    kind: str  # "place" | "amend" | "cancel"
    side: Side
    level: str
    price_ticks: int
    qty_lots: int
    post_only: bool
    order: WorkingOrder | None


class OrderManager:
    """Diff engine + order book of our own orders, for every symbol of one account."""

    def __init__(self, config: ExecutionConfig, id_factory: ClientOrderIdFactory, *,
                 publish: bool = True) -> None:
        """`publish=False`: a scratch book (journal replay) that leaves the unknown-orders gauge alone."""
        self.config = config
        self._unknown_gauge = metrics.OM_UNKNOWN_ORDERS if publish else None
        self.ids = id_factory
        self._orders: dict[str, WorkingOrder] = {}
        self._by_level: dict[str, dict[str, WorkingOrder]] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._unknown = 0  # orders in UNKNOWN state (the gauge)
        self._exposure: dict[str, list[int]] = {}  # symbol -> [buy lots, sell lots, order count]
        # Bumped by every call that may change a working order (submit, result, update, resolve,
        # restore): equal versions mean an unchanged book, so a plan over it is unchanged too.
        self.version = 0
        self.held = 0  # orders the last plan left alone because the market reached them
        self._tol_bps = config.price_tolerance_bps.as_integer_ratio()
        # What the last plan's outcome depended on the mid through (see `mid_range`): the mid, the
        # quotes (price, tag) and the commands (rank, price, tag) in the order they were taken.
        self._mid_keys: tuple[int | None, list[tuple[int, int, str]], list[tuple[int, int, str]]] = (
            None,
            [],
            [],
        )

    # ----------------------------------------------------------------- queries
    def working_orders(self, symbol: str | None = None) -> list[WorkingOrder]:
        if symbol is None:
            return list(self._orders.values())
        return list(self._by_level.get(symbol, {}).values())

    def order(self, client_order_id: str) -> WorkingOrder | None:
        return self._orders.get(client_order_id)

    def unknown_orders(self) -> list[WorkingOrder]:
        """Orders whose outcome must be resolved by querying the exchange with their client id."""
        return [o for o in self._orders.values() if o.state is WorkingState.UNKNOWN]

    def is_closed(self, client_order_id: str) -> bool:
        return client_order_id in self._closed

    def working_lots(self, symbol: str) -> tuple[int, int, int]:
        """(buy lots, sell lots, order count) of every order that could still fill, in-flight included.

        Kept incrementally: every entry point that changes an order takes its weight out first and
        puts it back afterwards (`_weigh`), so this is O(1) on the risk-check path.
        """
        agg = self._exposure.get(symbol)
        return (agg[0], agg[1], agg[2]) if agg is not None else (0, 0, 0)

    @staticmethod
    def exposure_lots(wo: WorkingOrder) -> int:
        """Lots an order may still add: an in-flight amend counts at the larger of old and new size."""
        lots = wo.remaining_lots
        if wo.amend_to is not None:
            lots = max(lots, wo.amend_to[1] - wo.filled_lots)
        return lots

    def _weigh(self, wo: WorkingOrder, sign: int) -> None:
        agg = self._exposure.get(wo.symbol)
        if agg is None:
            agg = self._exposure[wo.symbol] = [0, 0, 0]
        lots = wo.qty_lots - wo.filled_lots  # exposure_lots, inlined: this runs on every order change
        target = wo.amend_to
        if target is not None and target[1] - wo.filled_lots > lots:
            lots = target[1] - wo.filled_lots
        agg[0 if wo.side is Side.BUY else 1] += sign * max(lots, 0)
        agg[2] += sign

    def _reweigh(self, wo: WorkingOrder) -> None:
        """Put an order's weight back after a change, unless the change closed it."""
        if self._orders.get(wo.client_order_id) is wo:
            self._weigh(wo, +1)

    # ----------------------------------------------------------------- planning
    def plan(
        self,
        symbol: str,
        desired: Iterable[DesiredQuote],
        *,
        mid_ticks: int | None = None,
        position_lots: int = 0,
        budget: int | None = None,
        allocate_ids: bool = True,
        crossed: tuple[int, int, int, int] | None = None,
    ) -> list[Command]:
        """The commands that move `symbol`'s working orders to `desired`, most urgent first.

        Orders are matched to quotes by side and price, not by level tag (ADR-170): an order whose
        price is still quoted (within the price tolerance) stays and keeps its place in the queue,
        whatever level it was placed for. An unmatched order is amended onto an unmatched quote of
        its side (one write; the one furthest behind first, so a move towards the touch improves
        its priority; a move away loses the queue place a cancel + place would lose too, ADR-263);
        orders left over are cancelled, quotes left over placed. A matched order is amended only
        for its quantity, at its own price. `crossed` = (lowest ask or trade, highest bid or trade,
        lowest ask, highest bid) of the recent market: a buy at or above the first, a sell at or
        below the second, may be filling right now and is left alone (no amend, no cancel) until its
        fill arrives; no maker buy is sent at or above the third, nor a maker sell at or below the
        fourth (the exchange would refuse it, -5022).

        Cancels come first, then orders that reduce the position, then the rest nearest to the
        mid first. With a `budget`, only that many commands are returned (ids are allocated only
        for those). Nothing is marked in flight until `on_submitted`. `allocate_ids=False`: new
        orders carry the never-issued sequence 0 (`unissued_id`) until `issue_id` gives them a
        real one, so a caller that may refuse them (the risk guard) spends no ids on refusals.
        """
        book = self._by_level.get(symbol, {})
        wanted = quotes_by_tag(symbol, desired)
        if mid_ticks is None:
            mid_ticks = mid_of_quotes(wanted.values())
        self.held = 0
        if not wanted and not book:
            return []
        tol = self.config.price_tolerance_ticks
        if mid_ticks is not None:
            num, den = self._tol_bps
            tol = max(tol, mid_ticks * num // (den * _BPS))
        free, claimable = self._split(book, crossed)
        quotes = sorted(
            ((tag, q) for tag, q in wanted.items() if q.qty_lots > 0),
            key=lambda tq: (abs(tq[1].price_ticks - mid_ticks) if mid_ticks is not None else 0, tq[0]),
        )
        intents: list[_Intent] = []
        self._mid_keys = (mid_ticks, [(0, q.price_ticks, tag) for tag, q in quotes], [])
        used: set[str] = set()
        unquoted: list[tuple[str, DesiredQuote]] = []
        for tag, q in quotes:
            wo = nearest_order(claimable, used, q, tol)
            # Only shrink in place: a smaller order keeps its queue place, a larger one would lose it
            # (Binance) for a size the quote merely prefers, so a smaller order is kept (ADR-264).
            resize = (
                wo is not None
                and wo.client_order_id in free
                and wo.remaining_lots - q.qty_lots > self.config.qty_tolerance_lots
            )
            if wo is None or (resize and not self.config.amend_enabled):
                unquoted.append((tag, q))  # (an order to resize without amends is cancelled below)
                continue
            used.add(wo.client_order_id)
            if resize:  # same price, smaller size: one amend
                intents.append(self._amend(wo, q, wo.price_ticks, mid_ticks, position_lots))
        # A side never holds more orders than it quotes: an order in flight, of unknown outcome or
        # being filled takes a quote's place until it resolves (as a frozen level did, ADR-046).
        room = {Side.BUY: 0, Side.SELL: 0}
        for _, q in quotes:
            room[q.side] += 1
        for wo in book.values():
            if wo.client_order_id in used or wo.client_order_id not in free:
                room[wo.side] -= 1
                if wo.client_order_id not in used and wo.state is WorkingState.OPEN:
                    self.held += 1  # reached by the market, not quoted: cancelled once released
        leftover = [wo for cid, wo in free.items() if cid not in used]
        self._fill_gaps(unquoted, leftover, room, set(book), crossed, mid_ticks, position_lots, intents)
        for wo in leftover:
            intents.append(
                self._intent("cancel", wo.side, wo.level, wo.price_ticks, 0, wo.post_only, wo, mid_ticks)
            )
        if not intents:
            return []
        intents.sort(key=lambda i: i.priority)
        self._mid_keys[2].extend((i.priority[0], i.price_ticks, i.level) for i in intents)
        if budget is not None:
            intents = intents[: max(0, budget)]
        return [self._materialize(symbol, i, allocate_ids) for i in intents]

    def mid_range(self) -> tuple[int, int]:
        """The mids (ticks, inclusive) around the last plan's mid at which that plan, over the same
        quotes, orders and other inputs, would come out the same: its price tolerance and the order
        in which it took quotes and commands (nearest to the mid first) do not change there.

        Each condition holds on an interval of mids (the tolerance grows with the mid; which of two
        prices is nearer flips once), so their intersection is one interval."""
        mid, quotes, intents = self._mid_keys
        if mid is None:
            return INT_MIN, INT_MAX
        lo, hi = self._tolerance_range(mid)
        for keys in (quotes, intents):
            for a, b in itertools.pairwise(keys):
                p_lo, p_hi = order_range(a, b)
                lo, hi = max(lo, p_lo), min(hi, p_hi)
        return lo, hi

    def _tolerance_range(self, mid: int) -> tuple[int, int]:
        num, den = self._tol_bps
        t0 = self.config.price_tolerance_ticks
        if num <= 0:
            return INT_MIN, INT_MAX
        d = den * _BPS
        q = mid * num // d
        if q <= t0:
            return INT_MIN, ((t0 + 1) * d - 1) // num
        return -((-q * d) // num), ((q + 1) * d - 1) // num

    def _fill_gaps(
        self,
        unquoted: list[tuple[str, DesiredQuote]],
        leftover: list[WorkingOrder],
        room: dict[Side, int],
        taken: set[str],
        crossed: tuple[int, int, int, int] | None,
        mid_ticks: int | None,
        position_lots: int,
        intents: list[_Intent],
    ) -> None:
        """Quotes no order stands for: amend a left-over order of the side onto one (`mover_order`), else
        place one where the side has room. `leftover` keeps the orders to cancel."""
        buy_from, sell_to = crossed[2:] if crossed is not None else (INT_MAX, INT_MIN)
        for tag, q in unquoted:
            if q.post_only and (
                q.price_ticks >= buy_from if q.side is Side.BUY else q.price_ticks <= sell_to
            ):
                self.held += 1  # the market is still there: a maker order would be refused (-5022)
                continue
            if room[q.side] <= 0:
                continue
            room[q.side] -= 1
            wo = mover_order(leftover, q) if self.config.amend_enabled else None
            if wo is not None:
                leftover.remove(wo)
                # a move away replaces a cancel: as urgent as one (the order left its quote)
                away = (wo.price_ticks - q.price_ticks) * q.side.sign > 0
                intents.append(self._amend(wo, q, q.price_ticks, mid_ticks, position_lots, urgent=away))
                continue
            tag = free_tag(tag, taken)
            taken.add(tag)
            intents.append(
                self._intent(
                    "place",
                    q.side,
                    tag,
                    q.price_ticks,
                    q.qty_lots,
                    q.post_only,
                    None,
                    mid_ticks,
                    position_lots,
                )
            )

    @staticmethod
    def _split(
        book: dict[str, WorkingOrder], crossed: tuple[int, int, int, int] | None
    ) -> tuple[dict[str, WorkingOrder], list[WorkingOrder]]:
        """(open orders the market has not reached, by id; every order, which may stand for a quote)."""
        buy_from, sell_to = crossed[:2] if crossed is not None else (INT_MAX, INT_MIN)
        free: dict[str, WorkingOrder] = {}
        for wo in book.values():
            if wo.state is not WorkingState.OPEN:
                continue  # in flight or unknown: frozen until resolved
            if (wo.side is Side.BUY and wo.price_ticks >= buy_from) or (
                wo.side is Side.SELL and wo.price_ticks <= sell_to
            ):
                continue  # the market reached it: await its fill
            free[wo.client_order_id] = wo
        return free, list(book.values())

    def _amend(
        self,
        wo: WorkingOrder,
        q: DesiredQuote,
        price_ticks: int,
        mid_ticks: int | None,
        position_lots: int,
        urgent: bool = False,
    ) -> _Intent:
        return self._intent(
            "amend",
            q.side,
            wo.level,
            price_ticks,
            wo.filled_lots + q.qty_lots,
            q.post_only,
            wo,
            mid_ticks,
            position_lots,
            urgent,
        )

    def unissued_id(self, symbol: str, level: str) -> str:
        """The id form with sequence 0, which the factory never issues (its sequence starts at 1)."""
        return ClientOrderIdFactory(self.ids.strategy, self.ids.epoch_s, start_seq=-1).next_id(symbol, level)

    def issue_id(self, cmd: PlaceOrder) -> PlaceOrder:
        """`cmd` (planned with `allocate_ids=False`) with a freshly allocated client order id."""
        return msgspec.structs.replace(cmd, client_order_id=self.ids.next_id(cmd.symbol, cmd.level))

    def plan_cancel_all(self, symbol: str | None = None) -> list[Command]:
        """Cancel every open order (of one symbol, or all): shutdown, disarm, kill switch."""
        return [
            CancelOrder(symbol=o.symbol, client_order_id=o.client_order_id)
            for o in self._orders.values()
            if o.state is WorkingState.OPEN and (symbol is None or o.symbol == symbol)
        ]

    @staticmethod
    def _intent(
        kind: str,
        side: Side,
        tag: str,
        price_ticks: int,
        qty_lots: int,
        post_only: bool,
        order: WorkingOrder | None,
        mid_ticks: int | None,
        position_lots: int = 0,
        urgent: bool = False,
    ) -> _Intent:
        if kind == "cancel" or urgent:
            rank = 0
        else:
            reducing = (side is Side.SELL and position_lots > 0) or (side is Side.BUY and position_lots < 0)
            rank = 1 if reducing else 2
        distance = abs(price_ticks - mid_ticks) if mid_ticks is not None else 0
        return _Intent((rank, distance, tag), kind, side, tag, price_ticks, qty_lots, post_only, order)

    def _materialize(self, symbol: str, intent: _Intent, allocate_ids: bool = True) -> Command:
        _COMMAND_COUNTERS[intent.kind].inc()
        if intent.kind == "cancel":
            assert intent.order is not None
            return CancelOrder(symbol=symbol, client_order_id=intent.order.client_order_id)
        if intent.kind == "amend":
            assert intent.order is not None
            return AmendOrder(
                symbol=symbol,
                client_order_id=intent.order.client_order_id,
                side=intent.side,
                price_ticks=intent.price_ticks,
                qty_lots=intent.qty_lots,
            )
        return PlaceOrder(
            symbol=symbol,
            side=intent.side,
            order_type=OrderType.LIMIT,
            qty_lots=intent.qty_lots,
            client_order_id=(
                self.ids.next_id(symbol, intent.level)
                if allocate_ids
                else self.unissued_id(symbol, intent.level)
            ),
            price_ticks=intent.price_ticks,
            time_in_force=TimeInForce.GTX if intent.post_only else TimeInForce.GTC,
            level=intent.level,
        )

    # ----------------------------------------------------------------- command lifecycle
    def on_submitted(self, cmd: Command) -> None:
        """Record that `cmd` passed every gate and is being sent: its level is now in flight."""
        self.version += 1
        if isinstance(cmd, PlaceOrder):
            if cmd.client_order_id in self._orders or cmd.client_order_id in self._closed:
                raise ValueError(
                    f"client order id {cmd.client_order_id} was already used; ids must be unique"
                )
            level = cmd.level or cmd.client_order_id
            book = self._by_level.setdefault(cmd.symbol, {})
            if level in book:
                raise ValueError(
                    f"{cmd.symbol} level {level!r} already holds {book[level].client_order_id}; "
                    "a level holds one live order (plan again after it closes)"
                )
            wo = WorkingOrder(
                symbol=cmd.symbol,
                client_order_id=cmd.client_order_id,
                level=level,
                side=cmd.side,
                price_ticks=cmd.price_ticks or 0,
                qty_lots=cmd.qty_lots,
                post_only=cmd.time_in_force is TimeInForce.GTX,
                reduce_only=cmd.reduce_only,
            )
            self._orders[cmd.client_order_id] = wo
            book[level] = wo
            self._weigh(wo, +1)
            return
        tracked = self._orders.get(cmd.client_order_id)
        if tracked is None:
            return  # cancel of an order we no longer track: harmless
        wo = tracked
        if isinstance(cmd, CancelOrder):
            wo.state = WorkingState.PENDING_CANCEL
        else:
            self._weigh(wo, -1)
            wo.state = WorkingState.PENDING_AMEND
            wo.amend_to = (cmd.price_ticks, cmd.qty_lots)
            self._weigh(wo, +1)

    def on_result(self, res: CommandResult) -> None:
        """Apply what became of a command. Idempotent; results for closed orders are ignored."""
        self.version += 1
        cmd = res.command
        wo = self._orders.get(cmd.client_order_id)
        if wo is None:
            return
        if res.order_id is not None:
            wo.order_id = res.order_id
        was_unknown = wo.state is WorkingState.UNKNOWN
        self._weigh(wo, -1)
        if isinstance(cmd, PlaceOrder):
            self._place_result(wo, res)
        elif isinstance(cmd, CancelOrder):
            self._cancel_result(wo, res)
        else:
            self._amend_result(wo, res)
        self._reweigh(wo)
        if was_unknown or wo.state is WorkingState.UNKNOWN:
            self._update_gauge()

    def _place_result(self, wo: WorkingOrder, res: CommandResult) -> None:
        if wo.state is not WorkingState.PENDING_NEW:
            return  # the user stream got there first
        if res.outcome is Outcome.ACCEPTED:
            if res.status is not None and not res.status.is_open:
                self._close(wo, f"place_result_status={res.status.value}")
            else:
                wo.state = WorkingState.OPEN
        elif res.outcome is Outcome.UNKNOWN:
            wo.state = WorkingState.UNKNOWN
            log.warning("order_outcome_unknown client_order_id=%s action=place", wo.client_order_id)
        else:
            self._close(wo, f"place_{res.outcome.value} code={res.code} reason={res.reason}")

    def _cancel_result(self, wo: WorkingOrder, res: CommandResult) -> None:
        if res.outcome is Outcome.ACCEPTED or (
            res.outcome is Outcome.REJECTED and res.code in ORDER_NOT_OPEN_CODES
        ):
            self._close(wo, f"cancel_{res.outcome.value}")
        elif res.outcome is Outcome.UNKNOWN:
            wo.state = WorkingState.UNKNOWN
            log.warning("order_outcome_unknown client_order_id=%s action=cancel", wo.client_order_id)
        elif wo.state is WorkingState.PENDING_CANCEL:
            wo.state = WorkingState.OPEN  # refused or blocked: still ours on the book, plan again

    def _amend_result(self, wo: WorkingOrder, res: CommandResult) -> None:
        target, wo.amend_to = wo.amend_to, None
        if res.outcome is Outcome.ACCEPTED:
            if res.status is not None and not res.status.is_open:
                self._close(wo, f"amend_result_status={res.status.value}")
                return
            if target is not None:
                wo.price_ticks, wo.qty_lots = target
            if wo.state is not WorkingState.PENDING_CANCEL:
                # (the user stream's AMENDMENT freed the order first and a cancel is in flight: it
                # stays frozen for the cancel's answer; freeing it sent the cancel twice, -2011)
                wo.state = WorkingState.OPEN
        elif res.outcome is Outcome.UNKNOWN:
            wo.state = WorkingState.UNKNOWN
            log.warning("order_outcome_unknown client_order_id=%s action=amend", wo.client_order_id)
        elif res.outcome is Outcome.REJECTED and res.code in ORDER_NOT_OPEN_CODES:
            self._close(wo, "amend_rejected_order_gone")
        elif wo.state is WorkingState.PENDING_AMEND:
            wo.state = WorkingState.OPEN

    def on_order_update(self, ev: OrderUpdate) -> None:
        """Apply an ORDER_TRADE_UPDATE for one of our orders (new, fill, amend, cancel, expiry)."""
        self.version += 1
        wo = self._orders.get(ev.client_order_id)
        if wo is None:
            return  # closed already (late or replayed event) or not ours
        if ev.order_id:
            wo.order_id = ev.order_id
        was_unknown = wo.state is WorkingState.UNKNOWN
        self._weigh(wo, -1)
        wo.filled_lots = max(wo.filled_lots, ev.cum_filled_lots)
        if not ev.status.is_open:
            self._close(wo, "status")
        else:
            amended = ev.execution_type is ExecutionType.AMENDMENT
            # An AMENDMENT other than the in-flight amend's target is the echo of an earlier amend:
            # the order still waits for this one (freeing it sent the same amend twice: -5027).
            answers = wo.amend_to is None or wo.amend_to == (ev.price_ticks, ev.orig_qty_lots)
            if amended or wo.state is WorkingState.UNKNOWN:
                wo.price_ticks, wo.qty_lots = ev.price_ticks, ev.orig_qty_lots
                if answers or wo.state is WorkingState.UNKNOWN:
                    wo.amend_to = None
            if wo.state in (WorkingState.PENDING_NEW, WorkingState.UNKNOWN) or (
                wo.state is WorkingState.PENDING_AMEND and amended and answers
            ):
                wo.state = WorkingState.OPEN
            self._weigh(wo, +1)
        if was_unknown:
            self._update_gauge()

    def resolve(
        self,
        client_order_id: str,
        status: OrderStatus | None,
        *,
        order_id: int | None = None,
        price_ticks: int | None = None,
        qty_lots: int | None = None,
        filled_lots: int | None = None,
    ) -> None:
        """Apply a query result for an order (status None: the exchange does not know the id)."""
        self.version += 1
        wo = self._orders.get(client_order_id)
        if wo is None:
            return
        self._weigh(wo, -1)
        if status is None or not status.is_open:
            self._close(wo, f"query_status={status.value if status else 'NOT_FOUND'}")
        else:
            if order_id is not None:
                wo.order_id = order_id
            if price_ticks is not None:
                wo.price_ticks = price_ticks
            if qty_lots is not None:
                wo.qty_lots = qty_lots
            if filled_lots is not None:
                wo.filled_lots = max(wo.filled_lots, filled_lots)
            wo.amend_to = None
            wo.state = WorkingState.OPEN
            self._weigh(wo, +1)
        self._update_gauge()

    def restore(self, orders: Iterable[WorkingOrder]) -> None:
        """Adopt orders believed open at restart (journal / exchange): they start OPEN or UNKNOWN."""
        self.version += 1
        for wo in orders:
            book = self._by_level.setdefault(wo.symbol, {})
            if wo.client_order_id in self._orders or wo.level in book:
                raise ValueError(
                    f"cannot restore {wo.client_order_id}: its id or level {wo.level!r} is taken"
                )
            self._orders[wo.client_order_id] = wo
            book[wo.level] = wo
            self._weigh(wo, +1)
        self._update_gauge()

    def _close(self, wo: WorkingOrder, why: str) -> None:
        self._orders.pop(wo.client_order_id, None)
        book = self._by_level.get(wo.symbol)
        if book is not None and book.get(wo.level) is wo:
            del book[wo.level]
        self._closed[wo.client_order_id] = None
        while len(self._closed) > self.config.closed_order_memory:
            self._closed.popitem(last=False)
        log.debug("order_closed client_order_id=%s %s", wo.client_order_id, why)

    def _update_gauge(self) -> None:
        unknown = sum(1 for o in self._orders.values() if o.state is WorkingState.UNKNOWN)
        if unknown != self._unknown:
            self._unknown = unknown
            if self._unknown_gauge is not None:
                self._unknown_gauge.set(unknown)


__all__ = ["OrderManager", "WorkingOrder", "WorkingState", "level_tag"]
