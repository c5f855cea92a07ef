"""Signing (protocol sheet §2.2 test vector), credential hygiene, and the error taxonomy."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from grinder.binance.auth import Credentials, encode_params, sign_payload, signed_query, wire_value
from grinder.binance.errors import (
    MSG_503_UNAVAILABLE,
    MSG_503_UNKNOWN,
    BinanceAPIError,
    BinanceUnknownOutcome,
    ErrorKind,
    classify,
    make_api_error,
)
from grinder.core.enums import Side

SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def test_signature_matches_protocol_sheet_vector() -> None:
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    assert sign_payload(SECRET, payload) == "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_signed_query_appends_window_timestamp_and_signature_last() -> None:
    creds = Credentials(KEY, SECRET)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "9000",
              "timeInForce": "GTC"}
    q = signed_query(creds, params, timestamp_ms=1591702613943, recv_window_ms=5000)
    assert q.endswith("&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9")
    assert q.startswith("symbol=BTCUSDT&side=BUY")


def test_wire_values() -> None:
    assert wire_value(True) == "true"
    assert wire_value(Side.SELL) == "SELL"
    assert wire_value(Decimal("1E+3")) == "1000"
    assert encode_params([("a", None), ("b", "x y"), ("c", 1)]) == "b=x+y&c=1"


def test_credentials_never_print_the_secret_or_key() -> None:
    creds = Credentials(KEY, SECRET)
    for text in (repr(creds), str(creds), f"{creds}"):
        assert SECRET not in text
        assert KEY not in text
    assert creds.key_hint.endswith(KEY[-4:])
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_credentials_from_env() -> None:
    assert Credentials.from_env({}) is None
    assert Credentials.from_env({"BINANCE_API_KEY": "k"}) is None
    c = Credentials.from_env({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET})
    assert c is not None and c.api_key == KEY


R, N, U = ErrorKind.RETRYABLE, ErrorKind.NON_RETRYABLE, ErrorKind.UNKNOWN_OUTCOME


@pytest.mark.parametrize(
    ("status", "code", "msg", "is_write", "kind"),
    [
        (429, -1003, "Too many requests", True, R),
        (418, -1003, "Way too many requests; IP banned", False, R),
        (503, -1001, "Internal error; unable to process your request. Please try again.", True, R),
        (503, None, MSG_503_UNAVAILABLE, True, R),
        (503, -1008, "Request throttled by system-level protection.", True, R),
        (429, -1015, "Too many new orders", True, R),
        (400, -1021, "Timestamp for this request is outside of the recvWindow.", True, R),
        (401, -2015, "Invalid API-key, IP, or permissions for action.", True, N),
        (400, -4164, "Order's notional must be no smaller than 100", True, N),
        (400, -1111, "Precision is over the maximum defined for this asset.", True, N),
        (400, -2019, "Margin is insufficient.", True, N),
        (400, -1022, "Signature for this request is not valid.", False, N),
        (400, -2011, "Unknown order sent.", True, N),
        (400, -1125, "This listenKey does not exist.", False, N),
        (408, -1007, "Timeout waiting for response from backend server.", True, U),
        (400, -1006, "Unexpected response", True, U),
        (500, -1000, "An unknown error occured while processing the request.", True, U),
        (500, -1000, "An unknown error occured while processing the request.", False, R),
        (503, None, MSG_503_UNKNOWN, True, U),
        (503, -1000, MSG_503_UNKNOWN, True, U),
        (503, None, "", True, U),  # 503 body without code
        (502, None, "Bad gateway", True, U),
        (502, None, "Bad gateway", False, R),
        (0, None, "no response within 10s", True, U),
        (0, None, "no response within 10s", False, R),
    ],
)
def test_classify(status: int, code: int | None, msg: str, is_write: bool, kind: ErrorKind) -> None:
    assert classify(status, code, msg, is_write=is_write) is kind


def test_unknown_outcome_is_its_own_class() -> None:
    err = make_api_error(503, None, MSG_503_UNKNOWN, is_write=True, endpoint="POST /fapi/v1/order")
    assert isinstance(err, BinanceUnknownOutcome)
    assert err.kind is ErrorKind.UNKNOWN_OUTCOME
    assert err.code is None and err.http_status == 503
    assert "POST /fapi/v1/order" in str(err)
    ok = make_api_error(400, -4164, "min notional", is_write=True)
    assert type(ok) is BinanceAPIError and ok.kind is ErrorKind.NON_RETRYABLE
