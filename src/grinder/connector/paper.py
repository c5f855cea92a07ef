"""`PaperPort`: the ExchangePort over the in-process venue model, fed with live market data.

PAPER mode sends every write here instead of to Binance: the same matching engine the simulator
and the backtester use decides fills, so paper results mean what backtests mean. Market events go
in through `on_book_ticker` / `on_trade` / `on_mark_price` / depth; order and account updates come
out of `drain_events()` exactly as the user-data stream would deliver them.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from grinder.connector.port import BalanceState, OrderState, PositionState
from grinder.core.clock import Clock
from grinder.core.commands import Command, CommandResult
from grinder.core.errors import ErrorCode
from grinder.core.events import (
    AccountUpdate,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Fill,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from grinder.core.rules import SymbolRules
from grinder.venue import OrderView, Venue, VenueReject

log = logging.getLogger(__name__)

PAPER_URL = "paper://venue"


def _state(view: OrderView) -> OrderState:
    return OrderState(
        symbol=view.symbol,
        client_order_id=view.client_order_id,
        order_id=view.order_id,
        side=view.side,
        order_type=view.order_type,
        status=view.status,
        price_ticks=view.price_ticks,
        orig_lots=view.orig_qty_lots,
        executed_lots=view.executed_lots,
        time_in_force=view.time_in_force,
        reduce_only=view.reduce_only,
        position_side=view.position_side,
        update_time_ms=view.update_time_ms,
    )


class PaperPort:
    """Paper trading against `grinder.venue.Venue`; never touches the network."""

    name = "paper"

    def __init__(self, venue: Venue, clock: Clock) -> None:
        self.venue = venue
        self._clock = clock
        log.info("PaperPort initialized symbols=%s", ",".join(venue.symbols))

    @property
    def base_url(self) -> str:
        return PAPER_URL

    @property
    def is_mainnet(self) -> bool:
        return False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        try:
            return self.venue.rules(symbol)
        except VenueReject:
            raise ValueError(f"symbol {symbol} is not configured in the paper venue") from None

    # ------------------------------------------------------------------ market data in
    def on_book_ticker(self, ev: BookTicker) -> None:
        self.venue.on_book_ticker(ev)

    def on_trade(self, ev: Trade) -> None:
        self.venue.on_trade(ev)

    def on_mark_price(self, ev: MarkPrice) -> None:
        self.venue.on_mark_price(ev)

    def on_depth_snapshot(self, ev: DepthSnapshot) -> None:
        self.venue.on_depth_snapshot(ev)

    def on_depth_update(self, ev: DepthUpdate) -> None:
        self.venue.on_depth_update(ev)

    def drain_events(self) -> list[OrderUpdate | AccountUpdate]:
        return self.venue.drain_events(self._clock.now_ms())

    # ------------------------------------------------------------------ writes
    async def submit(self, cmd: Command) -> CommandResult:
        return self.venue.execute(cmd, self._clock.now_ms())

    # ------------------------------------------------------------------ reads
    async def query_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        try:
            return _state(self.venue.get_order(symbol=symbol, client_order_id=client_order_id))
        except VenueReject as exc:
            if exc.code == ErrorCode.NO_SUCH_ORDER:
                return None
            raise

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [_state(v) for v in self.venue.open_orders(symbol)]

    async def positions(self) -> list[PositionState]:
        return [
            PositionState(symbol=p.symbol, amount_lots=p.amount_lots, entry_price=p.entry_price,
                          position_side=p.position_side, mark_price=p.mark_price,
                          unrealized_pnl=p.unrealized_pnl)
            for p in self.venue.positions()
            if p.amount_lots != 0
        ]

    async def fills_after(
        self, symbol: str, after_trade_id: int | None, start_time_ms: int = 0, limit: int = 1000
    ) -> list[Fill]:
        """The venue's trade list of `symbol` after a trade id (or since a time), as fills."""
        out: list[Fill] = []
        for t in self.venue.user_trades(symbol):
            if (after_trade_id is not None and t.trade_id <= after_trade_id) or (
                after_trade_id is None and t.time_ms < start_time_ms
            ):
                continue
            cid = self.venue.get_order(symbol=symbol, order_id=t.order_id).client_order_id
            out.append(Fill(
                symbol=symbol, order_id=t.order_id, client_order_id=cid, trade_id=t.trade_id, side=t.side,
                position_side=t.position_side, price_ticks=t.price_ticks, qty_lots=t.qty_lots,
                is_maker=t.is_maker, commission=t.commission, commission_asset=t.commission_asset,
                realized_pnl=t.realized_pnl, time_ms=t.time_ms,
            ))
            if len(out) >= limit:
                break
        return out

    async def balance(self) -> BalanceState:
        b = self.venue.balance()
        return BalanceState(asset=b.asset, wallet_balance=b.wallet_balance,
                            available_balance=b.available_balance, unrealized_pnl=b.unrealized_pnl)

    async def mid_price(self, symbol: str) -> Decimal:
        quote = self.venue.best_bid_ask(symbol)
        if quote is None:
            raise ValueError(f"paper venue has no quote for {symbol} yet: feed it book tickers first")
        rules = self.venue.rules(symbol)
        return (rules.ticks_to_price(quote[0]) + rules.ticks_to_price(quote[2])) / 2
