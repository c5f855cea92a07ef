"""Request authentication as Binance does it: API key header, HMAC-SHA256 over query ‖ body, recvWindow.

The signed message is the query string exactly as sent, directly followed by the form body, with
the `signature` parameter removed from whichever part carried it (protocol sheet §2.2).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl

from grinder.core.errors import ErrorCode
from grinder.sim.errors import (
    MSG_BAD_KEY_FORMAT,
    MSG_BAD_RECV_WINDOW,
    MSG_BAD_SIGNATURE,
    MSG_REJECTED_KEY,
    MSG_TS_AHEAD,
    MSG_TS_OUTSIDE,
    ApiError,
    illegal_chars,
)
from grinder.venue.errors import mandatory

_SHA256_BLOCK = 64
_TRANS_36 = bytes(x ^ 0x36 for x in range(256))
_TRANS_5C = bytes(x ^ 0x5C for x in range(256))


def _parse(part: str) -> dict[str, str]:
    if "%" in part or "+" in part:
        return dict(parse_qsl(part, keep_blank_values=True))
    out: dict[str, str] = {}
    for piece in part.split("&"):  # the common case: nothing to unquote
        if piece:
            name, _, value = piece.partition("=")
            out[name] = value
    return out


def merge_params(query: str, body: str) -> dict[str, str]:
    """Parameters from query and form body; on a duplicate name the query value wins."""
    params = _parse(body) if body else {}
    if query:
        params.update(_parse(query))
    return params


def _strip_signature(part: str) -> tuple[str, str | None]:
    """Remove the first `signature=` pair from a raw parameter string; returns (rest, signature).

    String searches rather than split/join: this runs on every signed request."""
    if part.startswith("signature="):
        start = 0
    else:
        start = part.find("&signature=") + 1
        if not start:
            return part, None
    end = part.find("&", start)
    if end < 0:
        sig = part[start + 10 :]
        rest = part[: max(start - 1, 0)]
    else:
        sig = part[start + 10 : end]
        rest = part[:start] + part[end + 1 :] if start else part[end + 1 :]
    return rest, sig


def signed_payload(query: str, body: str) -> tuple[str, str | None]:
    """(message that was signed, signature) for a raw query string and body."""
    q, sig_q = _strip_signature(query)
    b, sig_b = _strip_signature(body)
    return q + b, sig_q if sig_q is not None else sig_b


@functools.lru_cache(maxsize=8)
def _hmac_pads(secret: str) -> tuple[Any, Any]:
    """SHA-256 states after the HMAC inner/outer key blocks (RFC 2104), computed once per secret."""
    key = secret.encode()
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    return (
        hashlib.sha256(key.translate(_TRANS_36)),
        hashlib.sha256(key.translate(_TRANS_5C)),
    )


def sign(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of `message` (equal to `hmac.new(secret, message, sha256).hexdigest()`);
    the keyed states are copied rather than rebuilt, which matters on every signed request."""
    inner, outer = _hmac_pads(secret)
    h = inner.copy()
    h.update(message.encode())
    o = outer.copy()
    o.update(h.digest())
    return str(o.hexdigest())


def check_api_key(header_value: str | None, expected: str, ip: str) -> None:
    """-2014 for a missing/garbled key, -2015 (HTTP 401) for a key we do not know."""
    if not header_value or not header_value.isprintable() or " " in header_value:
        raise ApiError(ErrorCode.BAD_API_KEY_FORMAT, MSG_BAD_KEY_FORMAT, 401)
    if not hmac.compare_digest(header_value, expected):
        raise ApiError(ErrorCode.REJECTED_API_KEY, MSG_REJECTED_KEY.format(ip=ip), 401)


def check_signature(secret: str, query: str, body: str) -> None:
    message, signature = signed_payload(query, body)
    if not signature:
        raise mandatory("signature")
    if not hmac.compare_digest(sign(secret, message), signature.lower()):
        raise ApiError(ErrorCode.INVALID_SIGNATURE, MSG_BAD_SIGNATURE)


def check_timestamp(
    params: dict[str, str], server_ms: int, *, default_window_ms: int, max_window_ms: int, ahead_ms: int
) -> None:
    """Accept iff timestamp < server + ahead_ms and server − timestamp ≤ recvWindow (§2.3)."""
    raw_ts = params.get("timestamp", "")
    if not raw_ts:
        raise mandatory("timestamp")
    if not raw_ts.isdigit() or len(raw_ts) > 20:
        raise illegal_chars("timestamp")
    window = default_window_ms
    raw_window = params.get("recvWindow")
    if raw_window is not None:
        if not raw_window.isdigit() or len(raw_window) > 20:
            raise illegal_chars("recvWindow")
        window = int(raw_window)
        if window > max_window_ms:
            raise ApiError(ErrorCode.BAD_RECV_WINDOW, MSG_BAD_RECV_WINDOW.format(limit=max_window_ms))
    ts = int(raw_ts)
    if ts >= server_ms + ahead_ms:
        raise ApiError(ErrorCode.INVALID_TIMESTAMP, MSG_TS_AHEAD)
    if server_ms - ts > window:
        raise ApiError(ErrorCode.INVALID_TIMESTAMP, MSG_TS_OUTSIDE)
