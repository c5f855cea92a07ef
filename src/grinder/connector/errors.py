"""Connector errors, and the Runbook 17 troubleshooting text for exchange codes an operator must act on.

`ConnectorNonRetryableError` is what a refused write raises on the runbook-style API (a gate block,
an exchange rejection, an invalid order): do not resend it unchanged. `ConnectorUnknownOutcomeError`
means the exchange may hold the order and resolution by query did not finish; the message names the
client order id to look up. No message ever contains request parameters, keys or signatures.
"""

from __future__ import annotations

from grinder.core.errors import ErrorCode


class ConnectorError(Exception):
    """Base of every error raised by grinder.connector."""


class ConnectorNonRetryableError(ConnectorError):
    """A write refused for good: by a gate (`gate` set), a limit, or the exchange (`code` set)."""

    def __init__(self, message: str, *, gate: str | None = None, code: int | None = None,
                 reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.gate = gate
        self.code = code
        self.reason = reason or (f"gate:{gate}" if gate else "rejected")


class ConnectorRetryableError(ConnectorError):
    """Definitely not executed (rate limit, transient outage); retry later with the same request."""


class ConnectorUnknownOutcomeError(ConnectorError):
    """The write may have executed and querying it did not settle the question; reconcile by id."""

    def __init__(self, message: str, *, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


_AUTH_CODES = frozenset({
    ErrorCode.REJECTED_API_KEY, ErrorCode.BAD_API_KEY_FORMAT, ErrorCode.INVALID_SIGNATURE,
    ErrorCode.INVALID_LISTEN_KEY,
})

# Exchange codes with operator guidance (Runbook 17 "Troubleshooting").
_AUTH_FIX = (
    "Fix: check the API key has Futures trading permission, is not expired/revoked, and that the "
    "IP allowlist includes this server (Runbook 17, Troubleshooting 4)."
)


def explain_exchange_error(op: str, code: int | None, msg: str, http_status: int = 0) -> str:
    """One operator-facing line for an exchange refusal: what was refused, the exchange text, the fix."""
    head = f"Cannot {op}: Binance rejected it with {code} {msg}" if code is not None else (
        f"Cannot {op}: Binance answered HTTP {http_status} {msg}"
    )
    if code == ErrorCode.MIN_NOTIONAL:
        return (
            f"{head}. Fix: increase quantity so that notional = price * quantity >= the symbol's minimum "
            "(Binance: 100 USDT for BTCUSDT) and stays within max_notional_per_order "
            "(Runbook 17, Troubleshooting 5; Runbook 10 notional calculation)."
        )
    if code in _AUTH_CODES or http_status == 401:
        return f"{head}. {_AUTH_FIX}"
    if code == ErrorCode.CANCEL_REJECTED:
        return f"{head}. The order is not open on the exchange (already filled, cancelled or never placed)."
    if code == ErrorCode.NO_SUCH_ORDER:
        return f"{head}. The exchange has no such order."
    if code in (ErrorCode.MARGIN_NOT_SUFFICIENT, ErrorCode.BALANCE_NOT_SUFFICIENT):
        return f"{head}. Fix: add margin or reduce order size / grid levels."
    if code == ErrorCode.GTX_ORDER_REJECT:
        return f"{head}. The post-only (GTX) price would have crossed the book; re-price it further away."
    return f"{head}."
