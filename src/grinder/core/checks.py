"""Validation the frozen config classes share: one message shape for a setting below its minimum."""

from __future__ import annotations

from collections.abc import Iterable


def require_at_least(config: object, section: str, minimum: int, names: Iterable[str]) -> None:
    """ValueError naming the first of `names` (fields of `config`) below `minimum`, as
    f"{section}{name} must be >= {minimum} (got {value})"; `section` is how the TOML section is
    written in that config's messages ("[execution] ", "reconcile.")."""
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            raise ValueError(f"{section}{name} must be >= {minimum} (got {value})")
