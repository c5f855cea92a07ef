"""Helpers for the ops tests: the first successful scrape of an engine, sample parsing, promtool."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

# Runbook 17's post-check counters: labelled, so they exist only if the engine creates them up front.
POST_CHECK_COUNTERS = ("grinder_ws_reconnect_total", "grinder_orders_cancelled_total",
                       "grinder_connector_errors_total")


async def first_scrape(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> str:
    """GET `url` until it answers 200 and return that first body (the server was not up before)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url, headers=headers) as resp:
                    if resp.status == 200:
                        return await resp.text()
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Family name (as exposed, counters with `_total`) → its samples."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def promtool() -> str | None:
    return shutil.which("promtool")


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    tool = promtool()
    assert tool is not None
    return subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
