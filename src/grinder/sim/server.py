"""`SimServer`: the Binance USDⓈ-M compatible simulator, in-process (start/stop) or via `grinder sim`.

Wires the pieces: a market source → `MarketState` → (venue feed, WS market streams); REST and WS
front ends; the user-data stream; rate limits; fault injection (`server.control`, `/_sim/...`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from grinder.core.clock import Clock, WallClock
from grinder.core.rules import SymbolRules, btcusdt_rules, ethusdt_rules
from grinder.sim.bar_streams import BarStreams
from grinder.sim.config import SimConfig
from grinder.sim.driver import MarketDriver
from grinder.sim.exchange import SimExchange
from grinder.sim.faults import FaultPlan
from grinder.sim.hub import StreamHub
from grinder.sim.inputs import TimedBatch
from grinder.sim.market import MarketState
from grinder.sim.metrics import FAULTS_INJECTED_TOTAL
from grinder.sim.ratelimit import RateLimiter, RateLimitSpec
from grinder.sim.rest import RestApi
from grinder.sim.streams import MarketStreams
from grinder.sim.synthetic import SyntheticMarket
from grinder.sim.userdata import UserData
from grinder.sim.venue_feed import VenueFeed
from grinder.sim.ws import WsGateway
from grinder.sim.wsapi import WsApi
from grinder.venue import Venue
from grinder.venue.config import VenueConfig

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL_S = 0.05


def default_rules(symbol: str) -> SymbolRules:
    """Built-in rules for BTCUSDT/ETHUSDT; a generic small-cap perpetual for any other symbol."""
    symbol = symbol.upper()
    if symbol == "BTCUSDT":
        return btcusdt_rules()
    if symbol == "ETHUSDT":
        return ethusdt_rules()
    if not symbol.isalnum() or not symbol.endswith("USDT") or len(symbol) < 6:
        raise ValueError(f"symbol {symbol!r} is not a USDT perpetual name like SOLUSDT")
    return SymbolRules(
        symbol=symbol,
        tick_size=Decimal("0.001"),
        min_price=Decimal("0.001"),
        max_price=Decimal("200000"),
        step_size=Decimal("0.1"),
        min_qty=Decimal("0.1"),
        max_qty=Decimal("1000000"),
        min_notional=Decimal("5"),
        multiplier_up=Decimal("1.0500"),
        multiplier_down=Decimal("0.9500"),
        base_asset=symbol.removesuffix("USDT"),
    )


def symbol_rules(config: SimConfig) -> dict[str, SymbolRules]:
    """Rules of the configured symbols: from `rules_path` (a saved exchangeInfo) or built in."""
    wanted = [s.upper() for s in config.symbols]
    if config.rules_path is None:
        return {s: default_rules(s) for s in wanted}
    from grinder.data import load_exchange_info

    known = load_exchange_info(config.rules_path)
    missing = [s for s in wanted if s not in known]
    if missing:
        raise ValueError(f"{config.rules_path} has no rules for {', '.join(missing)}")
    return {s: known[s] for s in wanted}


class SimControl:
    """Python handle on fault injection and the market (the same operations as `/_sim/...`)."""

    def __init__(self, server: SimServer) -> None:
        self._server = server

    @property
    def faults(self) -> FaultPlan:
        return self._server.faults

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        self._server.faults.update(changes)
        return self._server.faults.as_dict()

    def clear_faults(self) -> None:
        self._server.faults.reset()

    def drop_ws(self) -> int:
        return self._server.ws.drop_all()

    def stall_ws(self, ms: int, *, silent: bool = False) -> int:
        return self._server.ws.stall_all(ms, silent=silent)

    def expire_listen_key(self) -> list[str]:
        return self._server.user.expire_due(self._server.now_ms(), force=True)

    def step(self, count: int = 1) -> int:
        return self._server.step_market(count)

    def lifecycle(self) -> dict[str, int]:
        return {
            "max_connection_lifetime_ms": self._server.ws.max_lifetime_ms,
            "listen_key_ttl_ms": self._server.user.ttl_ms,
        }

    def set_lifecycle(self, **changes: Any) -> dict[str, int]:
        """Accelerate Binance's 24 h connection cut-off and 60 min listenKey validity (tests)."""
        known = ("max_connection_lifetime_ms", "listen_key_ttl_ms")
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown lifecycle setting {name!r}: use {' or '.join(known)}")
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer of milliseconds, got {value!r}")
        if "max_connection_lifetime_ms" in changes:
            self._server.ws.max_lifetime_ms = changes["max_connection_lifetime_ms"]
        if "listen_key_ttl_ms" in changes:
            self._server.user.set_ttl(changes["listen_key_ttl_ms"])
        log.info("sim_lifecycle_changed %s", " ".join(f"{k}={v}" for k, v in changes.items()))
        return self.lifecycle()


