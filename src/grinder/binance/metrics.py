"""Prometheus metrics of the Binance wire client (module-level singletons, ADR-003).

The first four names are the Runbook 17 contract; a test pins them. `init_series` creates every
labelled series this process can produce at 0, so the first scrape already shows them (issue 19).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

WS_CONNECTED = Gauge(
    "grinder_ws_connected", "1 while the WebSocket connection of a stream group is open", ["stream"]
)
WS_RECONNECT_TOTAL = Counter(
    "grinder_ws_reconnect_total", "WebSocket reconnects, by stream group and reason", ["stream", "reason"]
)
TICKS_RECEIVED_TOTAL = Counter(
    "grinder_ticks_received_total", "Market-data events received (bookTicker, depth, trade, mark)", ["symbol"]
)
LAST_TICK_TS = Gauge(
    "grinder_last_tick_ts", "Local receive time of the last market event, unix seconds", ["symbol"]
)

REST_LATENCY = Histogram(
    "grinder_binance_rest_latency_seconds",
    "REST round-trip time by endpoint",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REST_ERRORS_TOTAL = Counter(
    "grinder_binance_rest_errors_total",
    "Failed REST requests by endpoint and error kind",
    ["endpoint", "kind"],
)
RATE_LIMIT_USED = Gauge(
    "grinder_binance_rate_limit_used", "Used units of a rate-limit pool in its current window", ["pool"]
)
RATE_LIMIT_LIMIT = Gauge("grinder_binance_rate_limit_limit", "Limit of a rate-limit pool", ["pool"])
RATE_LIMIT_WAIT_SECONDS = Counter(
    "grinder_binance_rate_limit_wait_seconds_total", "Seconds requests waited in the governor", ["pool"]
)
RATE_LIMIT_REFUSED_TOTAL = Counter(
    "grinder_binance_rate_limit_refused_total", "Requests refused locally by the governor", ["pool"]
)
RATE_LIMIT_HITS_TOTAL = Counter(
    "grinder_binance_rate_limit_hits_total", "429/418 responses received", ["status"]
)
CLOCK_OFFSET_SECONDS = Gauge(
    "grinder_binance_clock_offset_seconds", "Estimated server time minus local time, seconds"
)
BOOK_RESYNCS_TOTAL = Counter(
    "grinder_book_resyncs_total",
    "Local order-book resynchronisations, by symbol and reason",
    ["symbol", "reason"],
)
BOOK_SYNCED = Gauge("grinder_book_synced", "1 while the local order book of a symbol is in sync", ["symbol"])
MALFORMED_MESSAGES_TOTAL = Counter(
    "grinder_ws_malformed_messages_total",
    "Stream messages that failed to decode and were skipped",
    ["stream"],
)
EVENTS_DROPPED_TOTAL = Counter(
    "grinder_stream_events_dropped_total",
    "Market-data events dropped because the consumer's queue was full, by stream",
    ["stream"],
)
EVENT_BACKLOG = Gauge(
    "grinder_stream_event_backlog",
    "User-data events held in order because the consumer's queue was full, by stream",
    ["stream"],
)
USER_STREAM_RECOVERED_FILLS_TOTAL = Counter(
    "grinder_user_stream_recovered_fills_total", "Fills fetched over REST after a user-stream gap"
)
USER_STREAM_DUPLICATES_TOTAL = Counter(
    "grinder_user_stream_duplicates_total", "User-data events dropped as duplicates"
)
LISTEN_KEY_RENEWALS_TOTAL = Counter(
    "grinder_listen_key_renewals_total", "listenKey keepalives and re-creations", ["action"]
)

# Every reason `WsConnection.run` can count a reconnect under (bounded label set).
RECONNECT_REASONS = (
    "connect_failed", "closed", "error", "stale", "max_age", "resubscribe", "listen_key_expired",
    "listen_key_invalid",
)
BOOK_RESYNC_REASONS = ("gap", "snapshot_too_old")
RATE_LIMIT_STATUSES = ("418", "429")
LISTEN_KEY_ACTIONS = ("create", "keepalive")


def init_series(symbols: Iterable[str], streams: Iterable[str], pools: Iterable[str]) -> None:
    """Create every known labelled series at 0 (counters) or its idle value (gauges)."""
    for stream in streams:
        WS_CONNECTED.labels(stream).set(0)
        MALFORMED_MESSAGES_TOTAL.labels(stream)
        for reason in RECONNECT_REASONS:
            WS_RECONNECT_TOTAL.labels(stream, reason)
    for symbol in symbols:
        TICKS_RECEIVED_TOTAL.labels(symbol)
        LAST_TICK_TS.labels(symbol)  # 0 = no market event yet
        BOOK_SYNCED.labels(symbol)
        for reason in BOOK_RESYNC_REASONS:
            BOOK_RESYNCS_TOTAL.labels(symbol, reason)
    for pool in pools:
        RATE_LIMIT_USED.labels(pool)
        RATE_LIMIT_WAIT_SECONDS.labels(pool)
        RATE_LIMIT_REFUSED_TOTAL.labels(pool)
    for status in RATE_LIMIT_STATUSES:
        RATE_LIMIT_HITS_TOTAL.labels(status)
    for action in LISTEN_KEY_ACTIONS:
        LISTEN_KEY_RENEWALS_TOTAL.labels(action)
WRITES_FENCED_TOTAL = Counter(
    "grinder_writes_fenced_total",
    "Order writes refused immediately before sending: this instance was not the HA leader (ADR-110)",
    ["endpoint"],
)
BODIES_TOO_LARGE_TOTAL = Counter(
    "grinder_binance_oversize_total",
    "REST bodies / WebSocket frames dropped for exceeding their size cap (ADR-113)",
    ["what"],
)
