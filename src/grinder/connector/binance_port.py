"""`BinanceFuturesPort`: the ExchangePort over Binance USDⓈ-M (REST, and the WebSocket API for orders).

`http_client` is a `grinder.binance.rest.BinanceRestClient` (signing, clock offset, rate-limit
governor, error taxonomy, and retries of definitely-not-executed failures with the same client
order id). With a `ws_client` (`BinanceWsApiClient`), order writes and their status queries go over
its persistent WebSocket API session while it is up, and over REST while it is down (ADR-230).
This port adds what only an order path knows: our notional cap, local filter checks (nothing
invalid is sent), and unknown-outcome resolution — after a timeout / 503 "unknown error" / a socket
lost mid-request it queries the SAME client order id before anything else is sent, and re-sends
with that same id only when the query proves the order absent (ADR-056). One loop (`_write`) does
this for place, cancel and amend on either transport.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from grinder.binance.constants import Security
from grinder.binance.errors import BinanceAPIError, ErrorKind, MalformedMessage, RateLimitRefused, WriteFenced
from grinder.binance.rest import BinanceRestClient
from grinder.binance.schemas import OrderResponse
from grinder.binance.ws_api import BinanceWsApiClient, WsApiUnavailable
from grinder.connector.config import BinanceFuturesPortConfig
from grinder.connector.errors import explain_exchange_error
from grinder.connector.gates import is_mainnet_url
from grinder.connector.metrics import ORDER_REQUESTS_OK_TOTAL, UNKNOWN_OUTCOMES_TOTAL
from grinder.connector.notional import notional_problem
from grinder.connector.port import BalanceState, OrderState, PositionState
from grinder.core.blocks import BlockKind, BlockReason
from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side
from grinder.core.errors import MSG_NO_SUCH_ORDER, ErrorCode
from grinder.core.events import Fill
from grinder.core.ids import is_valid_client_order_id
from grinder.core.rules import OrderRuleError, SymbolRules

log = logging.getLogger(__name__)



class _Unresolved:
    """Marker: the query after an unknown outcome did not answer either."""


_UNRESOLVED: Final = _Unresolved()
_OK_OVER_WS: Final = ORDER_REQUESTS_OK_TOTAL.labels("ws")
_OK_OVER_REST: Final = ORDER_REQUESTS_OK_TOTAL.labels("rest")


class OrderTransport(Protocol):
    """What carries order writes and status queries: the REST client or the WebSocket API client."""

    async def new_order(self, cmd: PlaceOrder, rules: SymbolRules) -> OrderResponse: ...

    async def modify_order(self, cmd: AmendOrder, rules: SymbolRules) -> OrderResponse: ...

    async def cancel_order(self, symbol: str, *, client_order_id: str) -> OrderResponse: ...

    async def query_order(self, symbol: str, *, client_order_id: str) -> OrderResponse: ...


@dataclass(frozen=True, slots=True)
class _WriteOp:
    """One kind of write for `_write`: how to send it, and how a query's answer settles it.

    query_anyway(exc, resends): resolve by query although the exchange rejected the attempt.
    settle(found, exc): the result for the order's state (None = absent), or None to resend.
    """

    name: str  # place_order / cancel_order / replace_order, as in operator messages
    send: Callable[[OrderTransport], Awaitable[OrderResponse]]
    query_anyway: Callable[[BinanceAPIError, int], bool]
    settle: Callable[[OrderState | None, BinanceAPIError], CommandResult | None]


def order_state(resp: OrderResponse, rules: SymbolRules) -> OrderState:
    """Wire order object → OrderState (ticks/lots)."""
    price = resp.price if resp.price not in ("", "0") else "0"
    return OrderState(
        symbol=resp.symbol,
        client_order_id=resp.clientOrderId,
        order_id=resp.orderId,
        side=resp.to_side(),
        order_type=resp.to_order_type(),
        status=resp.to_status(),
        price_ticks=rules.floor_ticks(price),
        orig_lots=rules.qty_to_lots(resp.origQty),
        executed_lots=rules.qty_to_lots(resp.executedQty),
        time_in_force=resp.to_time_in_force(),
        reduce_only=resp.reduceOnly,
        position_side=resp.to_position_side(),
        update_time_ms=resp.updateTime,
    )


class BinanceFuturesPort:
    """Orders, cancels, amends and account reads against Binance USDⓈ-M (or a compatible simulator)."""

    name = "binance_futures"

    def __init__(
        self,
        config: BinanceFuturesPortConfig | None = None,
        http_client: BinanceRestClient | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ws_client: BinanceWsApiClient | None = None,
    ) -> None:
        self.config = config if config is not None else BinanceFuturesPortConfig()
        if http_client is None:
            # Keys come from the environment only (never from config files or arguments).
            http_client = BinanceRestClient(
                self.config.base_url,
                api_key=os.environ.get("BINANCE_API_KEY") or None,
                api_secret=os.environ.get("BINANCE_API_SECRET") or None,
            )
        elif http_client.base_url.rstrip("/") != self.config.base_url.rstrip("/"):
            # Gate 3 decides on this URL; it must be the one requests actually go to.
            raise ValueError(
                f"BinanceFuturesPort: http_client.base_url {http_client.base_url!r} differs from "
                f"config.base_url {self.config.base_url!r}; build both from the same URL"
            )
        ws_mainnet = ws_client is not None and is_mainnet_url(ws_client.url)
        if ws_client is not None and ws_mainnet and not is_mainnet_url(self.config.base_url):
            # Gate 3 decides on the REST URL: orders must not reach mainnet through another door.
            raise ValueError(
                f"BinanceFuturesPort: WebSocket API url {ws_client.url!r} is Binance mainnet but "
                f"base_url {self.config.base_url!r} is not; point both at the same exchange"
            )
        self._client = http_client
        self._ws = ws_client
        self._rules: dict[str, SymbolRules] = {}
        self._sleep = sleep
        self._initialized = False

    def __repr__(self) -> str:
        return f"BinanceFuturesPort(url={self.base_url!r})"

    # ------------------------------------------------------------------ identity
    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def is_mainnet(self) -> bool:
        return is_mainnet_url(self.base_url)

    @property
    def http_client(self) -> BinanceRestClient:
        return self._client

    @property
    def ws_client(self) -> BinanceWsApiClient | None:
        """The WebSocket API session orders go over while it is up (None: REST only)."""
        return self._ws

    async def start(self) -> None:
        """Load exchangeInfo (symbol rules); logs `BinanceFuturesPort initialized url=...` once."""
        try:
            info = await self._client.exchange_info()
        except Exception as exc:
            log.error("BinanceFuturesPort initialization failed url=%s error=%s", self.base_url, exc)
            raise
        self._rules.update(info.rules)
        if not self._initialized:
            self._initialized = True
            log.info("BinanceFuturesPort initialized url=%s", self.base_url)
            if self._ws is not None:
                up = await self._ws.start()
                log.info("order transport=%s ws_api_url=%s", "ws" if up else "rest (ws connecting)",
                         self._ws.url)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        await self._client.close()

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        rules = self._rules.get(symbol)
        if rules is None:
            await self.start()
            rules = self._rules.get(symbol)
        if rules is None:
            raise ValueError(
                f"symbol {symbol} is not listed by {self.base_url} exchangeInfo; check the symbol name"
            )
        return rules

    # ------------------------------------------------------------------ writes
    async def submit(self, cmd: Command) -> CommandResult:
        try:
            rules = await self.symbol_rules(cmd.symbol)
        except ValueError as exc:
            return CommandResult.blocked(cmd, BlockReason(BlockKind.INVALID_ORDER, str(exc)))
        except (BinanceAPIError, RateLimitRefused, MalformedMessage) as exc:
            return CommandResult.blocked(cmd, BlockReason(BlockKind.RULES_UNAVAILABLE, str(exc)))
        try:
            if isinstance(cmd, PlaceOrder):
                return await self._place(cmd, rules)
            if isinstance(cmd, CancelOrder):
                return await self._cancel(cmd, rules)
            return await self._amend(cmd, rules)
        except WriteFenced as exc:  # the HA fence refused the request: nothing was sent (ADR-110)
            return CommandResult.blocked(cmd, BlockReason(BlockKind.FENCED, exc.reason))

    async def _reference_price_ticks(self, cmd: PlaceOrder, rules: SymbolRules) -> int:
        if cmd.price_ticks is not None:
            return cmd.price_ticks
        return rules.ceil_ticks(await self.mid_price(cmd.symbol))

    async def _check_place(self, cmd: PlaceOrder, rules: SymbolRules) -> BlockReason | None:
        if not is_valid_client_order_id(cmd.client_order_id):
            return BlockReason(BlockKind.INVALID_ORDER, f"client order id {cmd.client_order_id!r} "
                                                        "must match ^[.A-Z:/a-z0-9_-]{1,36}$")
        if cmd.order_type is OrderType.LIMIT and cmd.price_ticks is None:
            return BlockReason(BlockKind.INVALID_ORDER, "a LIMIT order needs price_ticks")
        try:
            rules.validate_ticks(cmd.side, cmd.order_type, cmd.qty_lots, cmd.price_ticks,
                                 reduce_only=cmd.reduce_only)
            ref_ticks = await self._reference_price_ticks(cmd, rules)
        except OrderRuleError as exc:
            return BlockReason(BlockKind.INVALID_ORDER, f"{exc.code} {exc.msg}")
        except (BinanceAPIError, RateLimitRefused, MalformedMessage) as exc:
            return BlockReason(BlockKind.INVALID_ORDER, f"no reference price for the notional check ({exc})")
        problem = notional_problem(rules, ref_ticks, cmd.qty_lots, self.config.max_notional_per_order,
                                   reduce_only=cmd.reduce_only, op="place_order")
        return BlockReason(BlockKind.LIMIT, problem) if problem else None

    async def _place(self, cmd: PlaceOrder, rules: SymbolRules) -> CommandResult:
        problem = await self._check_place(cmd, rules)
        if problem is not None:
            return CommandResult.blocked(cmd, problem)

        def settle(found: OrderState | None, exc: BinanceAPIError) -> CommandResult | None:
            return _found(cmd, found) if found is not None else None  # absent: resend the same id

        return await self._write(cmd, rules, _WriteOp(
            "place_order", lambda t: t.new_order(cmd, rules),
            # A duplicate id means an earlier attempt of ours landed: ask before anything else.
            query_anyway=lambda exc, resends: exc.code == ErrorCode.DUPLICATED_CLIENT_ORDER_ID,
            settle=settle,
        ))

    async def _cancel(self, cmd: CancelOrder, rules: SymbolRules) -> CommandResult:
        def settle(found: OrderState | None, exc: BinanceAPIError) -> CommandResult | None:
            if found is None:
                return CommandResult(cmd, Outcome.REJECTED, code=ErrorCode.NO_SUCH_ORDER,
                                     reason=MSG_NO_SUCH_ORDER)
            if found.is_open:
                return None  # still open: cancel it again
            if found.status is OrderStatus.CANCELED:
                return _found(cmd, found)
            return CommandResult(cmd, Outcome.REJECTED, order_id=found.order_id, status=found.status,
                                 code=ErrorCode.CANCEL_REJECTED,
                                 reason=f"order is {found.status.value}, not open")

        return await self._write(cmd, rules, _WriteOp(
            "cancel_order", lambda t: t.cancel_order(cmd.symbol, client_order_id=cmd.client_order_id),
            # "Unknown order" after our own earlier attempt: that attempt may have cancelled it.
            query_anyway=lambda exc, resends: resends > 0 and exc.code == ErrorCode.CANCEL_REJECTED,
            settle=settle,
        ))

    async def _amend(self, cmd: AmendOrder, rules: SymbolRules) -> CommandResult:
        try:
            rules.validate_ticks(cmd.side, OrderType.LIMIT, cmd.qty_lots, cmd.price_ticks)
        except OrderRuleError as exc:
            return CommandResult.blocked(cmd, BlockReason(BlockKind.INVALID_ORDER, f"{exc.code} {exc.msg}"))
        problem = notional_problem(rules, cmd.price_ticks, cmd.qty_lots, self.config.max_notional_per_order,
                                   reduce_only=False, op="replace_order")
        if problem is not None:
            return CommandResult.blocked(cmd, BlockReason(BlockKind.LIMIT, problem))

        def settle(found: OrderState | None, exc: BinanceAPIError) -> CommandResult | None:
            if found is None:
                return CommandResult(cmd, Outcome.REJECTED, code=ErrorCode.NO_SUCH_ORDER,
                                     reason=MSG_NO_SUCH_ORDER)
            applied = (found.price_ticks, found.orig_lots) == (cmd.price_ticks, cmd.qty_lots)
            if applied or not found.is_open or exc.code == ErrorCode.MODIFY_NO_CHANGE:
                return _found(cmd, found)
            return None  # open with the old price: modify it again

        return await self._write(cmd, rules, _WriteOp(
            "replace_order", lambda t: t.modify_order(cmd, rules),
            # "No need to modify" after our own earlier attempt: that attempt applied it.
            query_anyway=lambda exc, resends: resends > 0 and exc.code == ErrorCode.MODIFY_NO_CHANGE,
            settle=settle,
        ))

    async def _write(self, cmd: Command, rules: SymbolRules, op: _WriteOp) -> CommandResult:
        """The one resend-and-resolve loop of every write, whichever transport carries it.

        A rejection ends it (unless `op.query_anyway`); any other failure is followed by a query of
        the same client order id, and `op.settle` turns the answer into the result, or asks for a
        resend with the SAME id (at most `max_resends`). An unanswered query ends it as UNKNOWN if
        any attempt may have executed."""
        resends = 0
        maybe_executed = False  # any unknown outcome so far: the order may still appear later
        while True:
            try:
                resp = await self._send(op.send)
                return CommandResult(cmd, Outcome.ACCEPTED, order_id=resp.orderId, status=resp.to_status())
            except RateLimitRefused as exc:
                return CommandResult.blocked(cmd, BlockReason(BlockKind.RATE_LIMITED, str(exc)))
            except ValueError as exc:  # not encodable: nothing was sent
                return CommandResult.blocked(cmd, BlockReason(BlockKind.INVALID_ORDER, str(exc)))
            except BinanceAPIError as exc:
                if exc.kind is ErrorKind.NON_RETRYABLE and not op.query_anyway(exc, resends):
                    return _rejected(cmd, exc, op.name)
                maybe_executed |= exc.kind is ErrorKind.UNKNOWN_OUTCOME
                found = await self._resolve(cmd.symbol, cmd.client_order_id, rules, exc)
                if isinstance(found, _Unresolved):
                    return _give_up(cmd, exc, maybe_executed)
                settled = op.settle(found, exc)
                if settled is not None:
                    return settled
                if resends >= self.config.max_resends:
                    return _give_up(cmd, exc, maybe_executed)
                resends += 1
                log.warning("order_resend client_order_id=%s op=%s attempt=%d reason=after_%s",
                            cmd.client_order_id, op.name, resends, exc.kind.value)
                UNKNOWN_OUTCOMES_TOTAL.labels(resolution="absent_resent").inc()
                await self._sleep(self.config.retry_backoff_s)

    async def _send(self, call: Callable[[OrderTransport], Awaitable[OrderResponse]]) -> OrderResponse:
        """Over the WebSocket API session while it is up, else (or if it went down before the
        frame was sent) over REST."""
        ws = self._ws
        if ws is not None and ws.is_connected:
            try:
                resp = await call(ws)
            except WsApiUnavailable:
                pass  # nothing was sent: REST carries this attempt
            else:
                _OK_OVER_WS.inc()
                return resp
        resp = await call(self._client)
        _OK_OVER_REST.inc()
        return resp

    async def _resolve(
        self, symbol: str, client_order_id: str, rules: SymbolRules, cause: BinanceAPIError
    ) -> OrderState | _Unresolved | None:
        """Query the same id until the exchange answers: the order's state, None (absent) or unresolved."""
        log.warning("unknown_outcome_resolve client_order_id=%s status=%s code=%s kind=%s",
                    client_order_id, cause.http_status, cause.code, cause.kind.value)
        for attempt in range(self.config.resolve_attempts):
            if attempt:
                await self._sleep(self.config.retry_backoff_s)
            try:
                found = await self._query(symbol, client_order_id, rules)
            except (BinanceAPIError, RateLimitRefused, MalformedMessage) as exc:
                log.warning("unknown_outcome_query_failed client_order_id=%s attempt=%d error=%s",
                            client_order_id, attempt + 1, exc)
                continue
            if found is not None:
                UNKNOWN_OUTCOMES_TOTAL.labels(resolution="found").inc()
                log.info("unknown_outcome_resolved client_order_id=%s status=%s", client_order_id,
                         found.status.value)
            return found
        UNKNOWN_OUTCOMES_TOTAL.labels(resolution="unresolved").inc()
        return _UNRESOLVED

    # ------------------------------------------------------------------ reads
    async def _query(self, symbol: str, client_order_id: str, rules: SymbolRules) -> OrderState | None:
        try:
            resp = await self._send(lambda t: t.query_order(symbol, client_order_id=client_order_id))
        except BinanceAPIError as exc:
            if exc.code == ErrorCode.NO_SUCH_ORDER:
                return None
            raise
        return order_state(resp, rules)

    async def query_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return await self._query(symbol, client_order_id, await self.symbol_rules(symbol))

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        rows = await self._client.open_orders(symbol)
        out = []
        for row in rows:
            out.append(order_state(row, await self.symbol_rules(row.symbol)))
        return out

    async def positions(self) -> list[PositionState]:
        if not self._rules:
            await self.start()
        out = []
        for row in await self._client.position_risk():
            rules = self._rules.get(row.symbol)
            if rules is None or Decimal(row.positionAmt) == 0:
                continue
            out.append(PositionState(
                symbol=row.symbol,
                amount_lots=row.amount_lots(rules),
                entry_price=Decimal(row.entryPrice),
                position_side=row.to_position_side(),
                mark_price=Decimal(row.markPrice),
                unrealized_pnl=Decimal(row.unRealizedProfit),
            ))
        return out

    async def balance(self, asset: str = "USDT") -> BalanceState:
        for row in await self._client.balance():
            if row.asset == asset:
                return BalanceState(asset=row.asset, wallet_balance=row.balance,
                                    available_balance=row.availableBalance, unrealized_pnl=row.crossUnPnl)
        return BalanceState(asset=asset, wallet_balance=Decimal(0), available_balance=Decimal(0))

    async def mid_price(self, symbol: str) -> Decimal:
        ticker = await self._client.book_ticker(symbol)
        return (Decimal(ticker.bidPrice) + Decimal(ticker.askPrice)) / 2

    async def fills_after(
        self, symbol: str, after_trade_id: int | None, start_time_ms: int = 0, limit: int = 1000
    ) -> list[Fill]:
        """`GET /fapi/v1/userTrades` from a trade id (or a start time), client ids resolved by order id."""
        rules = await self.symbol_rules(symbol)
        if after_trade_id is not None:
            trades = await self._client.user_trades(symbol, from_id=after_trade_id + 1, limit=limit)
        else:
            trades = await self._client.user_trades(symbol, start_time_ms=max(0, start_time_ms), limit=limit)
        client_ids: dict[int, str] = {}
        out: list[Fill] = []
        for t in sorted(trades, key=lambda t: t.id):
            cid = client_ids.get(t.orderId)
            if cid is None:
                order = await self._client.query_order(symbol, order_id=t.orderId)
                cid = client_ids[t.orderId] = order.clientOrderId
            out.append(Fill(
                symbol=symbol, order_id=t.orderId, client_order_id=cid, trade_id=t.id, side=Side(t.side),
                position_side=PositionSide(t.positionSide), price_ticks=t.price_ticks(rules),
                qty_lots=t.qty_lots(rules), is_maker=t.maker, commission=t.commission,
                commission_asset=t.commissionAsset, realized_pnl=t.realizedPnl, time_ms=t.time,
            ))
        return out

    async def dual_side_position(self) -> bool:
        body = await self._client.request("GET", "/fapi/v1/positionSide/dual", None, security=Security.SIGNED)
        return bool(body.get("dualSidePosition")) if isinstance(body, dict) else False

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> None:
        params = {"symbol": symbol, "countdownTime": countdown_ms}
        await self._client.request("POST", "/fapi/v1/countdownCancelAll", params, security=Security.SIGNED)


def _found(cmd: Command, found: OrderState) -> CommandResult:
    return CommandResult(cmd, Outcome.ACCEPTED, order_id=found.order_id, status=found.status)


def _rejected(cmd: Command, exc: BinanceAPIError, op: str) -> CommandResult:
    return CommandResult(cmd, Outcome.REJECTED, code=exc.code,
                         reason=explain_exchange_error(op, exc.code, exc.msg, exc.http_status))


def _give_up(cmd: Command, exc: BinanceAPIError, maybe_executed: bool) -> CommandResult:
    """Attempts exhausted: UNKNOWN if any attempt may have executed, else definitely not executed."""
    if maybe_executed:
        return _unknown(cmd, exc)
    return CommandResult(cmd, Outcome.REJECTED, code=exc.code,
                         reason=f"retryable: not executed (HTTP {exc.http_status} {exc.msg}); "
                                f"retry later with client order id {cmd.client_order_id}")


def _unknown(cmd: Command, exc: BinanceAPIError) -> CommandResult:
    return CommandResult(cmd, Outcome.UNKNOWN, code=exc.code,
                         reason=f"outcome unknown after {exc.kind.value} (HTTP {exc.http_status} {exc.msg}); "
                                f"query client order id {cmd.client_order_id}")