class SimServer:
    """The simulator. `await start()` binds (ephemeral port when config.port == 0); `await stop()`."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        clock: Clock | None = None,
        rules: Mapping[str, SymbolRules] | None = None,
        venue_config: VenueConfig | None = None,
        source: Iterator[TimedBatch] | None = None,
    ) -> None:
        self.config = cfg = config or SimConfig()
        self.clock: Clock = clock or WallClock()
        self.rules: dict[str, SymbolRules] = dict(rules) if rules is not None else symbol_rules(cfg)
        self.faults = FaultPlan()
        self.faults.reseed(cfg.seed)
        self.venue_config = venue_config or VenueConfig(initial_balance=Decimal(cfg.initial_balance_usdt))
        self.venue = Venue(self.venue_config, self.rules)
        self.market = MarketState(self.rules, synthesize_marks=bool(cfg.data_path))
        self.hub = StreamHub(
            routed_strict=cfg.routed_paths_strict, legacy_public_only=cfg.legacy_paths_public_only
        )
        limits = RateLimitSpec(
            cfg.weight_limit_1m,
            cfg.orders_limit_10s,
            cfg.orders_limit_1m,
            cfg.ban_after_rejections,
            cfg.ban_initial_ms,
        )
        self.limiter = RateLimiter(limits)
        self.exchange: SimExchange
        self.user = UserData(
            self.hub,
            self.rules,
            self.faults,
            cfg.listen_key_ttl_ms,
            cfg.seed,
            lambda s: self.exchange.open_notional(s),
        )
        self.exchange = SimExchange(self.venue, self.market, self.user, limits, cfg.seed)
        self.market.sinks.append(VenueFeed(self.venue, self.user))
        self.streams = MarketStreams(self.hub, self.rules, self.market.books, self._take_depth_gap)
        self.market.sinks.append(self.streams)
        self.market.sinks.append(BarStreams(self.hub, self.exchange.bars, list(self.rules)))
        self.rest = RestApi(self.exchange, cfg, self.limiter, self.faults, self.now_ms)
        self.ws = WsGateway(self.hub, self.user, cfg, self.now_ms, self.clock.monotonic_ns)
        self.ws_api = WsApi(self.rest, cfg.api_secret, self.now_ms)
        if source is None:
            source = self._default_source()
        self.driver = MarketDriver(self.market, source, self.clock, 0.0 if cfg.manual_market else cfg.speed)
        self.control = SimControl(self)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.host = cfg.host
        self.port = cfg.port

    # ------------------------------------------------------------------ wiring helpers
    def _default_source(self) -> Iterator[TimedBatch]:
        if self.config.data_path:
            from grinder.sim.replay import replay_source

            return replay_source(self.config.data_path, self.rules)
        synth = SyntheticMarket(self.rules, self.config.seed, self.config.step_ms, self.clock.now_ms())
        return synth.batches()

    def _take_depth_gap(self, symbol: str) -> bool:
        if self.faults.take_depth_gap(symbol):
            FAULTS_INJECTED_TOTAL.labels("depth_gap").inc()
            return True
        return False

    def now_ms(self) -> int:
        """Exchange time: the clock plus any injected skew."""
        return self.clock.now_ms() + self.faults.clock_skew_ms

    # ------------------------------------------------------------------ URLs and credentials
    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def ws_api_url(self) -> str:
        """The WebSocket API endpoint (Binance: wss://ws-fapi.binance.com/ws-fapi/v1)."""
        return f"ws://{self.host}:{self.port}/ws-fapi/v1"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def api_secret(self) -> str:
        return self.config.api_secret

    # ------------------------------------------------------------------ lifecycle
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        self.rest.add_routes(app)
        self.ws.add_routes(app)
        self.ws_api.add_routes(app)
        from grinder.sim.control_api import add_control_routes

        add_control_routes(app, self)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("SimServer already started")
        self.exchange.created_ms = self.now_ms()
        self.driver.step(1)  # the opening book exists before the first request
        runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = _bound_port(site)
        if not self.config.manual_market:
            self._tasks.append(asyncio.create_task(self._run_market(), name="sim-market"))
        self._tasks.append(asyncio.create_task(self._housekeeping_loop(), name="sim-housekeeping"))
        log.info(
            "sim_started rest_url=%s ws_url=%s symbols=%s", self.rest_url, self.ws_url, ",".join(self.rules)
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for conn in list(self.hub.conns):
            await conn.close(1001, b"server shutdown")
            self.hub.remove(conn)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        log.info("sim_stopped")

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ market and timers
    def step_market(self, count: int = 1) -> int:
        """Manual mode: apply the next `count` market batches now (depth streams flush each time)."""
        return self.driver.step(count)

    async def housekeeping(self) -> None:
        """listenKey expiry, countdown cancels, venue time, pings and connection lifetimes."""
        now = self.now_ms()
        self.user.expire_due(now)
        self.venue.advance_to(now)
        self.exchange.run_countdowns(now)
        await self.ws.housekeeping()

    async def _run_market(self) -> None:
        """The market task: a failing source stops the market (logged), never the server."""
        try:
            await self.driver.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sim_market_failed batches=%d: the market is frozen, REST/WS keep serving",
                          self.driver.batches_applied)  # fmt: skip
            self.driver.finished = True

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            try:
                await self.housekeeping()
            except Exception:
                log.exception("sim_housekeeping_failed")


def _bound_port(site: web.TCPSite) -> int:
    """The port the OS picked for an ephemeral bind (aiohttp keeps the server on the site)."""
    server: Any = site._server
    return int(server.sockets[0].getsockname()[1])
