"""HMAC-SHA256 request signing (protocol sheet §2.2) and a credentials holder that never prints.

The signature covers the exact URL-encoded query string that is sent; GRINDER sends every
parameter of a signed request in the query string (as the official SDK does), so the payload is
that string alone and `signature` is appended last.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from urllib.parse import urlencode


class Credentials:
    """API key and secret. repr/str show neither; only `key_hint` (last 4 characters of the key)."""

    __slots__ = ("_api_key", "_secret")

    def __init__(self, api_key: str, api_secret: str) -> None:
        if not api_key or not api_secret:
            raise ValueError("Binance credentials need both an API key and an API secret")
        self._api_key = api_key
        self._secret = api_secret.encode()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials | None:
        """BINANCE_API_KEY / BINANCE_API_SECRET from the environment; None when either is unset."""
        env = os.environ if environ is None else environ
        key, secret = env.get("BINANCE_API_KEY", ""), env.get("BINANCE_API_SECRET", "")
        if not key or not secret:
            return None
        return cls(key, secret)

    @property
    def api_key(self) -> str:
        return self._api_key

    @property
    def key_hint(self) -> str:
        return f"...{self._api_key[-4:]}" if len(self._api_key) > 8 else "..."

    def sign(self, payload: str) -> str:
        return sign_payload(self._secret, payload)

    def __repr__(self) -> str:
        return f"Credentials(key={self.key_hint}, secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Credentials are not picklable (they hold a secret)")


def sign_payload(secret: bytes | str, payload: str) -> str:
    """hex(HMAC-SHA256(secret, payload)) — the Binance signature."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def wire_value(value: object) -> str:
    """A parameter as Binance expects it: booleans lower-case, Decimals plain, enums by value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def encode_params(params: Iterable[tuple[str, object]]) -> str:
    """URL-encode (name, value) pairs in the given order, skipping None values."""
    return urlencode([(k, wire_value(v)) for k, v in params if v is not None])


def signed_query(
    credentials: Credentials, params: Mapping[str, object] | None, *, timestamp_ms: int, recv_window_ms: int
) -> str:
    """The full signed query string: params, recvWindow, timestamp, then signature (last)."""
    items: list[tuple[str, object]] = list((params or {}).items())
    items.append(("recvWindow", recv_window_ms))
    items.append(("timestamp", timestamp_ms))
    query = encode_params(items)
    return f"{query}&signature={credentials.sign(query)}"
