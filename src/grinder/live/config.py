"""`EngineConfig`: what the live engine trades and how it starts and stops (TOML section [engine]).

Safe by default: the connector section decides mode/armed (READ_ONLY, disarmed); the engine's own
defaults cancel our leftover orders at start-up and our working orders at shutdown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LEFTOVER_POLICIES = ("cancel", "adopt")
STREAM_KINDS = ("bookTicker", "aggTrade", "markPrice", "depth")
BASE_URL_ENV = "BINANCE_FUTURES_BASE_URL"
WS_URL_ENV = "BINANCE_FUTURES_WS_URL"


def resolve_urls(rest_url: str, ws_url: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Exchange endpoints: BINANCE_FUTURES_BASE_URL / BINANCE_FUTURES_WS_URL override [binance] urls."""
    env = os.environ if env is None else env
    rest = env.get(BASE_URL_ENV, "").strip() or rest_url
    ws = env.get(WS_URL_ENV, "").strip() or ws_url
    if not rest.startswith(("http://", "https://")):
        raise ValueError(f"REST url {rest!r} must start with http:// or https:// (check {BASE_URL_ENV})")
    if not ws.startswith(("ws://", "wss://")):
        raise ValueError(f"WebSocket url {ws!r} must start with ws:// or wss:// (check {WS_URL_ENV})")
    return rest.rstrip("/"), ws.rstrip("/")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Live engine settings.

    symbols: the symbols traded by this process (one account, one process); empty (the default) =
        every symbol of `[connector] symbols`, the write allow-list that owns the list. A symbol
        outside that allow-list is refused by `grinder config check` and at start.
    market_streams: market stream kinds per symbol (bookTicker, aggTrade, markPrice, depth).
    leftover_orders: what to do at start-up with our own (`grinder_` prefixed) open orders found on
        the exchange: "cancel" (default) or "adopt" them into the order manager.
    cancel_on_shutdown: cancel our working orders on SIGINT/SIGTERM before exiting.
    stale_feed_s: a symbol whose last market event is older than this makes /readyz answer 503,
        and our orders on it are cancelled; its next market event re-plans the grid.
    shutdown_timeout_s: upper bound for the graceful shutdown (cancels, journal flush).
    deadman_countdown_s: the dead-man's switch: while armed in LIVE_TRADE, the exchange is asked to
        cancel every open order of each symbol unless refreshed within this many seconds
        (`POST /fapi/v1/countdownCancelAll`); 0 turns it off.
    deadman_interval_s: how often the countdown is refreshed (well below the countdown).
    log_level / log_format: "INFO"/"DEBUG"/...; "human" or "json".
    """

    symbols: tuple[str, ...] = ()
    market_streams: tuple[str, ...] = ("bookTicker", "aggTrade", "markPrice", "depth")
    leftover_orders: str = "cancel"
    cancel_on_shutdown: bool = True
    stale_feed_s: float = 10.0
    shutdown_timeout_s: float = 15.0
    deadman_countdown_s: float = 30.0
    deadman_interval_s: float = 10.0
    log_level: str = "INFO"
    log_format: str = "human"

    def __post_init__(self) -> None:
        for sym in self.symbols:
            if not sym or not sym.isalnum() or sym.upper() != sym:
                raise ValueError(
                    f"engine.symbols entry {sym!r} is not a Binance symbol (upper-case, e.g. BTCUSDT)"
                )
        unknown = [k for k in self.market_streams if k not in STREAM_KINDS]
        if unknown or "bookTicker" not in self.market_streams:
            raise ValueError(
                f"engine.market_streams={list(self.market_streams)} is not accepted: use kinds from "
                f"{', '.join(STREAM_KINDS)}, including bookTicker (quotes follow the top of book)"
            )
        if self.leftover_orders not in LEFTOVER_POLICIES:
            raise ValueError(
                f"engine.leftover_orders={self.leftover_orders!r} is not accepted: use one of "
                f"{', '.join(LEFTOVER_POLICIES)}"
            )
        if self.stale_feed_s <= 0 or self.shutdown_timeout_s <= 0:
            raise ValueError("engine.stale_feed_s and engine.shutdown_timeout_s must be > 0 seconds")
        if self.deadman_countdown_s < 0 or (
            self.deadman_countdown_s > 0 and not 0 < self.deadman_interval_s <= self.deadman_countdown_s / 2
        ):
            raise ValueError(
                f"engine.deadman_countdown_s={self.deadman_countdown_s} / deadman_interval_s="
                f"{self.deadman_interval_s}: use a countdown >= 0 (0 = off) and an interval > 0 of at most "
                "half the countdown, e.g. 30 and 10"
            )
        if self.log_format not in ("human", "json"):
            raise ValueError(f"engine.log_format={self.log_format!r} is not accepted: use human or json")


def check_sections(sections: Mapping[str, Any]) -> None:
    """Checks across [engine], [connector] and [risk]: one owner per setting (`grinder.config` runs it).

    `[connector] symbols` is the write allow-list: every `[engine] symbols` entry must be in it.
    `[connector] max_notional_per_order` owns the per-order cap; `[risk]` may only repeat it."""
    engine, connector, risk = sections.get("engine"), sections.get("connector"), sections.get("risk")
    if engine is None or connector is None:
        return
    outside = [s for s in engine.symbols if s not in connector.symbols]
    if outside:
        raise ValueError(
            f"[engine] symbols {outside} are not in [connector] symbols {list(connector.symbols)} (the write "
            "allow-list); add them to [connector] symbols, or remove them from [engine] symbols"
        )
    if risk is not None:
        default = type(risk)().max_notional_per_order
        if risk.max_notional_per_order not in (default, connector.max_notional_per_order):
            raise ValueError(
                f"[risk] max_notional_per_order = {risk.max_notional_per_order} differs from [connector] "
                f"max_notional_per_order = {connector.max_notional_per_order}; the cap is owned by "
                "[connector]: set it there and remove it from [risk]"
            )
