"""A fresh client-id epoch for each leadership term, above every epoch the exchange has seen (ADR-114).

Each HA instance keeps its own journal (ADR-111), so two instances can pick the same epoch (both
started in the same second) and would then issue the same client ids. Binance only refuses a
duplicate id among OPEN orders, so a reused id of a closed order is accepted: two orders, one id.
When an instance starts or takes over as leader it therefore moves to an epoch above the current
second, its own last epoch, and every epoch in the exchange's recent orders of ours (the previous
leader's ids are the newest there: it wrote before us, and nothing it sends after our term began
passes its write fence).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from grinder.binance.constants import Security
from grinder.core.ids import ClientOrderIdFactory, parse_client_order_id

if TYPE_CHECKING:
    from grinder.binance.rest import BinanceRestClient
    from grinder.live.engine import LiveEngine

log = logging.getLogger(__name__)

RECENT_ORDERS = 100  # per symbol (GET /fapi/v1/allOrders weight 5)


def epoch_of(text: str) -> int | None:
    """The epoch part of one of our ids as seconds (decimal, or base 36 when the id was long)."""
    try:
        return int(text) if text.isdigit() and len(text) >= 9 else int(text, 36)
    except ValueError:
        return None


async def highest_exchange_epoch(rest: BinanceRestClient, symbols: tuple[str, ...]) -> int:
    highest = 0
    for sym in symbols:
        rows = await rest.request("GET", "/fapi/v1/allOrders", {"symbol": sym, "limit": RECENT_ORDERS},
                                  security=Security.SIGNED)
        for row in rows if isinstance(rows, list) else []:
            parsed = parse_client_order_id(str(row.get("clientOrderId", "")))
            epoch = epoch_of(parsed.epoch) if parsed is not None else None
            if epoch is not None:
                highest = max(highest, epoch)
    return highest


async def begin_term_epoch(engine: LiveEngine, rest: BinanceRestClient) -> int:
    """Switch the order manager to a new epoch for this leadership term; journaled; returns it."""
    orders = engine.parts.pipeline.orders
    now_ms = engine.clock.now_ms()
    seen = await highest_exchange_epoch(rest, engine.config.symbols)
    epoch = max(now_ms // 1000, orders.ids.epoch_s + 1, seen + 1)
    orders.ids = ClientOrderIdFactory(orders.ids.strategy, epoch)
    engine.parts.journal.record_epoch(epoch, now_ms)
    log.info("client id epoch for this leadership term epoch=%d (exchange's highest %d)", epoch, seen)
    return epoch
