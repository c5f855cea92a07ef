"""`SimConfig`: every knob of `grinder sim` as one frozen dataclass with safe defaults (TOML [sim])."""

from __future__ import annotations

from dataclasses import dataclass

from grinder.binance.constants import DEFAULT_ORDERS_1M, DEFAULT_ORDERS_10S, DEFAULT_REQUEST_WEIGHT_1M


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Simulator settings. Defaults mirror Binance USDⓈ-M (protocol sheet §2.3, §4.6, §5.5, §7)."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = ephemeral
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    data_path: str | None = None  # replay file; None = synthetic market
    rules_path: str | None = None  # a saved exchangeInfo JSON for the symbols' rules; None = built-in
    seed: int = 1
    speed: float = 1.0  # market playback speed: 1 = real time, N = N×, 0 = as fast as possible
    step_ms: int = 100  # synthetic market: one book update batch per step
    manual_market: bool = False  # True: the market only moves when `SimServer.step_market()` is called
    api_key: str = "grinder-sim-key"
    api_secret: str = "grinder-sim-secret"  # noqa: S105 - the simulator's published test credential
    initial_balance_usdt: str = "10000"
    # Signed-request checks.
    recv_window_default_ms: int = 5000
    recv_window_max_ms: int = 60000
    future_tolerance_ms: int = 1000
    # Rate limits (exchangeInfo.rateLimits) and ban escalation.
    weight_limit_1m: int = DEFAULT_REQUEST_WEIGHT_1M
    orders_limit_10s: int = DEFAULT_ORDERS_10S
    orders_limit_1m: int = DEFAULT_ORDERS_1M
    ban_after_rejections: int = 10  # 429s answered inside one minute before an IP gets 418
    ban_initial_ms: int = 120_000  # 2 min, doubling per repeat, capped at 3 days
    # User-data stream and connection lifetime.
    listen_key_ttl_ms: int = 3_600_000
    max_connection_lifetime_ms: int = 86_400_000
    ws_max_queue: int = 50_000  # messages buffered per slow WS client before it is disconnected
    routed_paths_strict: bool = True  # /public, /market deliver only their own stream classes
    legacy_paths_public_only: bool = False  # True: post-2026-04-23 behaviour of /ws and /stream

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"sim.port={self.port} is not a TCP port (0..65535; 0 = pick a free one)")
        if not self.symbols:
            raise ValueError('sim.symbols is empty: name at least one symbol, e.g. ["BTCUSDT"]')
        if self.speed < 0:
            raise ValueError(f"sim.speed={self.speed} must be >= 0 (1 = real time, 0 = as fast as possible)")
        if self.step_ms <= 0:
            raise ValueError(f"sim.step_ms={self.step_ms} must be > 0")
        if not self.api_key or not self.api_secret:
            raise ValueError("sim.api_key and sim.api_secret must not be empty")
        for name in (
            "weight_limit_1m",
            "orders_limit_10s",
            "orders_limit_1m",
            "ban_after_rejections",
            "listen_key_ttl_ms",
            "max_connection_lifetime_ms",
            "ws_max_queue",
            "recv_window_max_ms",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"sim.{name}={getattr(self, name)} must be > 0")
