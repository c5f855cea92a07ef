"""What a market source hands the driver: book changes, trade prints, mark prices — before numbering.

Sources (synthetic or replay) say *what* changed; `MarketState` assigns update ids, trade ids and
server timestamps so that every consumer sees one consistent sequence.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from grinder.core.events import DepthSnapshot, Level


class BookDiff(msgspec.Struct, frozen=True, gc=False):
    """Absolute level quantities (0 deletes). `ids` = (U, u) when replaying a recording."""

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ids: tuple[int, int] | None = None


class BookTop(msgspec.Struct, frozen=True, gc=False):
    """A new best bid/ask from L1-only data (bookTicker files): the book is reduced to these levels."""

    symbol: str
    bid_ticks: int
    bid_lots: int
    ask_ticks: int
    ask_lots: int
    update_id: int | None = None


class TradePrint(msgspec.Struct, frozen=True, gc=False):
    """A public trade; `trade_id` None = numbered by the market state."""

    symbol: str
    price_ticks: int
    qty_lots: int
    buyer_is_maker: bool
    trade_id: int | None = None


class MarkTick(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal


class BookReset(msgspec.Struct, frozen=True, gc=False):
    """A full book (REST snapshot in a capture, or the synthetic market's opening book)."""

    snapshot: DepthSnapshot


MarketInput = BookDiff | BookTop | TradePrint | MarkTick | BookReset


class TimedBatch(msgspec.Struct, frozen=True, gc=False):
    """Inputs that happen at one data time (ms since the source's epoch)."""

    data_time_ms: int
    inputs: tuple[MarketInput, ...]
