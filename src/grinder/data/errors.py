"""The one error type of the data layer: what file, what is wrong, and how to fix it."""

from __future__ import annotations


class DataError(ValueError):
    """A market-data file GRINDER cannot read faithfully (the message names the file and the fix)."""
