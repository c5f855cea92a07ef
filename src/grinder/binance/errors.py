"""The one outcome taxonomy for Binance USDⓈ-M responses: retryable, non-retryable, unknown outcome.

Every HTTP outcome that is not a success becomes a `BinanceAPIError` whose `kind` says what the
caller may do next. UNKNOWN_OUTCOME (timeouts, 503 "Unknown error…", -1007/-1006, -1000 on writes)
is never retried blindly: the order may exist, so the caller resolves it by querying the same
client order id. Messages never contain request parameters, so no key, secret or signature leaks.
"""

from __future__ import annotations

from enum import StrEnum

from grinder.core.errors import MSG_503_UNAVAILABLE, MSG_503_UNKNOWN, MSG_INTERNAL_RETRY, ErrorCode


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"  # definitely not executed; retry after backoff with the same client id
    NON_RETRYABLE = "non_retryable"  # rejected; fix the request (or the account), do not resend
    UNKNOWN_OUTCOME = "unknown_outcome"  # may have executed; resolve by query, never blind retry


# Codes that mean "not executed, try again later" (after the backoff the governor enforces).
RETRYABLE_CODES: frozenset[int] = frozenset(
    {
        ErrorCode.DISCONNECTED,  # internal error, please try again
        ErrorCode.TOO_MANY_REQUESTS,  # weight; the governor holds requests until the window/ban ends
        ErrorCode.SERVER_BUSY,  # request throttled by system-level protection
        ErrorCode.TOO_MANY_ORDERS,
        ErrorCode.INVALID_TIMESTAMP,  # the client re-syncs its clock offset, then resends
    }
)
# Codes after which the exchange may or may not have executed the request.
UNKNOWN_OUTCOME_CODES: frozenset[int] = frozenset({ErrorCode.UNEXPECTED_RESPONSE, ErrorCode.TIMEOUT})
# -1000 (UNKNOWN) is unknown-outcome for writes only; on a read it is retryable.
UNKNOWN_ON_WRITE_CODES: frozenset[int] = frozenset({ErrorCode.UNKNOWN})


def classify(http_status: int, code: int | None, msg: str, *, is_write: bool) -> ErrorKind:
    """Classify one failed response. `http_status` 0 means no HTTP response (transport failure).

    Reads are idempotent, so anything whose outcome would be unknown for a write is retryable on a
    read. The order of checks matters: a specific code wins over the HTTP status.
    """
    unknown = ErrorKind.UNKNOWN_OUTCOME if is_write else ErrorKind.RETRYABLE
    if code is not None:
        if code in RETRYABLE_CODES:
            return ErrorKind.RETRYABLE
        if code in UNKNOWN_OUTCOME_CODES:
            return unknown
        if code in UNKNOWN_ON_WRITE_CODES:
            return unknown
        if http_status in (429, 418):
            return ErrorKind.RETRYABLE
        if http_status >= 500 and msg.strip() == MSG_503_UNKNOWN:
            return unknown
        if http_status >= 500:
            # A 5xx with a definite business code (e.g. -1001) is handled above; other 5xx codes
            # give no proof the request was not executed.
            return unknown
        return ErrorKind.NON_RETRYABLE
    # No code in the body (or no body at all).
    text = msg.strip()
    if http_status in (429, 418):
        return ErrorKind.RETRYABLE
    if text in (MSG_503_UNAVAILABLE, MSG_INTERNAL_RETRY):
        return ErrorKind.RETRYABLE
    if http_status == 0 or http_status == 408 or http_status >= 500:
        return unknown
    return ErrorKind.NON_RETRYABLE


class BinanceAPIError(Exception):
    """A request that did not succeed. `code` is None when the body carried none (or no body)."""

    def __init__(
        self,
        http_status: int,
        code: int | None,
        msg: str,
        *,
        kind: ErrorKind | None = None,
        is_write: bool = False,
        endpoint: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.kind = kind if kind is not None else classify(http_status, code, msg, is_write=is_write)
        self.endpoint = endpoint
        self.retry_after_s = retry_after_s
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.endpoint} " if self.endpoint else ""
        status = f"HTTP {self.http_status}" if self.http_status else "no HTTP response"
        return f"Binance {where}failed: {status} code={self.code} msg={self.msg!r} kind={self.kind.value}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r})"


class BinanceUnknownOutcome(BinanceAPIError):
    """The write may have executed (timeout, 503 unknown, -1007, ...): query by client order id."""

    def __init__(
        self,
        http_status: int,
        code: int | None,
        msg: str,
        *,
        endpoint: str = "",
        is_write: bool = True,
        kind: ErrorKind | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(
            http_status,
            code,
            msg,
            kind=ErrorKind.UNKNOWN_OUTCOME,
            is_write=is_write,
            endpoint=endpoint,
            retry_after_s=retry_after_s,
        )


def make_api_error(
    http_status: int,
    code: int | None,
    msg: str,
    *,
    is_write: bool,
    endpoint: str = "",
    retry_after_s: float | None = None,
) -> BinanceAPIError:
    """Build the right exception class for one failed response (the single construction point)."""
    kind = classify(http_status, code, msg, is_write=is_write)
    if kind is ErrorKind.UNKNOWN_OUTCOME:
        return BinanceUnknownOutcome(
            http_status, code, msg, endpoint=endpoint, is_write=is_write, retry_after_s=retry_after_s
        )
    return BinanceAPIError(
        http_status, code, msg, kind=kind, is_write=is_write, endpoint=endpoint, retry_after_s=retry_after_s
    )


class RateLimitRefused(Exception):
    """Refused locally by the rate-limit governor: sending now would breach a limit or a ban."""

    def __init__(self, endpoint: str, pool: str, wait_s: float, deadline_s: float, reason: str) -> None:
        self.endpoint = endpoint
        self.pool = pool
        self.wait_s = wait_s
        self.deadline_s = deadline_s
        self.reason = reason
        super().__init__(
            f"Cannot send {endpoint}: {reason} (pool={pool}); it would have to wait {wait_s:.3f}s, "
            f"longer than its deadline of {deadline_s:.3f}s. Retry later or reduce request rate."
        )


class WriteFenced(Exception):
    """Refused locally, immediately before sending: this instance may not write now (HA fence).

    Nothing was sent. `reason` is the fence's answer (lease deadline passed, token superseded, ...).
    """

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"Cannot send {endpoint}: {reason}; nothing was sent (only the HA leader writes)")


class MalformedMessage(ValueError):
    """A wire payload that does not match the Binance schema; the message says what was wrong."""


class BodyTooLarge(MalformedMessage):
    """A REST body or WebSocket frame above its size cap: refused before decoding (ADR-113)."""

    def __init__(self, what: str, size: int, cap: int) -> None:
        self.what = what
        self.size = size
        self.cap = cap
        super().__init__(
            f"{what}: {size} bytes exceeds the cap of {cap} bytes; the message was dropped. "
            "Raise [binance] max_body_bytes / max_frame_bytes only if the exchange really sends this much"
        )


class BookNotSynced(RuntimeError):
    """The local order book is out of sync with the exchange and must not be read."""
