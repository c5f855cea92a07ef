"""Connector configuration: `LiveConnectorConfig` (TOML section `[connector]`) and the port configs.

`LiveConnectorConfig` is deliberately *mutable*: Runbook 17's rollback is `config.mode =
SafeMode.READ_ONLY` or `config.armed = False` on the running process, and `LiveConnectorV0` reads
the config at every write, so the change applies to the very next write (ADR-056). Assignments are
validated (a wrong type is refused with the accepted values) and logged as `armed=...` / `mode=...`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from grinder.connector.port import ExchangePort
from grinder.core.enums import SafeMode
from grinder.core.ids import ClientOrderIdFactory

log = logging.getLogger(__name__)

MAINNET_REST_URL = "https://fapi.binance.com"
MAINNET_WS_URL = "wss://fstream.binance.com"
BASE_URL_ENV = "BINANCE_FUTURES_BASE_URL"
WS_URL_ENV = "BINANCE_FUTURES_WS_URL"
DEFAULT_MAX_NOTIONAL = Decimal("125")

POSITION_MODES = ("one-way", "hedge")
_TRUTHY = frozenset({"1", "true", "yes"})


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """True when `name` is set to 1/true/yes (case-insensitive); anything else, or unset, is False."""
    return environ.get(name, "").strip().lower() in _TRUTHY


def _coerce_mode(value: Any) -> SafeMode:
    if isinstance(value, SafeMode):
        return value
    if isinstance(value, str):
        text = value.strip().upper()
        for member in SafeMode:
            if text == member.value:
                return member
    accepted = ", ".join(m.value for m in SafeMode)
    raise ValueError(f"connector mode {value!r} is not accepted; use one of {accepted} (SafeMode.<NAME>)")


@dataclass(eq=False)
class LiveConnectorConfig:
    """What the connector may do. Defaults are safe: READ_ONLY, disarmed, no port.

    mode: READ_ONLY (no write is possible), PAPER (writes go to `paper_port`), LIVE_TRADE
        (writes go to `futures_port` after all Runbook 17 gates).
    armed: master switch for every write in every mode (Gate 1). Only the HA leader may be armed.
    futures_port: the real exchange port (`BinanceFuturesPort`); required for LIVE_TRADE.
    paper_port: the paper port (`PaperPort`); required for PAPER.
    symbols: symbols the connector may write to; an order for any other symbol is refused.
    max_notional_per_order: cap on price × quantity of one non-reduce-only order, in quote asset.
    strategy_tag: the `{strategy}` part of client order ids (1-6 characters, no '_').
    position_mode: the account's position mode the engine expects ("one-way"); the engine refuses
        to start when `GET /fapi/v1/positionSide/dual` says otherwise.
    """

    mode: SafeMode = SafeMode.READ_ONLY
    armed: bool = False
    futures_port: ExchangePort | None = None
    paper_port: ExchangePort | None = None
    symbols: tuple[str, ...] = ("BTCUSDT",)
    max_notional_per_order: Decimal = DEFAULT_MAX_NOTIONAL
    strategy_tag: str = "s"
    position_mode: str = "one-way"

    def __post_init__(self) -> None:
        if self.position_mode not in POSITION_MODES:
            raise ValueError(
                f"connector position_mode={self.position_mode!r} is not accepted; use one of "
                f"{', '.join(POSITION_MODES)} (the engine quotes one-way only)"
            )
        object.__setattr__(self, "_ready", True)  # from now on, log mode/armed changes

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "mode":
            value = _coerce_mode(value)
        elif name == "armed":
            if not isinstance(value, bool):
                raise ValueError(f"connector armed={value!r} must be True or False")
        elif name == "symbols":
            if isinstance(value, str) or not all(isinstance(s, str) and s for s in value):
                raise ValueError(
                    f"connector symbols={value!r} must be a list of symbol names, e.g. ['BTCUSDT']"
                )
            value = tuple(s.strip().upper() for s in value)
        elif name == "strategy_tag":
            ClientOrderIdFactory(value, 0)  # raises ValueError naming the accepted characters
        elif name == "max_notional_per_order":
            value = Decimal(str(value))
            if not value.is_finite() or value <= 0:
                raise ValueError(f"connector max_notional_per_order={value} must be a positive number (USDT)")
        ready = self.__dict__.get("_ready", False)
        old = self.__dict__.get(name)
        object.__setattr__(self, name, value)
        if ready and name in ("mode", "armed") and old != value:
            shown = value.value if isinstance(value, SafeMode) else value
            log.warning("LiveConnectorConfig changed %s=%s (applies to the next write)", name, shown)


def _env_url(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class BinanceFuturesPortConfig:
    """`BinanceFuturesPort` settings. URLs default to mainnet, overridable by environment:
    BINANCE_FUTURES_BASE_URL / BINANCE_FUTURES_WS_URL (read when the config is built).

    max_notional_per_order: the port's own cap (defence in depth under the connector's cap).
    resolve_attempts: queries of an unknown-outcome write before giving up as UNKNOWN.
    max_resends: re-sends with the SAME client order id after a query proved the order absent, or
        after a retryable failure that escaped the REST client's own retries.
    retry_backoff_s: pause between such attempts.
    """

    base_url: str = field(default_factory=lambda: _env_url(BASE_URL_ENV, MAINNET_REST_URL))
    ws_url: str = field(default_factory=lambda: _env_url(WS_URL_ENV, MAINNET_WS_URL))
    max_notional_per_order: Decimal = DEFAULT_MAX_NOTIONAL
    resolve_attempts: int = 3
    max_resends: int = 2
    retry_backoff_s: float = 0.2

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"BinanceFuturesPort base_url {self.base_url!r} must start with http:// or https:// "
                f"(set {BASE_URL_ENV}, e.g. http://127.0.0.1:8765 for `grinder sim`)"
            )
        if self.max_notional_per_order <= 0:
            raise ValueError("BinanceFuturesPort max_notional_per_order must be > 0 (USDT)")
        if self.resolve_attempts < 1 or self.max_resends < 0 or self.retry_backoff_s < 0:
            raise ValueError(
                "BinanceFuturesPort needs resolve_attempts >= 1, max_resends >= 0, retry_backoff_s >= 0"
            )
