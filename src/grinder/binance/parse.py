"""Wire → core events: pure functions, bytes in, `grinder.core.events` out.

`decode_stream_message` handles the combined-stream wrapper and raw payloads, market data
(bookTicker, depthUpdate, trade, aggTrade, markPriceUpdate) and user data (ORDER_TRADE_UPDATE,
ACCOUNT_UPDATE, listenKeyExpired). It returns None for frames that carry no event (subscription
acks, event types GRINDER does not model) and raises `MalformedMessage` on anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from grinder.binance.errors import MalformedMessage
from grinder.binance.schemas import (
    IGNORED_EVENT_TYPES,
    AccountUpdateMsg,
    AggTradeMsg,
    BookTickerMsg,
    CombinedMsg,
    DepthSnapshotResponse,
    DepthUpdateMsg,
    ListenKeyExpired,
    ListenKeyExpiredMsg,
    MarkPriceMsg,
    OrderTradeUpdateMsg,
    StreamMsg,
    TradeMsg,
)
from grinder.binance.units import Grid, grids_for
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import (
    AccountUpdate,
    BalanceChange,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Level,
    MarkPrice,
    OrderUpdate,
    PositionChange,
    Trade,
)
from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

StreamEvent = BookTicker | DepthUpdate | Trade | MarkPrice | OrderUpdate | AccountUpdate | ListenKeyExpired

_COMBINED = msgspec.json.Decoder(CombinedMsg)
_RAW = msgspec.json.Decoder(StreamMsg)
_GENERIC = msgspec.json.Decoder()
_SNAPSHOT = msgspec.json.Decoder(DepthSnapshotResponse)
_COMBINED_PREFIX = b'{"stream"'


def decode_stream_message(raw: bytes | str, rules: Mapping[str, SymbolRules]) -> StreamEvent | None:
    """Decode one WebSocket frame into a core event (None for acks / unmodelled event types)."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        if data.startswith(_COMBINED_PREFIX):
            msg: StreamMsg = _COMBINED.decode(data).data
        else:
            msg = _RAW.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _decode_slow(data, exc, rules)
    return _convert(msg, rules)


def _convert(msg: StreamMsg, rules: Mapping[str, SymbolRules]) -> StreamEvent:
    try:
        return _CONVERTERS[type(msg)](msg, rules)
    except (ValueError, InvalidOperation) as exc:
        raise MalformedMessage(f"{type(msg).__name__}: {exc}") from None


def _decode_slow(data: bytes, first_error: Exception, rules: Mapping[str, SymbolRules]) -> StreamEvent | None:
    """Frames the fast path refused: a wrapper in another key order or spacing is decoded; acks and
    unmodelled events are None; the rest is malformed."""
    try:
        obj = _GENERIC.decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedMessage(f"not JSON: {exc}; frame starts {data[:80]!r}") from None
    if isinstance(obj, dict) and "stream" in obj and isinstance(obj.get("data"), dict):
        try:
            msg: StreamMsg = msgspec.convert(obj["data"], StreamMsg)
        except msgspec.ValidationError:
            pass
        else:
            return _convert(msg, rules)
    if isinstance(obj, dict):
        if "result" in obj and "id" in obj:
            return None  # SUBSCRIBE / UNSUBSCRIBE acknowledgement
        if "error" in obj and "id" in obj:
            raise MalformedMessage(f"stream request refused: {obj['error']!r}")
        payload = obj.get("data", obj) if "stream" in obj else obj
        if isinstance(payload, dict):
            event_type = payload.get("e")
            if isinstance(payload.get("event"), dict):
                event_type = payload["event"].get("e")
            if event_type in IGNORED_EVENT_TYPES:
                return None
            if event_type is not None:
                raise MalformedMessage(f"event {event_type!r} does not match its schema: {first_error}")
    raise MalformedMessage(f"unexpected frame ({first_error}); starts {data[:80]!r}")


def _rules(rules: Mapping[str, SymbolRules], symbol: str) -> SymbolRules:
    found = rules.get(symbol)
    if found is None:
        raise MalformedMessage(f"no SymbolRules for symbol {symbol!r}; load exchangeInfo for it first")
    return found


def _book_ticker(msg: BookTickerMsg, rules: Mapping[str, SymbolRules]) -> BookTicker:
    g = grids_for(_rules(rules, msg.s))
    pu, qu = g.price.level_units, g.qty.level_units
    return BookTicker(msg.s, pu(msg.b), qu(msg.B), pu(msg.a), qu(msg.A), msg.u, msg.E, msg.T)


def _levels(raw: list[tuple[str, str]], price: Grid, qty: Grid) -> tuple[Level, ...]:
    # Hot path (tens of levels per depth diff): inline cache hits, fall back to exact conversion.
    # The level caches hold only values >= 0, so a hit needs no further check.
    pget, qget = price.level_cache.get, qty.level_cache.get
    pu, qu = price.level_units, qty.level_units
    out: list[Level] = []
    append = out.append
    for p, q in raw:
        pt = pget(p)
        if pt is None:
            pt = pu(p)
        qt = qget(q)
        if qt is None:
            qt = qu(q)
        append((pt, qt))
    return tuple(out)


def _depth(msg: DepthUpdateMsg, rules: Mapping[str, SymbolRules]) -> DepthUpdate:
    g = grids_for(_rules(rules, msg.s))
    return DepthUpdate(
        msg.s,
        msg.U,
        msg.u,
        msg.pu,
        _levels(msg.b, g.price, g.qty),
        _levels(msg.a, g.price, g.qty),
        msg.E,
        msg.T,
    )


