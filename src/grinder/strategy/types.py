"""The grid's controller modes (the quote and band types every strategy shares: `grinder.core.quotes`)."""

from __future__ import annotations

from enum import StrEnum

from grinder.core.quotes import EMPTY_BAND, INT_MAX, INT_MIN, DesiredQuote, QuietBand, QuoteSet

__all__ = ["EMPTY_BAND", "INT_MAX", "INT_MIN", "ControllerMode", "DesiredQuote", "QuietBand", "QuoteSet"]


class ControllerMode(StrEnum):
    BASE = "BASE"  # configured spacing
    WIDEN = "WIDEN"  # spacing × widen_factor (volatile or wide market)
    TIGHTEN = "TIGHTEN"  # spacing × tighten_factor (calm, tight market)
    PAUSE = "PAUSE"  # no quotes
