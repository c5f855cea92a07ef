"""Builders for venue tests: BTCUSDT rules (tick 0.10, step 0.001, min notional 100)."""

from __future__ import annotations

from decimal import Decimal

from grinder.core.commands import PlaceOrder
from grinder.core.enums import OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import BookTicker, DepthSnapshot, MarkPrice, Trade
from grinder.core.rules import btcusdt_rules, ethusdt_rules
from grinder.venue import Venue, VenueConfig

SYM = "BTCUSDT"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a funding instant


def make_venue(**cfg: object) -> Venue:
    rules = {SYM: btcusdt_rules(), "ETHUSDT": ethusdt_rules()}
    return Venue(VenueConfig(**cfg), rules)  # type: ignore[arg-type]


def quote(
    v: Venue, bid: int, ask: int, t: int, bid_lots: int = 1000, ask_lots: int = 1000, sym: str = SYM
) -> None:
    v.on_book_ticker(BookTicker(sym, bid, bid_lots, ask, ask_lots, 0, t, t))


def trade(v: Venue, price: int, lots: int, t: int, *, seller_aggressor: bool = True, sym: str = SYM) -> None:
    v.on_trade(Trade(sym, t, price, lots, seller_aggressor, t, t))


def mark(v: Venue, price: str, t: int, rate: str = "0", next_funding: int = 0, sym: str = SYM) -> None:
    v.on_mark_price(MarkPrice(sym, Decimal(price), Decimal(price), Decimal(rate), next_funding, t))


def depth(v: Venue, bids: list[tuple[int, int]], asks: list[tuple[int, int]], t: int, sym: str = SYM) -> None:
    v.on_depth_snapshot(DepthSnapshot(sym, 1, tuple(bids), tuple(asks), t, t))


def limit(
    side: Side, price: int, lots: int, cid: str, tif: TimeInForce = TimeInForce.GTC, **kw: object
) -> PlaceOrder:
    return PlaceOrder(SYM, side, OrderType.LIMIT, lots, cid, price_ticks=price, time_in_force=tif, **kw)  # type: ignore[arg-type]


def market(side: Side, lots: int, cid: str, **kw: object) -> PlaceOrder:
    return PlaceOrder(SYM, side, OrderType.MARKET, lots, cid, price_ticks=None, time_in_force=None, **kw)  # type: ignore[arg-type]


__all__ = ["SYM", "T0", "PositionSide", "depth", "limit", "make_venue", "mark", "market", "quote", "trade"]
