"""Per-instance resources of an HA pair: each instance keeps its own journal file (ADR-111).

Two instances of one account run the same configuration (Runbook 07). SQLite journals are
append-only per process (epochs, sequence numbers), so two writers on one file collide; the
instance's journal path therefore carries its HA holder id: `var/journal.sqlite3` becomes
`var/journal.a.sqlite3` for holder `a`. A path containing `{holder}` is filled in instead.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from grinder.ha.config import HAConfig
from grinder.ha.lease import default_holder_id
from grinder.store import StoreConfig

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def holder_of(ha: HAConfig) -> str:
    return ha.holder_id or default_holder_id()


def instance_journal_path(journal_path: str, holder_id: str) -> str:
    """The journal file of one HA instance (pure)."""
    holder = _UNSAFE.sub("_", holder_id).strip("_") or "instance"
    if "{holder}" in journal_path:
        return journal_path.replace("{holder}", holder)
    path = Path(journal_path)
    return str(path.with_name(f"{path.stem}.{holder}{path.suffix}"))


def instance_store(store: StoreConfig | None, ha: HAConfig | None) -> StoreConfig | None:
    """`store` with the journal path of this instance when [ha] is enabled; unchanged otherwise."""
    if ha is None or not ha.enabled:
        return store
    cfg = store or StoreConfig()
    return dataclasses.replace(cfg, journal_path=instance_journal_path(cfg.journal_path, holder_of(ha)))
