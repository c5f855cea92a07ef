"""Logging set-up: one function, a human or JSON format, and secret redaction on every record.

Human lines read like Runbook 17's "Expected Logs":
    2026-02-08 12:00:00 INFO LiveConnectorV0 connected mode=LIVE_TRADE armed=True
Redaction runs on the fully formatted text (message, arguments, exception tracebacks and stack
info alike), so a secret cannot leak through any part of a record.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

SECRET_ENV_VARS = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "GRINDER_CONTROL_TOKEN", "GRINDER_READ_TOKEN")
REDACTED = "***"
_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words

# signature=<hex>, X-MBX-APIKEY: <key>, listenKey values, apiKey/secret in query strings or dicts.
_PATTERNS = (
    re.compile(r"(signature=)[0-9A-Fa-f]{16,}"),
    re.compile(r"(?i)(X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"(?i)((?:api[_-]?key|api[_-]?secret|secret)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]{4,}"),
)

_lock = threading.Lock()
_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact this exact value from every log line from now on (e.g. a key passed by argument)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _extra_secrets.add(value)


def _secrets() -> list[str]:
    found = {v for name in SECRET_ENV_VARS if (v := os.environ.get(name)) and len(v) >= _MIN_SECRET_LEN}
    with _lock:
        found |= _extra_secrets
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """Remove API keys, secrets, tokens and request signatures from free text."""
    return _redact(_secrets(), text)


def redactor() -> Callable[[str], str]:
    """`redact` with the secrets read once, for many values in a row (the journal's hot path)."""
    return functools.partial(_redact, _secrets())


def _redact(secrets: list[str], text: str) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    """`YYYY-MM-DD HH:MM:SS LEVEL message`, UTC, redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or "%Y-%m-%d %H:%M:%S", time.gmtime(record.created))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg (+ exc), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        payload: dict[str, object] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(payload, ensure_ascii=False))


class RepeatSummary(logging.Filter):
    """Let the first `limit` warnings of each kind through, count the rest for one summary line.

    A kind is the logger, the message template and the first word of its first argument (e.g.
    `write_failed op=%s` with op=replace_order, `reconcile_mismatch %s` with ORDER_MISSING_ON_EXCHANGE),
    so distinct problems still show, each at most `limit` times.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.seen: dict[tuple[str, str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        # First word of the first argument only: "%s" messages often carry ids after it.
        key = (record.name, str(record.msg), str(args[0]).split(" ", 1)[0][:64] if args else "")
        count = self.seen[key] = self.seen.get(key, 0) + 1
        return count <= self.limit

    def summary(self) -> list[str]:
        """One entry per kind that was cut short: `<count>x <template with its first argument>`."""
        out = []
        for (_, msg, first), count in sorted(self.seen.items(), key=lambda kv: -kv[1]):
            if count > self.limit:
                head = msg.split("%", 1)[0] + (first if "%" in msg else "")
                out.append(f"{count}x {head} ({count - self.limit} not shown)")
        return out


class _GrinderHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class so repeated set-up replaces our handler instead of stacking another."""


def repeat_summary() -> list[str]:
    """Warnings cut short by `setup_logging(..., repeat_limit=N)` (empty when nothing was)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _GrinderHandler):
            for f in handler.filters:
                if isinstance(f, RepeatSummary):
                    return f.summary()
    return []


def setup_logging(
    level: str | int = "INFO",
    fmt: str = "human",
    stream: TextIO | None = None,
    repeat_limit: int | None = None,
) -> None:
    """Configure the root logger once for an app (CLI, engine, simulator, demo).

    fmt is "human" or "json". Calling again replaces GRINDER's handler (idempotent).
    repeat_limit: show at most this many warnings of each kind; `repeat_summary()` lists the rest.
    """
    if fmt not in ("human", "json"):
        raise ValueError(f"log format {fmt!r} is not supported: use 'human' or 'json'")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _GrinderHandler):
            root.removeHandler(handler)
    handler = _GrinderHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else RedactingFormatter())
    if repeat_limit is not None:
        handler.addFilter(RepeatSummary(repeat_limit))
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # Third-party chatter stays at WARNING unless the operator asks for DEBUG.
    if root.level > logging.DEBUG:
        for noisy in ("aiohttp.access", "asyncio", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
