"""A typed block reason renders the operator text and metric label the string reasons had."""

from __future__ import annotations

from grinder.core.blocks import BlockKind, BlockReason
from grinder.core.commands import CancelOrder, CommandResult, Outcome


def test_text_and_label_keep_the_stable_forms() -> None:
    assert BlockReason(BlockKind.GATE, "armed").text == "gate:armed"
    assert BlockReason(BlockKind.GATE, "armed").label == "gate"
    assert BlockReason(BlockKind.RISK, "MAX_POSITION").text == "MAX_POSITION"
    assert BlockReason(BlockKind.RISK, "MAX_POSITION").label == "MAX_POSITION"
    limit = BlockReason(BlockKind.LIMIT, "Cannot place_order: notional 600 > 500")
    assert limit.text == "limit: Cannot place_order: notional 600 > 500" and limit.label == "limit"
    assert BlockReason(BlockKind.JOURNAL_WRITE_FAILED).text == "journal_write_failed"


def test_blocked_result_carries_the_type_and_the_text() -> None:
    why = BlockReason(BlockKind.RATE_LIMITED, "ORDERS 10s window full")
    res = CommandResult.blocked(CancelOrder("BTCUSDT", "grinder_x"), why)
    assert res.outcome is Outcome.BLOCKED and res.block is why
    assert res.reason == "rate_limited: ORDERS 10s window full"
