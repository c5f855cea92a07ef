"""[backtest] settings: how the backtester replays data (the strategy, risk and venue keep their sections)."""

from __future__ import annotations

from dataclasses import dataclass

# Order entry latency the backtester assumes when the config names none: one way from the strategy to
# Binance's matching engine plus its acknowledgement path, for a host outside Binance's region. It is
# an assumption, documented in docs/backtest.md ("Latency"), not a measurement of your host; measure
# yours (the live engine logs ack round trips) and set [backtest] order_latency_ms.
DEFAULT_ORDER_LATENCY_MS = 20
# Market-data latency when the data carries no local receive time (public-data files).
DEFAULT_FEED_LATENCY_MS = 5


@dataclass(frozen=True)
class BacktestConfig:
    """TOML section `[backtest]`.

    skip_quiet: jump over events inside the strategy's quiet band that touch no order (vectorised
    numpy scan; results are identical to processing every event, which tests prove).
    bar_ms: sampling interval of the equity / inventory curves and of drawdown (ms).
    sharpe_bar_ms: return interval for Sharpe / Sortino (ms), annualised over 365 days.
    strategy_tag: the {strategy} part of backtest client order ids.
    latency: model latency (default on): the strategy sees market data `feed latency` after the
    exchange time and its orders reach the matching engine `order_latency_ms` after that; fills reach
    the strategy `feed latency` after they happen. Explicit non-zero `[venue] order_latency_ms` /
    `feed_latency_ms` win over the model. Off: the venue's own values (0 by default) apply.
    order_latency_ms: order entry latency (strategy -> matching engine), see DEFAULT_ORDER_LATENCY_MS.
    feed_latency_ms: market/user-data latency; -1 = from the data (local receive time minus exchange
    time, where recorded), DEFAULT_FEED_LATENCY_MS where the data has no local time.
    """

    skip_quiet: bool = True
    bar_ms: int = 1_000
    sharpe_bar_ms: int = 60_000
    strategy_tag: str = "bt"
    latency: bool = True
    order_latency_ms: int = DEFAULT_ORDER_LATENCY_MS
    feed_latency_ms: int = -1

    def __post_init__(self) -> None:
        if self.bar_ms <= 0 or self.sharpe_bar_ms <= 0:
            raise ValueError("backtest.bar_ms and backtest.sharpe_bar_ms must be > 0 ms")
        if self.sharpe_bar_ms % self.bar_ms:
            raise ValueError(
                f"backtest.sharpe_bar_ms={self.sharpe_bar_ms} must be a multiple of bar_ms={self.bar_ms}"
            )
        if self.order_latency_ms < 0:
            raise ValueError(f"backtest.order_latency_ms={self.order_latency_ms} must be >= 0")
        if self.feed_latency_ms < -1:
            raise ValueError(
                f"backtest.feed_latency_ms={self.feed_latency_ms} must be >= 0, or -1 for 'from the data'"
            )
