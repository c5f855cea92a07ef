"""Gated remediation: cancel our own unexpected orders, flatten unexpected positions.

Planning is pure (`plan_remediation`); execution (`execute_remediation`) sends each action through
`LiveConnectorV0.submit`, so the Runbook 17 gates decide like for any other write. Orders without
the `grinder_` prefix are never touched: they are not planned, and execution re-checks the prefix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import StrEnum

import msgspec

from grinder.connector.live import LiveConnectorV0
from grinder.connector.port import PositionState
from grinder.core.commands import CancelOrder, Outcome, PlaceOrder
from grinder.core.enums import OrderType, PositionSide, Side
from grinder.core.ids import is_grinder_order
from grinder.reconcile import metrics
from grinder.reconcile.config import ReconcileConfig
from grinder.reconcile.state import Mismatch, MismatchKind

log = logging.getLogger(__name__)

FLATTEN_LEVEL = "rf"  # level tag of remediation flatten orders: grinder_<tag>_<SYMBOL>_rf_<epoch>_<seq>


class ActionKind(StrEnum):
    CANCEL_ORDER = "cancel_order"
    FLATTEN_POSITION = "flatten_position"


class ActionOutcome(StrEnum):
    DONE = "done"  # the exchange accepted the cancel / flatten order
    BLOCKED = "blocked"  # a connector gate or limit refused it
    FAILED = "failed"  # the exchange rejected it, or its outcome is unknown
    SKIPPED = "skipped"  # not sent: remediation disabled, per-run limit, or needs an operator


class RemediationAction(msgspec.Struct, frozen=True, gc=False):
    kind: ActionKind
    symbol: str
    client_order_id: str = ""  # the order to cancel
    side: Side | None = None  # the flatten order's side
    qty_lots: int = 0  # the flatten order's size


class ActionResult(msgspec.Struct, frozen=True, gc=False):
    action: RemediationAction
    outcome: ActionOutcome
    detail: str = ""


def plan_remediation(
    mismatches: Iterable[Mismatch], positions: Iterable[PositionState], config: ReconcileConfig
) -> tuple[list[RemediationAction], list[ActionResult]]:
    """(actions to send, actions skipped with the reason). Pure."""
    by_symbol: dict[str, list[PositionState]] = {}
    for p in positions:
        by_symbol.setdefault(p.symbol, []).append(p)
    actions: list[RemediationAction] = []
    skipped: list[ActionResult] = []
    cancels = flattens = 0
    for m in mismatches:
        if (
            m.kind is MismatchKind.ORDER_UNEXPECTED_ON_EXCHANGE
            and m.ours
            and is_grinder_order(m.client_order_id)
        ):
            action = RemediationAction(ActionKind.CANCEL_ORDER, m.symbol, client_order_id=m.client_order_id)
            if not config.cancel_unexpected_enabled:
                skipped.append(
                    ActionResult(action, ActionOutcome.SKIPPED, "reconcile.cancel_unexpected_enabled=false")
                )
            elif cancels >= config.max_cancels_per_run:
                skipped.append(
                    ActionResult(
                        action,
                        ActionOutcome.SKIPPED,
                        f"limit: max_cancels_per_run={config.max_cancels_per_run}",
                    )
                )
            else:
                cancels += 1
                actions.append(action)
        elif m.kind is MismatchKind.POSITION_MISMATCH and m.expected == 0 and m.observed:
            side = Side.SELL if m.observed > 0 else Side.BUY
            action = RemediationAction(
                ActionKind.FLATTEN_POSITION, m.symbol, side=side, qty_lots=abs(m.observed)
            )
            why = _flatten_refusal(by_symbol.get(m.symbol, []), config, flattens)
            if why is not None:
                skipped.append(ActionResult(action, ActionOutcome.SKIPPED, why))
            else:
                flattens += 1
                actions.append(action)
    return actions, skipped


def _flatten_refusal(rows: list[PositionState], config: ReconcileConfig, flattens: int) -> str | None:
    if not config.flatten_enabled:
        return "reconcile.flatten_enabled=false"
    if flattens >= config.max_flattens_per_run:
        return f"limit: max_flattens_per_run={config.max_flattens_per_run}"
    if any(p.position_side is not PositionSide.BOTH for p in rows):
        return "hedge-mode position (LONG/SHORT): flatten manually (Runbook 12)"
    return None


async def execute_remediation(
    connector: LiveConnectorV0, actions: Iterable[RemediationAction], config: ReconcileConfig
) -> list[ActionResult]:
    """Send each planned action through the connector's gates; one result per action."""
    results: list[ActionResult] = []
    for action in actions:
        result = await _execute_one(connector, action, config)
        metrics.ACTIONS_TOTAL.labels(action=action.kind.value, outcome=result.outcome.value).inc()
        log.warning(
            "remediation action=%s symbol=%s order_id=%s outcome=%s detail=%s",
            action.kind.value,
            action.symbol,
            action.client_order_id or "-",
            result.outcome.value,
            result.detail,
        )
        results.append(result)
    return results


async def _execute_one(
    connector: LiveConnectorV0, action: RemediationAction, config: ReconcileConfig
) -> ActionResult:
    if not config.remediation_enabled:
        return ActionResult(
            action, ActionOutcome.SKIPPED, "remediation disabled (reconcile.remediation_enabled=false)"
        )
    if action.kind is ActionKind.CANCEL_ORDER:
        if not is_grinder_order(action.client_order_id):  # defence in depth: never touch foreign orders
            return ActionResult(
                action, ActionOutcome.SKIPPED, "foreign order (no grinder_ prefix): never touched"
            )
        res = await connector.submit(
            CancelOrder(symbol=action.symbol, client_order_id=action.client_order_id)
        )
    else:
        assert action.side is not None
        rules = await connector.symbol_rules(action.symbol)
        notional = rules.lots_to_qty(action.qty_lots) * await connector.mid_price(action.symbol)
        if notional > config.max_flatten_notional:
            return ActionResult(
                action,
                ActionOutcome.SKIPPED,
                f"position notional {notional:.2f} exceeds reconcile.max_flatten_notional="
                f"{config.max_flatten_notional}: flatten manually (Runbook 12)",
            )
        cmd = PlaceOrder(
            symbol=action.symbol,
            side=action.side,
            order_type=OrderType.MARKET,
            qty_lots=action.qty_lots,
            client_order_id=connector.ids.next_id(action.symbol, FLATTEN_LEVEL),
            time_in_force=None,
            reduce_only=True,
            level=FLATTEN_LEVEL,
        )
        res = await connector.submit(cmd)
    if res.outcome is Outcome.ACCEPTED:
        return ActionResult(action, ActionOutcome.DONE, res.status.value if res.status else "")
    if res.outcome is Outcome.BLOCKED:
        return ActionResult(action, ActionOutcome.BLOCKED, res.reason)
    return ActionResult(action, ActionOutcome.FAILED, f"{res.outcome.value} {res.code} {res.reason}".strip())
