"""The Runbook 17 write gates, in order, as one pure function every write path calls.

Order: 1 armed → 2 mode → 3 ALLOW_MAINNET_TRADE (only when the target is, or may be, Binance
mainnet) → 4 futures_port configured. PAPER mode needs gates 1-2 and a paper port; it never
reaches the real exchange, so gates 3-4 do not apply. The first failing gate wins and its
message says what to set. Mainnet detection fails closed: any URL not known to be a loopback
simulator or the Binance testnet is treated as mainnet.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from grinder.connector.config import BASE_URL_ENV, env_flag
from grinder.connector.port import ExchangePort
from grinder.core.blocks import BlockKind, BlockReason
from grinder.core.enums import SafeMode

ALLOW_MAINNET_ENV = "ALLOW_MAINNET_TRADE"
TESTNET_HOSTS = frozenset({"testnet.binancefuture.com", "demo-fapi.binance.com"})
_LOOPBACK_NAMES = frozenset({"localhost"})


class Gate(StrEnum):
    """Stable gate names: metric label values and BLOCKED reasons (`gate:<name>`)."""

    ARMED = "armed"
    MODE = "mode"
    ALLOW_MAINNET_TRADE = "allow_mainnet_trade"
    FUTURES_PORT = "futures_port"
    PAPER_PORT = "paper_port"


@dataclass(frozen=True, slots=True)
class GateBlock:
    gate: Gate
    message: str

    @property
    def block(self) -> BlockReason:
        return BlockReason(BlockKind.GATE, self.gate.value)

    @property
    def reason(self) -> str:
        return self.block.text


@functools.lru_cache(maxsize=64)
def is_mainnet_url(url: str) -> bool:
    """False only for a loopback address or a known Binance testnet host; True otherwise (fail closed).

    Memoised per URL string (a pure function of it): the gates call it twice per write, and the
    port's current `base_url` is still read at every call, so a changed URL is classified afresh.
    """
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return True
    if not host:
        return True
    if host in _LOOPBACK_NAMES or host in TESTNET_HOSTS:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def check_write_gates(
    op: str,
    *,
    mode: SafeMode,
    armed: bool,
    futures_port: ExchangePort | None,
    paper_port: ExchangePort | None,
    environ: Mapping[str, str],
) -> GateBlock | None:
    """None when `op` (place_order / cancel_order / replace_order) may proceed, else the first block."""
    if not armed:
        return GateBlock(
            Gate.ARMED,
            f"Cannot {op}: armed=False. Arm the connector: set LiveConnectorConfig(armed=True) "
            "(or config.armed = True at runtime); only the HA leader may be armed.",
        )
    if mode is SafeMode.READ_ONLY:
        return GateBlock(
            Gate.MODE,
            f"Cannot {op}: mode=READ_ONLY (no writes possible). Set "
            "LiveConnectorConfig(mode=SafeMode.LIVE_TRADE) for real orders, "
            "or SafeMode.PAPER for paper orders.",
        )
    if mode is SafeMode.PAPER:
        if paper_port is None:
            return GateBlock(
                Gate.PAPER_PORT,
                f"Cannot {op}: mode=PAPER but paper_port not configured. Provide one: "
                "LiveConnectorConfig(paper_port=PaperPort(venue, clock), ...).",
            )
        return None
    target_is_mainnet = futures_port is None or futures_port.is_mainnet
    if target_is_mainnet and not env_flag(environ, ALLOW_MAINNET_ENV):
        target = futures_port.base_url if futures_port is not None else "(no futures_port: assumed mainnet)"
        return GateBlock(
            Gate.ALLOW_MAINNET_TRADE,
            f"Cannot {op}: ALLOW_MAINNET_TRADE=1 not set (target {target} is Binance mainnet). "
            f"Export ALLOW_MAINNET_TRADE=1 (accepted: 1/true/yes) to trade real money, or point "
            f"{BASE_URL_ENV} at the testnet or a loopback simulator.",
        )
    if futures_port is None:
        return GateBlock(
            Gate.FUTURES_PORT,
            f"Cannot {op}: futures_port not configured. Provide one: "
            "LiveConnectorConfig(futures_port=BinanceFuturesPort(config=port_config, "
            "http_client=http_client), ...).",
        )
    return None
