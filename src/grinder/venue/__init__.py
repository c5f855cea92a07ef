"""The venue model: one deterministic model of Binance USDⓈ-M matching and accounts (see docs/venue.md)."""

from grinder.venue.config import VenueConfig
from grinder.venue.engine import Venue
from grinder.venue.errors import VenueReject
from grinder.venue.views import BalanceView, IncomeView, OrderView, PositionView, TradeView

__all__ = [
    "BalanceView",
    "IncomeView",
    "OrderView",
    "PositionView",
    "TradeView",
    "Venue",
    "VenueConfig",
    "VenueReject",
]
