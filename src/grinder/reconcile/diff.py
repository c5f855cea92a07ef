"""Pure comparison of expected vs observed state: the list of typed mismatches, in a stable order."""

from __future__ import annotations

from collections.abc import Iterable

from grinder.connector.port import OrderState, PositionState
from grinder.core.ids import is_grinder_order
from grinder.reconcile.config import ReconcileConfig
from grinder.reconcile.state import ExpectedState, Mismatch, MismatchKind


def find_mismatches(
    expected: ExpectedState,
    observed_orders: Iterable[OrderState],
    observed_positions: Iterable[PositionState],
    config: ReconcileConfig | None = None,
) -> list[Mismatch]:
    """Orders are matched by client order id; positions by symbol (net of position sides)."""
    cfg = config or ReconcileConfig()
    out: list[Mismatch] = []
    open_orders = {o.client_order_id: o for o in observed_orders if o.is_open}
    for cid, exp in sorted(expected.orders.items()):
        obs = open_orders.get(cid)
        if obs is None:
            if not exp.in_flight:
                out.append(
                    Mismatch(
                        MismatchKind.ORDER_MISSING_ON_EXCHANGE,
                        exp.symbol,
                        cid,
                        expected=exp.qty_lots,
                        observed=None,
                        detail="not open on the exchange (filled, cancelled or never placed)",
                    )
                )
            continue
        if exp.in_flight:
            continue  # an amend/cancel may be landing right now
        for kind, want, seen, tolerance, unit in (
            (MismatchKind.QTY_MISMATCH, exp.qty_lots, obs.orig_lots, cfg.qty_tolerance_lots, "lots"),
            (MismatchKind.PRICE_MISMATCH, exp.price_ticks, obs.price_ticks, cfg.price_tolerance_ticks,
             "ticks"),
        ):
            if abs(seen - want) > tolerance:
                out.append(Mismatch(kind, exp.symbol, cid, expected=want, observed=seen, detail=unit))
    for cid, obs in sorted(open_orders.items()):
        if cid not in expected.orders:
            ours = is_grinder_order(cid)
            out.append(
                Mismatch(
                    MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE,
                    obs.symbol,
                    cid,
                    ours=ours,
                    expected=None,
                    observed=obs.remaining_lots,
                    detail=f"side={obs.side.value} lots",
                )
            )
    net: dict[str, int] = {}
    for p in observed_positions:
        net[p.symbol] = net.get(p.symbol, 0) + p.amount_lots
    for symbol in sorted(set(net) | set(expected.positions)):
        want, have = expected.positions.get(symbol, 0), net.get(symbol, 0)
        if abs(have - want) > cfg.position_tolerance_lots:
            out.append(
                Mismatch(
                    MismatchKind.POSITION_MISMATCH, symbol, expected=want, observed=have, detail="signed lots"
                )
            )
    return out
