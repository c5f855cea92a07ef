"""`StoreConfig`: the [store] section: where the journal lives and how hard it syncs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Synchronous(StrEnum):
    """SQLite `PRAGMA synchronous` in WAL mode (ADR-048)."""

    FULL = "FULL"  # fsync the WAL on every commit: survives power loss, not only kill -9
    NORMAL = "NORMAL"  # fsync at checkpoints only: survives kill -9; a power cut may lose the last commits


@dataclass(frozen=True, slots=True)
class StoreConfig:
    journal_path: str = "var/journal.sqlite3"
    synchronous: Synchronous = Synchronous.FULL
    busy_timeout_ms: int = 5_000

    def __post_init__(self) -> None:
        if not self.journal_path:
            raise ValueError("[store] journal_path must name a file, e.g. var/journal.sqlite3")
        if self.busy_timeout_ms < 0:
            raise ValueError(f"[store] busy_timeout_ms must be >= 0 (got {self.busy_timeout_ms})")
