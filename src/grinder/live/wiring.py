"""Builds a `LiveEngine` from configuration: REST client, port, connector, pipeline, streams, journal.

All the objects live here so `run.py` (the engine process), `demo.py` and the benchmark assemble
exactly the same engine. Orders go over the WebSocket API session (`[binance] order_transport`,
REST while it is down). Tick-to-order latency is stamped when an order request reaches the socket:
by the WebSocket API client right after it writes the frame, by a REST session trace hook when the
request's headers are written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp

from grinder.api import StrategyFactory, StrategySelection, WarmsUp
from grinder.binance.auth import Credentials
from grinder.binance.config import BinanceConfig
from grinder.binance.constants import StreamGroup
from grinder.binance.rest import BinanceRestClient, write_fence_trace
from grinder.binance.streams import MarketStreams
from grinder.binance.user_stream import UserDataStream
from grinder.binance.ws_api import BinanceWsApiClient, ws_api_url_for
from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.config import BinanceFuturesPortConfig, LiveConnectorConfig
from grinder.connector.live import LiveConnectorV0
from grinder.connector.paper import PaperPort
from grinder.core.clock import Clock, WallClock
from grinder.core.enums import SafeMode
from grinder.core.events import BookTicker, MarketEvent, MarkPrice, Trade
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.rules import SymbolRules
from grinder.execution.config import ExecutionConfig
from grinder.execution.pipeline import TradingPipeline
from grinder.ha import HAConfig
from grinder.live.config import EngineConfig, check_sections, resolve_urls
from grinder.live.engine import LiveEngine
from grinder.live.id_epoch import begin_term_epoch
from grinder.live.journal import EngineJournal
from grinder.live.latency import TICK_ORDERS
from grinder.live.parts import EngineParts, Journal, Lease
from grinder.live.reconcile_loop import ReconcileLoop
from grinder.live.startup import FillRecovery
from grinder.ops.config import OpsConfig
from grinder.reconcile.config import ReconcileConfig
from grinder.risk.config import RiskConfig
from grinder.store import StoreConfig
from grinder.strategy import StrategyConfig, grid_factory
from grinder.strategy.warmup import fetch_warmup_bars
from grinder.venue import Venue
from grinder.venue.config import VenueConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineSettings:
    """Every section the engine needs. `strategies` may override the grid per symbol; `selection`
    ([strategy] factory) swaps the grid for a plug-in strategy (`grinder.api`)."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    connector: LiveConnectorConfig = field(default_factory=LiveConnectorConfig)
    binance: BinanceConfig = field(default_factory=BinanceConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    strategies: Mapping[str, StrategyConfig] = field(default_factory=dict)
    risk: RiskConfig = field(default_factory=RiskConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    venue: VenueConfig = field(default_factory=VenueConfig)  # PAPER mode's in-process account
    ops: OpsConfig = field(default_factory=OpsConfig)
    store: StoreConfig | None = None
    ha: HAConfig | None = None
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    selection: StrategySelection = field(default_factory=StrategySelection)

    def __post_init__(self) -> None:
        """One owner per setting (issue 12): [connector] symbols is the allow-list and the default
        list traded; [connector] max_notional_per_order and strategy_tag apply to the engine too."""
        eng, conn = self.engine, self.connector
        if not eng.symbols:
            object.__setattr__(self, "engine", dataclasses.replace(eng, symbols=tuple(conn.symbols)))
        check_sections({"engine": self.engine, "connector": conn, "risk": self.risk})
        if self.risk.max_notional_per_order != conn.max_notional_per_order:
            object.__setattr__(self, "risk", dataclasses.replace(
                self.risk, max_notional_per_order=conn.max_notional_per_order))

    @classmethod
    def from_config(cls, cfg: Any) -> EngineSettings:
        """From a loaded `grinder.config.GrinderConfig`."""
        return cls(
            engine=cfg.section("engine"),
            connector=cfg.section("connector"),
            binance=cfg.section("binance"),
            strategy=StrategyConfig.from_sections(cfg),
            strategies={sym: StrategyConfig.for_symbol(cfg, sym) for sym in cfg.override_symbols},
            risk=cfg.section("risk"),
            execution=cfg.section("execution"),
            venue=cfg.section("venue"),
            ops=cfg.section("ops"),
            store=_optional_section(cfg, "store"),
            ha=_optional_section(cfg, "ha"),
            reconcile=_optional_section(cfg, "reconcile") or ReconcileConfig(),
            selection=_optional_section(cfg, "strategy") or StrategySelection(),
        )


def _optional_section(cfg: Any, name: str) -> Any:
    try:
        return cfg.section(name)
    except KeyError:
        return None


def order_written_hook(engine_ref: SimpleNamespace) -> Callable[[], None]:
    """Called when an order request reaches the socket: records tick-to-order for the tick behind it."""

    def written() -> None:
        tick = TICK_ORDERS.get()
        engine: LiveEngine | None = engine_ref.engine
        if tick is not None and engine is not None:
            TICK_ORDERS.set(None)  # a retry of the same command is not a new decision
            engine.latency.order_written(tick, engine.clock.monotonic_ns())

    return written


def latency_trace(engine_ref: SimpleNamespace) -> aiohttp.TraceConfig:
    """An aiohttp trace that records tick-to-order when a REST request caused by a tick hits the socket."""
    trace = aiohttp.TraceConfig()
    written = order_written_hook(engine_ref)

    async def on_headers_sent(session: Any, ctx: Any, params: Any) -> None:
        written()

    trace.on_request_headers_sent.append(on_headers_sent)
    return trace


def ws_api_client(
    binance_cfg: BinanceConfig, rest: BinanceRestClient, api_key: str | None, api_secret: str | None,
    session: aiohttp.ClientSession, engine_ref: SimpleNamespace, clock: Clock,
) -> BinanceWsApiClient | None:
    """The WebSocket API session orders go over (`[binance] order_transport = "ws"`, with keys)."""
    if binance_cfg.order_transport != "ws" or not (api_key and api_secret):
        return None
    client = BinanceWsApiClient(binance_cfg.ws_api_url or ws_api_url_for(binance_cfg.ws_url), rest,
                                Credentials(api_key, api_secret), config=binance_cfg, session=session,
                                clock=clock)
    client.on_written = order_written_hook(engine_ref)
    return client


class PaperAccount:
    """PAPER mode: live market data feeds the in-process venue; its order and account events are our
    user stream (the venue decides fills exactly as in backtests and the simulator)."""

    def __init__(self, port: PaperPort, deliver: Callable[[Any], None]) -> None:
        self.port = port
        self._deliver = deliver

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def on_market(self, ev: MarketEvent) -> None:
        # L1 feed (book ticker, trades, marks): the venue matches our orders against the live top of book.
        if isinstance(ev, BookTicker):
            self.port.on_book_ticker(ev)
        elif isinstance(ev, Trade):
            self.port.on_trade(ev)
        elif isinstance(ev, MarkPrice):
            self.port.on_mark_price(ev)

    def pump(self) -> None:
        for ev in self.port.drain_events():
            self._deliver(ev)


POOL_LIMIT = 32  # REST connections to the exchange


async def warm_connections(rest: BinanceRestClient, count: int) -> None:
    """Open `count` pooled connections now (concurrent GET /fapi/v1/time, weight 1 each), so the
    first orders of a re-anchoring grid do not each wait for a TCP connect. Failures are harmless."""
    if count <= 1:
        return
    results = await asyncio.gather(*(rest.server_time() for _ in range(count)), return_exceptions=True)
    failed = sum(isinstance(r, BaseException) for r in results)
    if failed:
        log.info("rest connection warm-up: %d of %d requests failed (not needed to trade)", failed, count)


async def warm_up_strategies(
    pipeline: TradingPipeline, rest: BinanceRestClient, rules: Mapping[str, SymbolRules],
    settings: EngineSettings, clock: Clock,
) -> None:
    """NATR warm from the first minute: each symbol's history bars over REST (ADR-172)."""
    for sym in rules:
        if not isinstance(pipeline.strategy(sym), WarmsUp):
            continue  # a plug-in without warm-up: no history to fetch
        scfg = settings.strategies.get(sym, settings.strategy)
        bars = await fetch_warmup_bars(lambda path, q: rest.request("GET", path, q), sym, rules[sym],
                                       bar_ms=scfg.features.bar_ms, count=scfg.grid.warmup_bars,
                                       now_ms=clock.now_ms())
        if bars:
            pipeline.warm_up(sym, bars, "klines")


def strategy_factory(settings: EngineSettings) -> tuple[StrategyFactory, Any]:
    """(factory, its config): the [strategy] plug-in with its params, else the grid of each symbol."""
    grids = {sym: settings.strategies.get(sym, settings.strategy) for sym in settings.engine.symbols}
    return settings.selection.choose(grid_factory, grids)


async def load_rules(port: BinanceFuturesPort, symbols: tuple[str, ...]) -> dict[str, SymbolRules]:
    rules: dict[str, SymbolRules] = {}
    for sym in symbols:
        rules[sym] = await port.symbol_rules(sym)
    return rules


async def build_engine(
    settings: EngineSettings,
    *,
    journal: Journal,
    api_key: str | None,
    api_secret: str | None,
    lease: Lease | None = None,
    clock: Clock | None = None,
    id_epoch_s: int | None = None,
) -> LiveEngine:
    """Connect to the exchange (rules, gates) and assemble the engine; streams start in `engine.start()`."""
    clock = clock or WallClock()
    cfg = settings.engine
    rest_url, ws_url = resolve_urls(settings.binance.rest_url, settings.binance.ws_url)
    binance_cfg = dataclasses.replace(settings.binance, rest_url=rest_url, ws_url=ws_url)
    mode = settings.connector.mode
    want_armed = settings.connector.armed
    paper_mode = mode is SafeMode.PAPER
    has_account = bool(api_key and api_secret) or paper_mode
    if want_armed and mode is SafeMode.LIVE_TRADE and not has_account:
        raise ValueError(
            f"connector mode={mode.value} armed=True needs BINANCE_API_KEY and BINANCE_API_SECRET in the "
            "environment; set them, or run READ_ONLY / disarmed for market data only"
        )
    engine_ref = SimpleNamespace(engine=None)
    session = aiohttp.ClientSession(
        # Idle connections stay pooled 30 s (aiohttp's default is 15): a re-anchoring grid sends
        # several orders at once, and a new TCP connection on that path costs milliseconds.
        connector=aiohttp.TCPConnector(limit=POOL_LIMIT, keepalive_timeout=30.0, enable_cleanup_closed=True),
        trace_configs=[latency_trace(engine_ref), write_fence_trace()],
    )
    rest = BinanceRestClient(
        rest_url, api_key=api_key, api_secret=api_secret, session=session, clock=clock,
        recv_window_ms=binance_cfg.recv_window_ms, timeout_s=binance_cfg.timeout_s,
        max_retries=binance_cfg.max_retries, retry_backoff_s=binance_cfg.retry_backoff_s,
        time_resync_interval_s=binance_cfg.time_resync_interval_s, max_body_bytes=binance_cfg.max_body_bytes,
    )
    try:
        port = BinanceFuturesPort(
            BinanceFuturesPortConfig(base_url=rest_url, ws_url=ws_url,
                                     max_notional_per_order=settings.connector.max_notional_per_order),
            http_client=rest,
            ws_client=None if paper_mode else ws_api_client(binance_cfg, rest, api_key, api_secret, session,
                                                           engine_ref, clock),
        )
        may_arm = lease is None or lease.role in ("leader", "standalone")
        rules = await load_rules(port, cfg.symbols)  # exchangeInfo is public: no key needed
        paper = PaperPort(Venue(settings.venue, rules), clock) if paper_mode else None
        conn_cfg = LiveConnectorConfig(
            mode=mode, armed=want_armed and may_arm, futures_port=port, paper_port=paper,
            symbols=settings.connector.symbols, strategy_tag=settings.connector.strategy_tag,
            max_notional_per_order=settings.connector.max_notional_per_order,
            position_mode=settings.connector.position_mode,
        )
        connector = LiveConnectorV0(conn_cfg, clock=clock)
        await connector.connect()
        if has_account and not paper_mode:
            await rest.sync_time()
            await warm_connections(rest, min(POOL_LIMIT // 2, 2 * settings.strategy.grid.levels))
    except BaseException:
        await session.close()
        raise
    epoch = id_epoch_s if id_epoch_s is not None else clock.now_ms() // 1000
    ids = ClientOrderIdFactory(settings.connector.strategy_tag, epoch)  # [connector] owns the tag
    make, strategy_config = strategy_factory(settings)
    pipeline = TradingPipeline(
        rules, strategy_config, settings.risk, settings.execution, ids, strategy_factory=make,
    )
    await warm_up_strategies(pipeline, rest, rules, settings, clock)

    def on_market(ev: Any) -> None:
        if paper_account is not None:
            paper_account.on_market(ev)
            engine.on_market_event(ev)
            paper_account.pump()
        else:
            engine.on_market_event(ev)

    def on_user(ev: Any) -> None:
        engine.on_user_event(ev)

    market = MarketStreams(rules, config=binance_cfg, rest=rest, on_event=on_market, clock=clock)
    for sym in cfg.symbols:
        await market.subscribe(sym, cfg.market_streams)
    paper_account = PaperAccount(paper, on_user) if paper is not None else None
    user = UserDataStream(rest, rules, symbols=cfg.symbols, config=binance_cfg, on_event=on_user, clock=clock)

    def market_connected() -> bool:
        groups = [g for g in (StreamGroup.PUBLIC, StreamGroup.MARKET) if market.connection(g) is not None]
        return bool(groups) and all(market.connection(g).is_connected for g in groups)  # type: ignore[union-attr]

    def user_connected() -> bool:
        if paper_account is not None:
            return True
        # Open AND alive: a socket with neither an event nor a pong within the liveness window is stale.
        return user.connection is not None and user.connection.is_connected and user.stale_reason() is None

    async def close_session() -> None:
        await connector.close()
        await session.close()

    store = journal.store if isinstance(journal, EngineJournal) else None
    recovery = (FillRecovery(port, store, cfg.symbols)
                if has_account and not paper_mode and store is not None else None)
    parts = EngineParts(
        config=cfg, rules=rules, port=paper if paper is not None else port, connector=connector,
        pipeline=pipeline, journal=journal, market_feed=market,
        user_feed=paper_account if paper_account is not None else user,
        market_connected=market_connected, user_connected=user_connected,
        lease=lease, want_armed=want_armed, on_close=(close_session,),
        recovery=recovery, trip_store=store, exchange_block=exchange_block(rest),
        poll_user_events=paper_account.pump if paper_account is not None else None,
    )
    engine = LiveEngine(parts, clock=clock)
    engine.has_account = has_account
    engine.dispatcher.trace_latency = not paper_mode  # PAPER writes no HTTP request: stamped at submit
    engine.yield_market = market.request_yield
    attach_self_healing(engine, settings, rest, journal, lease)
    engine_ref.engine = engine
    return engine


def attach_self_healing(
    engine: LiveEngine, settings: EngineSettings, rest: BinanceRestClient, journal: Journal,
    lease: Lease | None,
) -> None:
    """Under HA, the write fence on every order request (ADR-110); with an exchange account (not
    PAPER), the reconciliation loop (ADR-112) and, under HA, a fresh client-id epoch per term (ADR-114)."""
    if lease is not None:
        rest.write_fence = lease.write_permit  # every order write asks the lease first
    port = engine.parts.port
    if not engine.has_account or not isinstance(port, BinanceFuturesPort):
        return
    if not isinstance(journal, EngineJournal):
        return
    engine.reconcile = ReconcileLoop(engine, port, journal, settings.reconcile)
    if lease is not None:
        engine.begin_term = functools.partial(begin_term_epoch, engine, rest)


def exchange_block(rest: BinanceRestClient) -> Callable[[], str | None]:
    """Why the exchange refuses us now (418, 429 with or without Retry-After), for /readyz; None if not."""

    def blocked() -> str | None:
        until_ms, why = rest.governor.self_block()
        left_ms = until_ms - rest.governor.server_now_ms()
        if left_ms > 0:
            return f"self-blocked by the exchange (418/429) for {left_ms / 1000:.1f}s more ({why})"
        return None

    return blocked
