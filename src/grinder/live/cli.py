"""`grinder live --config FILE`: the same engine process as `python -m grinder.live.run`."""

from __future__ import annotations

from grinder.live.run import configure, main, run

__all__ = ["configure", "main", "run"]
