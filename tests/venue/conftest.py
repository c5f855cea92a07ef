"""Venue test fixtures."""

from __future__ import annotations

import pytest

from grinder.venue import Venue
from tests.venue.builders import SYM, T0, make_venue, mark, quote

__all__ = ["SYM"]


@pytest.fixture
def venue() -> Venue:
    """A venue with a 60000.0 / 60000.1 quote and mark 60000.05."""
    v = make_venue()
    mark(v, "60000.05", T0)
    quote(v, 600_000, 600_001, T0)
    return v
