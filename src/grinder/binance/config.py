"""`[binance]` config section: where the wire client connects and how it paces itself.

Secrets are not here: BINANCE_API_KEY / BINANCE_API_SECRET come only from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from grinder.binance.constants import (
    LISTEN_KEY_KEEPALIVE_S,
    MAINNET_REST_URL,
    MAINNET_WS_URL,
    MAX_CONNECTION_AGE_S,
)

ORDER_TRANSPORTS = ("ws", "rest")


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    rest_url: str = MAINNET_REST_URL  # e.g. the simulator's http://127.0.0.1:PORT
    ws_url: str = MAINNET_WS_URL  # routed paths /public, /market, /private are appended
    recv_window_ms: int = 5000
    timeout_s: float = 10.0
    max_retries: int = 2  # RETRYABLE failures only (never an unknown outcome)
    retry_backoff_s: float = 0.2
    time_resync_interval_s: float = 1800.0
    rate_limit_headroom: float = 0.9  # share of each Binance limit the governor lets us use
    rate_limit_deadline_s: float = 10.0  # longest a request may wait in the governor
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    reconnect_jitter: float = 0.25  # ± share of each backoff, drawn from a seeded RNG
    max_connection_age_s: float = float(MAX_CONNECTION_AGE_S)  # proactive reconnect before 24 h
    stale_after_s: float = 5.0  # market streams: no frame for this long → reconnect
    # Client ping when nothing was received for this long; no pong within half of it → the
    # connection is dead (detects a silent user stream in ≤ 1.5 × heartbeat_s: it has no data timeout,
    # being quiet by nature).
    heartbeat_s: float = 2.0
    max_frame_bytes: int = 1 << 20  # a WebSocket frame above this is refused (connection reopened)
    max_body_bytes: int = 16 << 20  # a REST body above this is refused (read stops at the cap)
    tick_log_interval_s: float = 60.0  # INFO "Received tick" at most once per symbol per interval
    depth_speed: str = "100ms"  # depth diff stream suffix: "", "100ms", "500ms" or "0ms"
    depth_snapshot_limit: int = 1000
    listen_key_keepalive_s: float = float(LISTEN_KEY_KEEPALIVE_S)
    user_stream_path: str = "/private/ws/{listen_key}"
    seed: int = 0  # reconnect jitter RNG seed
    # How order writes (and their status queries) travel: "ws" = the WebSocket API session, with
    # REST while it is down; "rest" = REST only (ADR-230).
    order_transport: str = "ws"
    # The WebSocket API endpoint; "" = derived from ws_url (Binance's ws-fapi host for mainnet and
    # the testnet, `<ws_url>/ws-fapi/v1` for the simulator).
    ws_api_url: str = ""

    def __post_init__(self) -> None:
        if self.depth_speed not in ("", "100ms", "250ms", "500ms", "0ms"):
            raise ValueError(
                f"binance.depth_speed must be '', '100ms', '500ms' or '0ms' (got {self.depth_speed!r})"
            )
        if not 0 < self.recv_window_ms <= 60_000:
            raise ValueError(f"binance.recv_window_ms must be in 1..60000 (got {self.recv_window_ms})")
        if not 0 < self.rate_limit_headroom <= 1:
            raise ValueError(
                f"binance.rate_limit_headroom must be in (0, 1] (got {self.rate_limit_headroom})"
            )
        if self.reconnect_initial_s <= 0 or self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("binance.reconnect_initial_s must be > 0 and ≤ reconnect_max_s")
        if self.stale_after_s <= 0:
            raise ValueError(f"binance.stale_after_s must be > 0 (got {self.stale_after_s})")
        if self.heartbeat_s <= 0:
            raise ValueError(f"binance.heartbeat_s must be > 0 (got {self.heartbeat_s})")
        if self.max_frame_bytes < 4096 or self.max_body_bytes < 4096:
            raise ValueError("binance.max_frame_bytes and binance.max_body_bytes must be >= 4096")
        if self.order_transport not in ORDER_TRANSPORTS:
            raise ValueError(
                f"binance.order_transport must be one of {', '.join(ORDER_TRANSPORTS)} "
                f"(got {self.order_transport!r})"
            )
        if self.ws_api_url and not self.ws_api_url.startswith(("ws://", "wss://")):
            raise ValueError(f"binance.ws_api_url must start with ws:// or wss:// (got {self.ws_api_url!r})")
        if "{listen_key}" not in self.user_stream_path:
            raise ValueError("binance.user_stream_path must contain '{listen_key}'")
