"""The user-data side: listenKeys (60 min validity, keepalive, forced expiry) and event rendering.

Venue events (OrderUpdate, AccountUpdate) are rendered with Binance field names and published on
the hub under the listenKey's stream name; duplicate/reorder faults are applied here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from decimal import Decimal

from grinder.core.errors import ErrorCode
from grinder.core.events import AccountUpdate, OrderUpdate
from grinder.core.rules import SymbolRules
from grinder.sim import render
from grinder.sim.algo import algo_update
from grinder.sim.errors import MSG_INVALID_LISTEN_KEY, ApiError
from grinder.sim.faults import FaultPlan
from grinder.sim.hub import StreamHub
from grinder.sim.metrics import FAULTS_INJECTED_TOTAL, USER_EVENTS_TOTAL
from grinder.sim.streams import to_json
from grinder.venue.conditional import AlgoOrder

log = logging.getLogger(__name__)
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class UserData:
    """listenKey registry and publisher for the simulator's single account."""

    def __init__(
        self,
        hub: StreamHub,
        rules: Mapping[str, SymbolRules],
        faults: FaultPlan,
        ttl_ms: int,
        seed: int,
        open_notional: Callable[[str], tuple[Decimal, Decimal]],
    ) -> None:
        self._hub = hub
        self._rules = dict(rules)
        self._faults = faults
        self._ttl_ms = ttl_ms
        self._rng = random.Random(seed ^ 0x5EED)
        self._open_notional = open_notional
        self.keys: dict[str, int] = {}  # listenKey -> expiry time (ms)
        self._renewed: dict[str, int] = {}  # listenKey -> last creation / keepalive (ms)
        self._held: list[tuple[str, str]] = []  # (event type, raw) held back by a reorder fault
        self.events_published = 0

    # ------------------------------------------------------------------ listenKey lifecycle
    def create(self, now_ms: int) -> str:
        """POST: the active key (extended) or a new one."""
        for key in self.keys:
            return self._renew(key, now_ms)
        key = self._renew("".join(self._rng.choice(_KEY_ALPHABET) for _ in range(64)), now_ms)
        log.info("sim_listen_key_created expires_ms=%d", self.keys[key])
        return key

    def keepalive(self, now_ms: int) -> str:
        """PUT extends the active key; -1125 if there is none."""
        for key in self.keys:
            return self._renew(key, now_ms)
        raise ApiError(ErrorCode.INVALID_LISTEN_KEY, MSG_INVALID_LISTEN_KEY)

    def _renew(self, key: str, now_ms: int) -> str:
        self._renewed[key] = now_ms
        self.keys[key] = now_ms + self._ttl_ms
        return key

    @property
    def ttl_ms(self) -> int:
        return self._ttl_ms

    def set_ttl(self, ttl_ms: int) -> None:
        """Change the validity (tests accelerate the 60 min): live keys now expire `ttl_ms` after
        their last creation or keepalive."""
        self._ttl_ms = ttl_ms
        for key, renewed in self._renewed.items():
            self.keys[key] = renewed + ttl_ms

    def delete(self) -> None:
        self.keys.clear()
        self._renewed.clear()

    def is_valid(self, key: str, now_ms: int) -> bool:
        expiry = self.keys.get(key)
        return expiry is not None and expiry > now_ms

    def expire_due(self, now_ms: int, force: bool = False) -> list[str]:
        """Expire keys past their time (or all, when forced): send `listenKeyExpired`, then silence."""
        expired = [k for k, t in self.keys.items() if force or t <= now_ms]
        for key in expired:
            del self.keys[key]
            self._renewed.pop(key, None)
            doc = {"e": "listenKeyExpired", "E": now_ms, "listenKey": key}
            USER_EVENTS_TOTAL.labels("listenKeyExpired").inc()
            self._hub.publish(key, to_json(doc), "listenKeyExpired")
            log.info("sim_listen_key_expired forced=%s", force)
        return expired

    # ------------------------------------------------------------------ events
    def publish(self, events: list[OrderUpdate | AccountUpdate]) -> None:
        if not events or not self.keys:
            self._held.clear()
            return
        for ev in events:
            if isinstance(ev, OrderUpdate):
                bid, ask = self._open_notional(ev.symbol)
                doc = render.order_trade_update(self._rules[ev.symbol], ev, bid, ask)
                self._send("ORDER_TRADE_UPDATE", to_json(doc))
            else:
                self._send("ACCOUNT_UPDATE", to_json(render.account_update(self._rules, ev)))
        self.flush_held()

    def publish_algo_updates(self, orders: list[AlgoOrder], now_ms: int) -> None:
        """ALGO_UPDATE for each conditional-order status change (protocol sheet §4.5)."""
        if not self.keys:
            return
        for order in orders:
            self._send("ALGO_UPDATE", to_json(algo_update(self._rules[order.symbol], order, now_ms)))
        self.flush_held()

    def publish_multi_assets_update(self, multi_assets: bool, now_ms: int) -> None:
        """ACCOUNT_CONFIG_UPDATE `ai` after a Multi-Assets mode change (protocol sheet §4.5)."""
        if self.keys:
            doc = {"e": "ACCOUNT_CONFIG_UPDATE", "E": now_ms, "T": now_ms, "ai": {"j": multi_assets}}
            self._emit("ACCOUNT_CONFIG_UPDATE", to_json(doc))

    def publish_config_update(self, symbol: str, leverage: int, now_ms: int) -> None:
        """ACCOUNT_CONFIG_UPDATE after a leverage change (protocol sheet §4.5)."""
        if self.keys:
            doc = {"e": "ACCOUNT_CONFIG_UPDATE", "E": now_ms, "T": now_ms, "ac": {"s": symbol, "l": leverage}}
            self._emit("ACCOUNT_CONFIG_UPDATE", to_json(doc))

    def _send(self, event_type: str, raw: str) -> None:
        faults = self._faults
        if faults.take_reorder() and not self._held:
            FAULTS_INJECTED_TOTAL.labels("reorder_user_event").inc()
            self._held.append((event_type, raw))
            return
        self._emit(event_type, raw)
        if faults.take_duplicate():
            FAULTS_INJECTED_TOTAL.labels("duplicate_user_event").inc()
            self._emit(event_type, raw)
        if self._held:
            held, self._held = self._held, []
            for held_type, held_raw in held:
                self._emit(held_type, held_raw)

    def flush_held(self) -> None:
        """A held-back event is released after the next one; with nothing after it, at batch end."""
        held, self._held = self._held, []
        for event_type, raw in held:
            self._emit(event_type, raw)

    def _emit(self, event_type: str, raw: str) -> None:
        USER_EVENTS_TOTAL.labels(event_type).inc()
        for key in self.keys:
            self.events_published += self._hub.publish(key, raw, event_type)
