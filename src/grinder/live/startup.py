"""Start-up truth: the exchange is the source of truth for positions and open orders; the journal
is the history (ADR-101).

The sequence the engine runs at start and on an HA takeover (`take_over`):
1. the account's position mode must be the configured one (else the engine refuses to start);
2. the loss-limit latch and its references come back from the journal (`grinder.live.trip`);
3. wallet balance from the exchange;
4. our leftover orders (exchange list + journal) are adopted or cancelled;
5. fills missed while we were down are journaled, per symbol from the last trade id journaled
   before this process's user stream started (never from the newest timestamp), de-duplicated by
   (symbol, trade id); the pipeline is seeded with every journaled fill key;
6. positions from the exchange for every symbol we trade, zero included.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from grinder.connector.port import AccountSettings, ExchangePort, OrderState, PositionState, TradeHistory
from grinder.core.commands import CancelOrder, Outcome
from grinder.core.ids import is_grinder_order, parse_client_order_id
from grinder.execution.order_manager import WorkingOrder, WorkingState
from grinder.execution.pipeline import TradingPipeline
from grinder.live.journal import EngineJournal
from grinder.live.state import SymbolView
from grinder.ops import metrics
from grinder.store import Journal

if TYPE_CHECKING:
    from grinder.live.engine import LiveEngine

log = logging.getLogger(__name__)

PAGE = 1000  # userTrades page size (Binance's maximum)
MAX_START_QUERIES = 100  # journal-believed-open orders asked about per start (each answer is journaled)
POSITION_MODES = {False: "one-way", True: "hedge"}


class StartupRefused(RuntimeError):
    """The engine must not start: what is wrong on the account and how to fix it."""


class FillRecovery:
    """Journals our fills that the exchange has and the journal lacks, by trade id per symbol."""

    def __init__(self, port: TradeHistory, store: Journal, symbols: Sequence[str]) -> None:
        self.port = port
        self.store = store
        self.symbols = tuple(symbols)
        self._marks: dict[str, int | None] | None = None

    def mark(self) -> None:
        """Remember each symbol's last journaled trade id now, before the user stream writes any
        new fill: recovery resumes from there, so a fill older than a new one is never skipped."""
        self._marks = {sym: self.store.last_trade_id(sym) for sym in self.symbols}

    async def recover(self, now_ms: int) -> int:
        """Journal the missed fills; returns how many were added. Uses (and clears) the marks."""
        marks, self._marks = self._marks, None
        added = 0
        for sym in self.symbols:
            after = marks[sym] if marks is not None else self.store.last_trade_id(sym)
            start_ms = 0
            if after is None:
                first = self.store.first_command_ms(sym)
                if first is None:
                    continue  # never traded this symbol: nothing of ours to recover
                start_ms = max(0, first - 2_000)
            added += await self._recover_symbol(sym, after, start_ms, now_ms)
        return added

    async def _recover_symbol(self, sym: str, after: int | None, start_ms: int, now_ms: int) -> int:
        added = 0
        while True:
            page = await self.port.fills_after(sym, after, start_ms, PAGE)
            for fill in page:
                if is_grinder_order(fill.client_order_id) and not self.store.has_trade(sym, fill.trade_id):
                    added += int(self.store.append_fill(fill, now_ms))
            if len(page) < PAGE:
                return added
            after = max(f.trade_id for f in page)

    def fill_keys(self) -> set[tuple[str, int, str]]:
        return self.store.fill_keys()


async def check_position_mode(port: ExchangePort, configured: str) -> None:
    """Refuse to start when the account's position mode differs from `[connector] position_mode`."""
    if not isinstance(port, AccountSettings):
        return
    actual = POSITION_MODES[await port.dual_side_position()]
    if actual != configured:
        raise StartupRefused(
            f"the account is in {actual} position mode (GET /fapi/v1/positionSide/dual) but [connector] "
            f"position_mode = \"{configured}\"; switch the account to {configured} mode (no open positions "
            f"or orders may exist) or set position_mode = \"{actual}\""
        )
    if actual != "one-way":
        raise StartupRefused(
            "hedge position mode is not supported by the engine; switch the account to one-way"
        )


async def sync_with_exchange(engine: LiveEngine) -> None:
    """Steps 3-6 of the module docstring (the engine has restored the trip state already)."""
    p = engine.parts
    if not engine.has_account:
        log.warning("no API credentials: market data only (no account state, no orders)")
        return
    now_ms = engine.clock.now_ms()
    balance = await p.port.balance()
    p.pipeline.on_wallet_balance(balance.wallet_balance, now_ms)
    if engine.role == "follower":
        log.info("startup as HA follower: leftover orders belong to the leader; not touched")
    else:
        await handle_leftovers(engine, now_ms)
    if p.recovery is not None:
        recovered = await p.recovery.recover(engine.clock.now_ms())
        if recovered:
            log.warning("startup journaled %d fills that happened while the engine was down", recovered)
        p.pipeline.seed_fill_keys(p.recovery.fill_keys())
    # Positions after the leftovers are gone: nothing of ours can fill behind the snapshot.
    apply_positions(engine.views, p.pipeline, {ps.symbol: ps for ps in await p.port.positions()})