def _trade(msg: TradeMsg, rules: Mapping[str, SymbolRules]) -> Trade:
    g = grids_for(_rules(rules, msg.s))
    return Trade(msg.s, msg.t, g.price.level_units(msg.p), g.qty.level_units(msg.q), msg.m, msg.T, msg.E)


def _agg_trade(msg: AggTradeMsg, rules: Mapping[str, SymbolRules]) -> Trade:
    g = grids_for(_rules(rules, msg.s))
    return Trade(msg.s, msg.a, g.price.level_units(msg.p), g.qty.level_units(msg.q), msg.m, msg.T, msg.E)


def _mark(msg: MarkPriceMsg, rules: Mapping[str, SymbolRules]) -> MarkPrice:
    return MarkPrice(msg.s, msg.p, msg.i, msg.r, msg.T, msg.E)


def _enum_or(enum_type: Any, value: str, default: Any) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        return default


def _price_ticks_tolerant(grid: Grid, text: str, what: str) -> int:
    """User events must never be dropped: an off-grid price (e.g. a liquidation) is rounded, loudly."""
    try:
        return grid.units(text)
    except ValueError:
        ticks = grid.nearest_units(text)
        log.warning("user_event_off_grid_price field=%s value=%s rounded_ticks=%d", what, text, ticks)
        return ticks


def _order_update(msg: OrderTradeUpdateMsg, rules: Mapping[str, SymbolRules]) -> OrderUpdate:
    o = msg.o
    g = grids_for(_rules(rules, o.s))
    return OrderUpdate(
        symbol=o.s,
        order_id=o.i,
        client_order_id=o.c,
        side=Side(o.S),
        # LIQUIDATION orders are executed as market orders by the exchange.
        order_type=_enum_or(OrderType, o.o, OrderType.MARKET),
        time_in_force=_enum_or(TimeInForce, o.f, TimeInForce.GTC),
        position_side=PositionSide(o.ps),
        reduce_only=o.R,
        price_ticks=_price_ticks_tolerant(g.price, o.p, "p"),
        orig_qty_lots=g.qty.units(o.q),
        execution_type=ExecutionType(o.x),
        status=OrderStatus(o.X),
        last_fill_lots=g.qty.units(o.l),
        last_fill_price_ticks=_price_ticks_tolerant(g.price, o.L, "L"),
        cum_filled_lots=g.qty.units(o.z),
        avg_price=Decimal(o.ap),
        commission=Decimal(o.n or "0"),
        commission_asset=o.N,
        realized_pnl=Decimal(o.rp),
        is_maker=o.m,
        trade_id=o.t,
        event_time_ms=msg.E,
        transaction_time_ms=msg.T or o.T,
        expiry_reason=int(o.er or 0),
    )


def _account_update(msg: AccountUpdateMsg, rules: Mapping[str, SymbolRules]) -> AccountUpdate:
    positions = []
    for p in msg.a.P:
        r = rules.get(p.s)
        if r is None:
            raise MalformedMessage(
                f"ACCOUNT_UPDATE position for {p.s!r} without SymbolRules; load exchangeInfo"
            )
        positions.append(
            PositionChange(
                symbol=p.s,
                position_side=PositionSide(p.ps),
                amount_lots=grids_for(r).qty.units(p.pa),
                entry_price=p.ep,
                break_even_price=p.bep,
                accumulated_realized=p.cr,
                unrealized_pnl=p.up,
                margin_type=p.mt,
                isolated_wallet=p.iw,
            )
        )
    balances = tuple(BalanceChange(b.a, b.wb, b.cw, b.bc) for b in msg.a.B)
    return AccountUpdate(msg.a.m, balances, tuple(positions), msg.E, msg.T)


def _listen_key_expired(msg: ListenKeyExpiredMsg, rules: Mapping[str, SymbolRules]) -> ListenKeyExpired:
    return ListenKeyExpired(msg.listenKey, int(msg.E))


_CONVERTERS: dict[type, Callable[[Any, Mapping[str, SymbolRules]], StreamEvent]] = {
    BookTickerMsg: _book_ticker,
    DepthUpdateMsg: _depth,
    TradeMsg: _trade,
    AggTradeMsg: _agg_trade,
    MarkPriceMsg: _mark,
    OrderTradeUpdateMsg: _order_update,
    AccountUpdateMsg: _account_update,
    ListenKeyExpiredMsg: _listen_key_expired,
}


def parse_depth_snapshot(
    raw: bytes | str | Mapping[str, Any], symbol: str, rules: SymbolRules
) -> DepthSnapshot:
    """`GET /fapi/v1/depth` body → DepthSnapshot in ticks/lots (raises MalformedMessage on garbage)."""
    try:
        if isinstance(raw, Mapping):
            snap = msgspec.convert(raw, DepthSnapshotResponse)
        else:
            snap = _SNAPSHOT.decode(raw.encode() if isinstance(raw, str) else raw)
        g = grids_for(rules)
        return DepthSnapshot(
            symbol,
            snap.lastUpdateId,
            _levels(snap.bids, g.price, g.qty),
            _levels(snap.asks, g.price, g.qty),
            snap.E,
            snap.T,
        )
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise MalformedMessage(f"{symbol} depth snapshot: {exc}") from None
