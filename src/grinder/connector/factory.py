"""Build a ready-to-connect `LiveConnectorV0` from the loaded `[connector]` config (for apps)."""

from __future__ import annotations

from grinder.binance.rest import BinanceRestClient
from grinder.connector.binance_port import BinanceFuturesPort
from grinder.connector.config import BinanceFuturesPortConfig, LiveConnectorConfig
from grinder.connector.live import LiveConnectorV0
from grinder.connector.paper import PaperPort
from grinder.core.clock import Clock, WallClock
from grinder.venue import Venue


def build_connector(
    config: LiveConnectorConfig,
    *,
    clock: Clock | None = None,
    port_config: BinanceFuturesPortConfig | None = None,
    http_client: BinanceRestClient | None = None,
    paper_venue: Venue | None = None,
) -> LiveConnectorV0:
    """Attach the ports the config lacks and return the connector (gates unchanged: a READ_ONLY,
    disarmed config stays READ_ONLY and disarmed). The futures port is always built — READ_ONLY
    reads the exchange through it — with the connector's notional cap unless `port_config` is given;
    its keys come from BINANCE_API_KEY / BINANCE_API_SECRET unless `http_client` is given. A paper
    port is attached when `paper_venue` is given."""
    clock = clock or WallClock()
    if config.futures_port is None:
        cfg = port_config or BinanceFuturesPortConfig(max_notional_per_order=config.max_notional_per_order)
        config.futures_port = BinanceFuturesPort(config=cfg, http_client=http_client)
    if config.paper_port is None and paper_venue is not None:
        config.paper_port = PaperPort(paper_venue, clock)
    return LiveConnectorV0(config, clock=clock)