async def take_over(engine: LiveEngine) -> None:
    """New HA leader: cancel (or adopt) orders left by the previous one, re-read positions, then quote."""
    # Working orders from an earlier term of ours are stale: the leader since then may have
    # cancelled, filled or adopted them. The exchange's list (read next) is the truth.
    orders = engine.parts.pipeline.orders
    for wo in orders.working_orders():
        orders.resolve(wo.client_order_id, None)
    delay_s = 0.5
    while True:  # quoting waits for a complete sync; a failed one is retried while we lead
        try:
            if engine.begin_term is not None:
                await engine.begin_term()
            await sync_with_exchange(engine)
            break
        except Exception as exc:
            log.warning("takeover sync with the exchange failed (%s: %s); retrying in %.1fs",
                        type(exc).__name__, exc, delay_s)
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, 10.0)
        if engine.role != "leader" or engine.phase != "running":
            return
    engine.request_reconcile("takeover")
    engine.resume_quoting()
    if engine.quoting:
        log.info("takeover complete: quoting as leader")


def apply_positions(
    views: Mapping[str, SymbolView], pipeline: TradingPipeline, snapshot: Mapping[str, PositionState]
) -> None:
    """Every traded symbol takes the exchange's position; a symbol the exchange does not list is flat."""
    for sym, view in views.items():
        ps = snapshot.get(sym)
        lots = ps.amount_lots if ps is not None else 0
        entry = ps.entry_price if ps is not None else Decimal(0)
        view.set_position(lots, entry)
        pipeline.set_position(sym, lots)
        metrics.POSITION_QTY.labels(sym).set(float(view.position_qty))
        if lots:
            log.info("startup position symbol=%s qty=%s entry=%s", sym, view.position_qty, entry)


async def handle_leftovers(engine: LiveEngine, now_ms: int) -> None:
    """Our open orders from before this process (exchange list + journal): adopt or cancel them."""
    p = engine.parts
    open_orders = [o for o in await p.port.open_orders() if o.symbol in engine.views]
    ours = [o for o in open_orders if is_grinder_order(o.client_order_id)]
    if len(open_orders) > len(ours):
        log.warning("startup found %d open orders not placed by GRINDER; left untouched",
                    len(open_orders) - len(ours))
    # Orders the journal saw sent but the exchange did not list: ask by id (a late arrival is ours too).
    listed = {o.client_order_id for o in ours}
    unlisted = [(cid, sym) for cid, sym in p.journal.open_order_ids().items()
                if cid not in listed and sym in engine.views]
    for cid, sym in unlisted[-MAX_START_QUERIES:]:
        state = await p.port.query_order(sym, cid)
        if state is not None and state.is_open:
            ours.append(state)
        elif isinstance(p.journal, EngineJournal):
            p.journal.record_resolution(sym, cid, state, now_ms)
    if engine.config.leftover_orders == "adopt":
        adopted: dict[tuple[str, str], WorkingOrder] = {}
        extra: list[OrderState] = []
        for o in ours:
            wo = working_order_from_exchange(o)
            if (wo.symbol, wo.level) in adopted:
                extra.append(o)  # one order per grid level: a second one is cancelled below
            else:
                adopted[(wo.symbol, wo.level)] = wo
        p.pipeline.restore_orders(adopted.values())
        log.info("startup adopted our leftover orders count=%d", len(adopted))
        ours = extra
        if not ours:
            return
    if ours and not engine.writable():
        log.warning("startup cannot cancel %d leftover orders of ours: writes blocked (%s)", len(ours),
                    engine.write_block)
        return
    log.info("startup cancelling our leftover orders count=%d", len(ours))
    cmds = [CancelOrder(symbol=o.symbol, client_order_id=o.client_order_id) for o in ours]
    for cmd in cmds:
        p.journal.record_command(cmd, now_ms)
    results = await asyncio.gather(*(p.connector.submit(c) for c in cmds))
    for res in results:
        p.journal.record_result(res, engine.clock.now_ms())
        engine.dispatcher.count("cancel", res)
        if res.outcome is not Outcome.ACCEPTED:
            log.warning("startup cancel failed order_id=%s outcome=%s reason=%s",
                        res.command.client_order_id, res.outcome.value, res.reason)


def working_order_from_exchange(o: OrderState) -> WorkingOrder:
    """An exchange-reported open order of ours as an order-manager entry (adopted at start-up)."""
    parsed = parse_client_order_id(o.client_order_id)
    level = parsed.level if parsed is not None else o.client_order_id[-6:]
    return WorkingOrder(
        symbol=o.symbol, client_order_id=o.client_order_id, level=level, side=o.side,
        price_ticks=o.price_ticks, qty_lots=o.orig_lots, filled_lots=o.executed_lots,
        state=WorkingState.OPEN, order_id=o.order_id, post_only=o.time_in_force.value == "GTX",
        reduce_only=o.reduce_only,
    )
