"""Why our own side refused a write (a gate, the risk guard, a limit): a typed kind and the detail.

Operators, logs and the journal read `BlockReason.text` (`gate:armed`, `limit: Cannot …`); code
reads the kind, never the text (`CommandResult.blocked` builds the BLOCKED result).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class BlockKind(StrEnum):
    """Why our own side refused a write before the exchange saw it: stable metric label values."""

    GATE = "gate"  # a Runbook 17 gate (detail: the gate name)
    RISK = "risk"  # the risk guard (detail: the `RiskReason`)
    SYMBOL_NOT_ALLOWED = "symbol_not_allowed"  # not in the connector's symbol allow-list
    LIMIT = "limit"  # the connector's per-order notional cap
    INVALID_ORDER = "invalid_order"  # the exchange would refuse it (symbol rules, client id)
    RULES_UNAVAILABLE = "rules_unavailable"  # symbol rules or a reference price could not be read
    RATE_LIMITED = "rate_limited"  # our rate governor holds writes (429/418 window)
    FENCED = "fenced"  # the HA write fence: not the leader
    NOT_OURS = "not_ours"  # an operator cancel of an order GRINDER did not place
    JOURNAL_WRITE_FAILED = "journal_write_failed"  # not journaled, so not sent


class BlockReason(msgspec.Struct, frozen=True, gc=False):
    """A typed block: the kind, and the operator-facing detail (what was refused and the fix)."""

    kind: BlockKind
    detail: str = ""

    @property
    def label(self) -> str:
        """The metric label: the kind, or for a risk block the risk reason itself."""
        return self.detail if self.kind is BlockKind.RISK else self.kind.value

    @property
    def text(self) -> str:
        """The reason as operators, logs and the journal read it (`gate:armed`, `limit: Cannot …`)."""
        if self.kind is BlockKind.GATE:
            return f"gate:{self.detail}"
        if self.kind is BlockKind.RISK or not self.detail:
            return self.label
        return f"{self.kind.value}: {self.detail}"
