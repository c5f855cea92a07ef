"""`LiveConnectorV0`: every write of every mode passes the Runbook 17 gates here, then one port.

Two faces over one write path:
- runbook-style `place_order` / `cancel_order` / `replace_order` take Decimal prices and raise
  `ConnectorNonRetryableError` with an actionable message when a gate (or the exchange) refuses;
- the engine-style `submit(cmd) -> CommandResult` never raises for a refusal: a gate block is
  `Outcome.BLOCKED` with the stable reason `gate:<name>` (see `grinder.connector.gates.Gate`).
Both call `_write`, which re-reads the config and the environment at that moment, so a runtime
rollback (`config.armed = False`, `config.mode = SafeMode.READ_ONLY`) stops the very next write.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from decimal import Decimal

from grinder.connector import metrics
from grinder.connector.config import LiveConnectorConfig
from grinder.connector.errors import (
    ConnectorNonRetryableError,
    ConnectorRetryableError,
    ConnectorUnknownOutcomeError,
)
from grinder.connector.gates import Gate, GateBlock, check_write_gates
from grinder.connector.notional import feasible_lots, notional_problem
from grinder.connector.port import BalanceState, ExchangePort, OrderState, PositionState
from grinder.core.blocks import BlockKind, BlockReason
from grinder.core.clock import Clock, WallClock
from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import OrderType, SafeMode, Side, TimeInForce
from grinder.core.ids import ClientOrderIdFactory, is_grinder_order, parse_client_order_id
from grinder.core.rules import SymbolRules

log = logging.getLogger(__name__)

_MAX_REMEMBERED_IDS = 10_000
_OPS = {PlaceOrder: "place_order", CancelOrder: "cancel_order", AmendOrder: "replace_order"}


def _op_of(cmd: Command) -> str:
    return _OPS[type(cmd)]


class LiveConnectorV0:
    """The gated write path in front of an `ExchangePort` (BinanceFuturesPort or PaperPort)."""

    def __init__(
        self,
        config: LiveConnectorConfig | None = None,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        id_factory: ClientOrderIdFactory | None = None,
    ) -> None:
        self.config = config if config is not None else LiveConnectorConfig()
        self._clock: Clock = clock or WallClock()
        # os.environ itself (not a copy): ALLOW_MAINNET_TRADE is read at every write.
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self.ids = id_factory or ClientOrderIdFactory(self.config.strategy_tag, self._clock.now_ms() // 1000)
        self._symbol_of: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle and rollback
    @property
    def mode(self) -> SafeMode:
        return self.config.mode

    @property
    def armed(self) -> bool:
        return self.config.armed

    def arm(self) -> None:
        self.config.armed = True

    def disarm(self) -> None:
        """Runbook 17 rollback option 3: no write passes from the next one on."""
        self.config.armed = False

    def set_mode(self, mode: SafeMode | str) -> None:
        """Runbook 17 rollback option 2 (READ_ONLY or PAPER); applies to the next write."""
        self.config.mode = mode  # type: ignore[assignment]  # validated and coerced by the config

    async def connect(self) -> None:
        """Announce the effective gates, then initialise the configured ports (symbol rules).

        Log order as in Runbook 17 step 5: `LiveConnectorV0 connected mode=... armed=...`, then
        `BinanceFuturesPort initialized url=...`. A port that cannot initialise raises."""
        log.info("LiveConnectorV0 connected mode=%s armed=%s", self.config.mode.value, self.config.armed)
        for port in (self.config.futures_port, self.config.paper_port):
            if port is not None:
                await port.start()

    async def close(self) -> None:
        for port in (self.config.futures_port, self.config.paper_port):
            if port is not None:
                await port.close()

    async def __aenter__(self) -> LiveConnectorV0:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ the one write path
    def check_gates(self, op: str, *, operator: bool = False) -> GateBlock | None:
        """The first failing Runbook 17 gate for `op` right now, or None.

        `operator`: an explicit operator cancel of our own orders (ADR-100): every gate but
        `armed` applies, so a disarmed engine can still be cleared of its resting orders."""
        cfg = self.config
        return check_write_gates(
            op,
            mode=cfg.mode,
            armed=cfg.armed or operator,
            futures_port=cfg.futures_port,
            paper_port=cfg.paper_port,
            environ=self._environ,
        )

    def _write_port(self) -> ExchangePort:
        port = self.config.paper_port if self.config.mode is SafeMode.PAPER else self.config.futures_port
        assert port is not None  # guaranteed by check_write_gates
        return port

    def _blocked(self, op: str, block: GateBlock) -> None:
        metrics.GATE_BLOCKS_TOTAL.labels(gate=block.gate.value).inc()
        log.warning(
            "write_blocked op=%s gate=%s mode=%s armed=%s",
            op,
            block.gate.value,
            self.config.mode.value,
            self.config.armed,
        )

    async def _limit_problem(
        self, cmd: Command, port: ExchangePort, rules: SymbolRules
    ) -> BlockReason | None:
        op = _op_of(cmd)
        # The write allow-list holds for every write, cancels and reduce-only orders included.
        if cmd.symbol not in self.config.symbols:
            return BlockReason(
                BlockKind.SYMBOL_NOT_ALLOWED,
                f"Cannot {op}: {cmd.symbol} is not in LiveConnectorConfig.symbols "
                f"{list(self.config.symbols)}; add it to trade it",
            )
        cap = self.config.max_notional_per_order
        if isinstance(cmd, PlaceOrder):
            if cmd.reduce_only:
                return None
            ticks = cmd.price_ticks
            if ticks is None:
                ticks = rules.ceil_ticks(await port.mid_price(cmd.symbol))
            problem = notional_problem(rules, ticks, cmd.qty_lots, cap, reduce_only=False, op=op)
        elif isinstance(cmd, AmendOrder):
            problem = notional_problem(rules, cmd.price_ticks, cmd.qty_lots, cap, reduce_only=False, op=op)
        else:
            problem = None
        return BlockReason(BlockKind.LIMIT, problem) if problem else None

    async def _write(self, cmd: Command, *, operator: bool = False) -> tuple[CommandResult, GateBlock | None]:
        op = _op_of(cmd)
        block = self.check_gates(op, operator=operator)
        if block is not None:
            self._blocked(op, block)
            return CommandResult.blocked(cmd, block.block), block
        port = self._write_port()
        mode = self.config.mode.value
        try:
            rules = await port.symbol_rules(cmd.symbol)
            problem = await self._limit_problem(cmd, port, rules)
        except ValueError as exc:
            problem = BlockReason(BlockKind.INVALID_ORDER, str(exc))
        except Exception as exc:  # the exchange could not be read: refuse this write, keep the engine up
            why = f"{type(exc).__name__}: {exc}"
            problem = BlockReason(BlockKind.RULES_UNAVAILABLE,
                                  f"Cannot {op}: symbol rules or price unavailable ({why})")
        if problem is not None:
            allow_list = problem.kind is BlockKind.SYMBOL_NOT_ALLOWED
            metrics.count_error("limit" if allow_list else problem.kind.value)
            log.warning("write_refused op=%s client_order_id=%s reason=%s", op, cmd.client_order_id,
                        problem.text)
            return CommandResult.blocked(cmd, problem), None
        self._log_request(cmd, rules)
        # Gates again, immediately before the port: a rollback during the awaits above still wins.
        block = self.check_gates(op, operator=operator)
        if block is None and self._write_port() is not port:
            block = GateBlock(
                Gate.MODE,
                f"Cannot {op}: mode changed to {self.config.mode.value} during the "
                "write; nothing was sent. Resend it.",
            )
        if block is not None:
            self._blocked(op, block)
            return CommandResult.blocked(cmd, block.block), block
        result = await port.submit(cmd)
        self._account(result, mode)
        return result, None

    def _remember_symbol(self, cid: str, symbol: str) -> None:
        """cid → symbol for `cancel_order(order_id)` without a symbol; bounded (oldest forgotten first)."""
        self._symbol_of[cid] = symbol
        if len(self._symbol_of) > _MAX_REMEMBERED_IDS:
            self._symbol_of.pop(next(iter(self._symbol_of)))

    def _log_request(self, cmd: Command, rules: SymbolRules) -> None:
        if not log.isEnabledFor(logging.INFO):
            return  # the price/quantity text is only worth building for a line that is written
        if isinstance(cmd, PlaceOrder):
            price = rules.price_str(cmd.price_ticks) if cmd.price_ticks is not None else "MARKET"
            log.info(
                "place_order symbol=%s side=%s price=%s qty=%s",
                cmd.symbol,
                cmd.side.value,
                price,
                rules.qty_str(cmd.qty_lots),
            )
        elif isinstance(cmd, CancelOrder):
            log.info("cancel_order order_id=%s", cmd.client_order_id)
        else:
            log.info(
                "replace_order order_id=%s price=%s qty=%s",
                cmd.client_order_id,
                rules.price_str(cmd.price_ticks),
                rules.qty_str(cmd.qty_lots),
            )

    def _account(self, result: CommandResult, mode: str) -> None:
        cmd = result.command
        cid = cmd.client_order_id
        if result.outcome is Outcome.ACCEPTED:
            if isinstance(cmd, PlaceOrder):
                self._remember_symbol(cid, cmd.symbol)
                metrics.ORDERS_PLACED_TOTAL.labels(mode=mode).inc()
                log.info("Order placed order_id=%s", cid)
            elif isinstance(cmd, CancelOrder):
                self._symbol_of.pop(cid, None)
                metrics.ORDERS_CANCELLED_TOTAL.labels(mode=mode).inc()
                log.info("Order cancelled order_id=%s", cid)
            else:
                metrics.ORDERS_AMENDED_TOTAL.labels(mode=mode).inc()
                log.info(
                    "Order replaced order_id=%s status=%s", cid, result.status.value if result.status else "?"
                )
            return
        if result.outcome is Outcome.BLOCKED:
            kind = result.block.kind.value if result.block is not None else ""
            metrics.count_error(kind if kind in metrics.ERROR_REASONS else "invalid_order")
        elif result.outcome is Outcome.UNKNOWN:
            metrics.count_error("unknown_outcome", result.code)
        elif result.reason.startswith("retryable"):
            metrics.count_error("retryable", result.code)
        else:
            metrics.count_error("rejected", result.code)
        log.warning(
            "write_failed op=%s order_id=%s outcome=%s code=%s reason=%s",
            _op_of(cmd),
            cid,
            result.outcome.value,
            result.code,
            result.reason,
        )

    async def submit(self, cmd: Command) -> CommandResult:
        """Engine path: gates, limits, then the port. Never raises for a refusal (see module doc)."""
        result, _ = await self._write(cmd)
        return result

    async def operator_cancel(self, cmd: CancelOrder) -> CommandResult:
        """An operator's cancel of one of OUR orders: the one write allowed while disarmed (ADR-100).

        Every other gate (mode, ALLOW_MAINNET_TRADE, port, the symbol allow-list) still applies.
        It only ever cancels; an order without the GRINDER prefix is refused (not ours to touch)."""
        if not is_grinder_order(cmd.client_order_id):
            return CommandResult.blocked(cmd, BlockReason(
                BlockKind.NOT_OURS, f"Cannot cancel_order: {cmd.client_order_id} was not placed by GRINDER"))
        log.warning("operator_cancel symbol=%s order_id=%s", cmd.symbol, cmd.client_order_id)
        result, _ = await self._write(cmd, operator=True)
        return result

    async def refresh_countdown(self, symbol: str, countdown_ms: int) -> GateBlock | None:
        """Dead-man's switch heartbeat (`POST /fapi/v1/countdownCancelAll`) on the real exchange.

        A write, so it passes the gates of a cancel (it can only ever cancel); None when sent.
        PAPER has nothing to protect (the venue dies with the process): a no-op there."""
        if self.config.mode is SafeMode.PAPER:
            return None
        block = self.check_gates("cancel_order")
        if block is None and symbol not in self.config.symbols:
            block = GateBlock(Gate.MODE, f"Cannot countdown_cancel_all: {symbol} is not in connector symbols")
        if block is not None:
            return block
        port = self._write_port()
        refresh = getattr(port, "countdown_cancel_all", None)
        if refresh is not None:
            await refresh(symbol, countdown_ms)
        return None

    # ------------------------------------------------------------------ runbook-style API
    def _raise_for(self, result: CommandResult, block: GateBlock | None) -> None:
        op = _op_of(result.command)
        if block is not None:
            raise ConnectorNonRetryableError(block.message, gate=block.gate.value, reason=block.reason)
        if result.outcome is Outcome.UNKNOWN:
            raise ConnectorUnknownOutcomeError(
                f"Cannot confirm {op}: {result.reason}. Reconcile before retrying; a retry must reuse "
                f"client_order_id={result.command.client_order_id}.",
                client_order_id=result.command.client_order_id,
            )
        reason = result.reason
        why = result.block
        if (why.kind is BlockKind.RATE_LIMITED if why is not None else reason.startswith("retryable")):
            raise ConnectorRetryableError(f"Cannot {op} now: {reason}")
        if why is not None:
            text = why.detail if why.detail and why.kind not in (BlockKind.GATE, BlockKind.RISK) else why.text
            raise ConnectorNonRetryableError(
                text if text.startswith("Cannot") else f"Cannot {op}: {text}", reason=why.label
            )
        text = reason if reason.startswith("Cannot") else f"Cannot {op}: {result.code} {reason}"
        raise ConnectorNonRetryableError(text, code=result.code, reason="rejected")

    def _gate_or_raise(self, op: str) -> ExchangePort:
        block = self.check_gates(op)
        if block is not None:
            self._blocked(op, block)
            raise ConnectorNonRetryableError(block.message, gate=block.gate.value, reason=block.reason)
        return self._write_port()

    async def _rules(self, port: ExchangePort, symbol: str, op: str) -> SymbolRules:
        try:
            return await port.symbol_rules(symbol)
        except ValueError as exc:
            raise ConnectorNonRetryableError(f"Cannot {op}: {exc}", reason="invalid_order") from None

    @staticmethod
    def _grid_units(op: str, what: str, value: Decimal, rules: SymbolRules) -> int:
        """Exact price → ticks / quantity → lots; refuses floats, garbage, off-grid and non-positive."""
        is_price = what == "price"
        step = rules.tick_size if is_price else rules.step_size
        step_name = "tickSize" if is_price else "stepSize"
        if isinstance(value, float | bool) or not isinstance(value, Decimal | str | int):
            raise ConnectorNonRetryableError(
                f"Cannot {op}: {what} {value!r} must be a Decimal or a decimal string, not "
                f"{type(value).__name__} (orders never use floats); e.g. Decimal('{value}')",
                reason="invalid_order",
            )
        try:
            units = rules.price_to_ticks(value) if is_price else rules.qty_to_lots(value)
        except ValueError:
            try:
                fix = rules.round_price(value, "floor") if is_price else rules.round_qty(value, "floor")
            except ValueError:
                raise ConnectorNonRetryableError(
                    f"Cannot {op}: {what} {value!r} is not a decimal number", reason="invalid_order"
                ) from None
            raise ConnectorNonRetryableError(
                f"Cannot {op}: {what} {value} is not a multiple of {rules.symbol} {step_name} "
                f"{step}. Fix: round it, e.g. {fix}.",
                reason="invalid_order",
            ) from None
        if units <= 0:
            raise ConnectorNonRetryableError(
                f"Cannot {op}: {what} must be positive (got {value})", reason="invalid_order"
            )
        return units

    @staticmethod
    def _side(op: str, side: Side | str) -> Side:
        try:
            return Side(str(side).upper())
        except ValueError:
            raise ConnectorNonRetryableError(
                f"Cannot {op}: side {side!r} is not BUY or SELL", reason="invalid_order"
            ) from None

    async def place_order(
        self,
        *,
        symbol: str,
        side: Side | str,
        price: Decimal | None,
        quantity: Decimal | None = None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        level: str = "1",
        client_order_id: str | None = None,
    ) -> str:
        """Place one order; returns its client order id. `quantity=None` picks the smallest step
        multiple meeting MIN_NOTIONAL within max_notional_per_order. To retry after
        `ConnectorUnknownOutcomeError`, pass the same `client_order_id`."""
        op = "place_order"
        port = self._gate_or_raise(op)
        rules = await self._rules(port, symbol, op)
        order_side = self._side(op, side)
        if order_type is OrderType.LIMIT:
            if price is None:
                raise ConnectorNonRetryableError(
                    f"Cannot {op}: a LIMIT order needs a price", reason="invalid_order"
                )
            ticks: int | None = self._grid_units(op, "price", price, rules)
        else:
            ticks = None
        if quantity is not None:
            lots = self._grid_units(op, "quantity", quantity, rules)
        else:
            ref = ticks if ticks is not None else rules.ceil_ticks(await port.mid_price(symbol))
            lots, why = feasible_lots(rules, ref, self.config.max_notional_per_order, op=op)
            if why is not None:
                metrics.count_error("limit")
                raise ConnectorNonRetryableError(why, reason="limit")
        cmd = PlaceOrder(
            symbol=symbol,
            side=order_side,
            order_type=order_type,
            qty_lots=lots,
            client_order_id=client_order_id or self.ids.next_id(symbol, level),
            price_ticks=ticks,
            time_in_force=time_in_force if order_type is OrderType.LIMIT else None,
            reduce_only=reduce_only,
            level=level,
        )
        result, block = await self._write(cmd)
        if result.outcome is not Outcome.ACCEPTED:
            self._raise_for(result, block)
        return cmd.client_order_id

    def _symbol_for(self, order_id: str, symbol: str | None, op: str) -> str:
        if symbol:
            return symbol
        known = self._symbol_of.get(order_id)
        if known:
            return known
        parsed = parse_client_order_id(order_id)
        if parsed is not None and parsed.symbol in self.config.symbols:
            return parsed.symbol
        raise ConnectorNonRetryableError(
            f"Cannot {op}: the symbol of order {order_id} is unknown; pass symbol=... explicitly",
            reason="invalid_order",
        )

    async def cancel_order(self, order_id: str, symbol: str | None = None) -> bool:
        """Cancel one of our orders by client order id; True once the exchange has cancelled it."""
        op = "cancel_order"
        self._gate_or_raise(op)
        cmd = CancelOrder(symbol=self._symbol_for(order_id, symbol, op), client_order_id=order_id)
        result, block = await self._write(cmd)
        if result.outcome is not Outcome.ACCEPTED:
            self._raise_for(result, block)
        return True

    async def replace_order(
        self,
        order_id: str,
        *,
        price: Decimal | None = None,
        quantity: Decimal | None = None,
        side: Side | str | None = None,
        symbol: str | None = None,
        level: str = "1",
    ) -> str:
        """Change a resting order. Price/quantity only → amended in place (same id returned).
        A side change → cancel + place a new order (new id returned). The order keeps its side
        unless `side` is given."""
        op = "replace_order"
        port = self._gate_or_raise(op)
        sym = self._symbol_for(order_id, symbol, op)
        rules = await self._rules(port, sym, op)
        current = await port.query_order(sym, order_id)
        if current is None or not current.is_open:
            state = "unknown to the exchange" if current is None else f"{current.status.value}"
            raise ConnectorNonRetryableError(
                f"Cannot {op}: order {order_id} is {state}, not open", reason="invalid_order"
            )
        new_side = self._side(op, side) if side is not None else current.side
        ticks = self._grid_units(op, "price", price, rules) if price is not None else current.price_ticks
        lots = current.orig_lots if quantity is None else self._grid_units(op, "quantity", quantity, rules)
        if new_side is current.side and current.order_type is OrderType.LIMIT:
            amend = AmendOrder(
                symbol=sym, client_order_id=order_id, side=current.side, price_ticks=ticks, qty_lots=lots
            )
            result, block = await self._write(amend)
            if result.outcome is not Outcome.ACCEPTED:
                self._raise_for(result, block)
            return order_id
        await self.cancel_order(order_id, sym)
        return await self.place_order(
            symbol=sym,
            side=new_side,
            price=rules.ticks_to_price(ticks) if ticks else None,
            quantity=rules.lots_to_qty(lots),
            order_type=current.order_type,
            time_in_force=current.time_in_force,
            reduce_only=current.reduce_only,
            level=level,
        )

    # ------------------------------------------------------------------ reads (allowed in every mode)
    def _read_port(self) -> ExchangePort:
        port = self.config.paper_port if self.config.mode is SafeMode.PAPER else self.config.futures_port
        if port is None:
            raise ConnectorNonRetryableError(
                "Cannot read the exchange: no port configured for mode "
                f"{self.config.mode.value}; set LiveConnectorConfig.futures_port (or paper_port for PAPER)",
                gate="futures_port",
                reason="gate:futures_port",
            )
        return port

    async def query_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return await self._read_port().query_order(symbol, client_order_id)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return await self._read_port().open_orders(symbol)

    async def positions(self) -> list[PositionState]:
        return await self._read_port().positions()

    async def balance(self) -> BalanceState:
        return await self._read_port().balance()

    async def mid_price(self, symbol: str) -> Decimal:
        return await self._read_port().mid_price(symbol)

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        return await self._read_port().symbol_rules(symbol)
