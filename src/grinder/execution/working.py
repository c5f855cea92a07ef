"""Our working orders and how desired quotes are matched to them (used by `OrderManager`).

`WorkingOrder` is one order of ours as the order manager tracks it, from the moment its command is
sent; `WorkingState` its lifecycle (not the exchange's `OrderStatus`). The functions match desired
quotes to working orders by level tag and price (whole-level moves keep queue places, ADR-170).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from grinder.core.enums import Side
from grinder.core.quotes import DesiredQuote

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)


def level_tag(side: Side, level: object) -> str:
    """Client-id level tag: a string tag is used as is, an integer level gets a side prefix (b1, s3)."""
    if isinstance(level, str) and level:
        return level
    if isinstance(level, int) and not isinstance(level, bool):
        return f"{'b' if side is Side.BUY else 's'}{level}"
    raise ValueError(f"quote level {level!r} is not usable as a level tag: use a non-empty string or an int")


class WorkingState(StrEnum):
    PENDING_NEW = "PENDING_NEW"  # place sent, no answer yet
    OPEN = "OPEN"  # on the book as far as we know
    PENDING_AMEND = "PENDING_AMEND"
    PENDING_CANCEL = "PENDING_CANCEL"
    UNKNOWN = "UNKNOWN"  # last command timed out: frozen until a query or a user-stream event


@dataclass(slots=True)
class WorkingOrder:
    """One of our orders that may be on the book. Quantities in lots, price in ticks."""

    symbol: str
    client_order_id: str
    level: str
    side: Side
    price_ticks: int
    qty_lots: int  # original (total) quantity
    filled_lots: int = 0
    state: WorkingState = WorkingState.PENDING_NEW
    order_id: int | None = None
    post_only: bool = True
    reduce_only: bool = False
    amend_to: tuple[int, int] | None = None  # (price_ticks, qty_lots) of an in-flight amend

    @property
    def remaining_lots(self) -> int:
        return max(0, self.qty_lots - self.filled_lots)

    def as_dict(self) -> dict[str, object]:
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "level": self.level,
            "side": self.side.value,
            "price_ticks": self.price_ticks,
            "qty_lots": self.qty_lots,
            "filled_lots": self.filled_lots,
            "state": self.state.value,
            "order_id": self.order_id,
        }


def quotes_by_tag(symbol: str, desired: Iterable[DesiredQuote]) -> dict[str, DesiredQuote]:
    wanted: dict[str, DesiredQuote] = {}
    for dq in desired:
        if dq.symbol != symbol:
            raise ValueError(f"quote for {dq.symbol} passed to the {symbol} plan")
        tag = dq.level if type(dq.level) is str and dq.level else level_tag(dq.side, dq.level)
        if tag in wanted:
            raise ValueError(f"{symbol}: two desired quotes share level {tag!r}; levels must be unique")
        wanted[tag] = dq
    return wanted


def claim_price(wo: WorkingOrder) -> int:
    """The price an order will rest at: an in-flight amend's target, else its own."""
    return wo.amend_to[0] if wo.amend_to is not None else wo.price_ticks


def nearest_order(
    orders: list[WorkingOrder], used: set[str], q: DesiredQuote, tol: int
) -> WorkingOrder | None:
    """The unclaimed order of the quote's side and kind nearest its price, within `tol` ticks."""
    best: WorkingOrder | None = None
    best_d = tol + 1
    for wo in orders:
        if wo.side is not q.side or wo.post_only is not q.post_only or wo.client_order_id in used:
            continue
        d = abs(claim_price(wo) - q.price_ticks)
        if d < best_d:
            best, best_d = wo, d
    return best


def mover_order(orders: list[WorkingOrder], q: DesiredQuote) -> WorkingOrder | None:
    """The order of the quote's side and kind to amend onto the quote: the one furthest behind its
    price (the move improves its price priority), else the nearest one ahead of it (a move away
    from the touch loses the queue place, as the cancel + place it replaces would, for one write
    instead of two; ADR-263), or None when the side has no order to spare."""
    behind: WorkingOrder | None = None
    ahead: WorkingOrder | None = None
    for wo in orders:
        if wo.side is not q.side or wo.post_only is not q.post_only:
            continue
        d = abs(wo.price_ticks - q.price_ticks)
        if wo.price_ticks < q.price_ticks if q.side is Side.BUY else wo.price_ticks > q.price_ticks:
            if behind is None or d > abs(behind.price_ticks - q.price_ticks):
                behind = wo
        elif ahead is None or d < abs(ahead.price_ticks - q.price_ticks):
            ahead = wo
    return behind if behind is not None else ahead


def free_tag(tag: str, taken: set[str]) -> str:
    """`tag` if no working order holds it, else the first free tag with the same prefix (b1 → b6)."""
    if tag not in taken:
        return tag
    prefix = tag.rstrip("0123456789") or tag
    n = 1
    while True:
        digits = str(n)
        candidate = prefix[: 5 - len(digits)] + digits
        if candidate not in taken:
            return candidate
        n += 1


def order_range(a: tuple[int, int, str], b: tuple[int, int, str]) -> tuple[int, int]:
    """The mids m at which key a = (rank, |price - m|, tag) still sorts before key b."""
    (ra, pa, ta), (rb, pb, tb) = a, b
    if ra != rb or pa == pb:
        return INT_MIN, INT_MAX
    s = pa + pb  # the prices are equally far from m where 2m = s; the tag breaks that tie
    if pa < pb:  # a is nearer below s / 2
        return INT_MIN, s // 2 if ta < tb else (s - 1) // 2
    return (-(-s // 2) if ta < tb else s // 2 + 1), INT_MAX


def mid_of_quotes(quotes: Iterable[DesiredQuote]) -> int | None:
    best_bid: int | None = None
    best_ask: int | None = None
    for q in quotes:
        if q.side is Side.BUY:
            best_bid = q.price_ticks if best_bid is None else max(best_bid, q.price_ticks)
        else:
            best_ask = q.price_ticks if best_ask is None else min(best_ask, q.price_ticks)
    if best_bid is not None and best_ask is not None:
        return (best_bid + best_ask) // 2
    return best_bid if best_bid is not None else best_ask
