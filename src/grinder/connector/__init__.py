"""The connector: `LiveConnectorV0` with `SafeMode` and the Runbook 17 gates in front of an `ExchangePort`.
"""

from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.config import BinanceFuturesPortConfig, LiveConnectorConfig
from grinder.connector.errors import (
    ConnectorError,
    ConnectorNonRetryableError,
    ConnectorRetryableError,
    ConnectorUnknownOutcomeError,
)
from grinder.connector.factory import build_connector
from grinder.connector.gates import ALLOW_MAINNET_ENV, Gate, GateBlock, check_write_gates, is_mainnet_url
from grinder.connector.live import LiveConnectorV0
from grinder.connector.paper import PaperPort
from grinder.connector.port import BalanceState, ExchangePort, OrderState, PositionState
from grinder.core.enums import SafeMode

__all__ = [
    "ALLOW_MAINNET_ENV",
    "BalanceState",
    "BinanceFuturesPort",
    "BinanceFuturesPortConfig",
    "ConnectorError",
    "ConnectorNonRetryableError",
    "ConnectorRetryableError",
    "ConnectorUnknownOutcomeError",
    "ExchangePort",
    "Gate",
    "GateBlock",
    "LiveConnectorConfig",
    "LiveConnectorV0",
    "OrderState",
    "PaperPort",
    "PositionState",
    "SafeMode",
    "build_connector",
    "check_write_gates",
    "is_mainnet_url",
]
