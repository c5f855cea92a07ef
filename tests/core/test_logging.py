"""Log format and secret redaction, including exception tracebacks."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from grinder.ops.logging import redact, register_secret, setup_logging

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@pytest.fixture
def log_stream(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    stream = io.StringIO()
    setup_logging("INFO", "human", stream=stream)
    return stream


def test_human_format_matches_runbook(log_stream: io.StringIO) -> None:
    logging.getLogger("grinder.connector").info("LiveConnectorV0 connected mode=%s armed=%s", "LIVE_TRADE", True)
    line = log_stream.getvalue().strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO LiveConnectorV0 connected mode=LIVE_TRADE armed=True", line)


def test_secrets_never_reach_a_log_line(log_stream: io.StringIO) -> None:
    log = logging.getLogger("grinder.test")
    log.info("key=%s secret=%s", KEY, SECRET)
    log.info("GET /fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=%s", "ab" * 32)
    log.info("headers {'X-MBX-APIKEY': '%s'}", "someotherkeyvalue123")
    try:
        raise RuntimeError(f"request failed with secret {SECRET} and key {KEY}")
    except RuntimeError:
        log.exception("boom")
    out = log_stream.getvalue()
    assert KEY not in out and SECRET not in out
    assert "ab" * 32 not in out and "someotherkeyvalue123" not in out
    assert "Traceback" in out and "***" in out


def test_json_format_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    stream = io.StringIO()
    setup_logging("INFO", "json", stream=stream)
    try:
        raise ValueError(SECRET)
    except ValueError:
        logging.getLogger("grinder.x").exception("failed order=%s", 1)
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["level"] == "ERROR" and record["msg"] == "failed order=1"
    assert SECRET not in stream.getvalue()


def test_registered_secrets_and_free_text() -> None:
    register_secret("cli-passed-secret-xyz")
    assert redact("using cli-passed-secret-xyz now") == "using *** now"
    assert redact('{"apiKey": "abcdefgh1234"}') == '{"apiKey": "***"}'


def test_bad_format_is_refused() -> None:
    with pytest.raises(ValueError, match="use 'human' or 'json'"):
        setup_logging("INFO", "xml")


def test_setup_is_idempotent(log_stream: io.StringIO) -> None:
    setup_logging("INFO", "human", stream=log_stream)
    logging.getLogger("grinder.once").info("one line")
    assert log_stream.getvalue().count("one line") == 1
