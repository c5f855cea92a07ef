"""GRINDER: adaptive grid market-making for Binance USDⓈ-M perpetual futures."""

__version__ = "0.1.0"
