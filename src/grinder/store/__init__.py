"""The append-only trading journal (SQLite, WAL): commands, answers, fills, positions, blocks."""

from grinder.store.config import StoreConfig, Synchronous
from grinder.store.journal import (
    Journal,
    JournalBlock,
    JournalCommand,
    JournalError,
    JournalPosition,
    JournalResult,
    JournalRiskState,
)

__all__ = [
    "Journal",
    "JournalBlock",
    "JournalCommand",
    "JournalError",
    "JournalPosition",
    "JournalResult",
    "JournalRiskState",
    "StoreConfig",
    "Synchronous",
]
