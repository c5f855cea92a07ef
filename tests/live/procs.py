"""Subprocess helpers for the engine tests: `grinder sim` and the engine as separate processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from grinder.binance.constants import Security
from grinder.binance.rest import BinanceRestClient

SIM_KEY = "grinder-sim-key"
SIM_SECRET = "grinder-sim-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRINDER_", "BINANCE_", "ALLOW_MAINNET"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class SimProcess:
    """`grinder sim --port 0` in its own process; it outlives any engine we kill."""

    def __init__(self, log_path: Path, *, speed: float = 5.0, seed: int = 7, extra: tuple[str, ...] = ()) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grinder.cli", "sim", "--port", "0", "--speed", str(speed), "--seed", str(seed),
             "--symbols", "BTCUSDT,ETHUSDT", *extra],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=child_env(),
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        self.rest_url = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"REST (http://\S+)\s+WS (ws://\S+)", line)
            if m:
                self.rest_url, self.ws_url = m.group(1), m.group(2)
                break
            if not line and self.proc.poll() is not None:
                break
        if not self.rest_url:
            self.stop()
            raise RuntimeError(f"grinder sim did not start; see {log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()

    def client(self) -> BinanceRestClient:
        return BinanceRestClient(self.rest_url, api_key=SIM_KEY, api_secret=SIM_SECRET)


def write_config(path: Path, sim: SimProcess, journal: Path, *, cancel_on_shutdown: bool = True) -> Path:
    path.write_text(
        f"""
[engine]
symbols = ["BTCUSDT", "ETHUSDT"]
cancel_on_shutdown = {str(cancel_on_shutdown).lower()}
stale_feed_s = 5.0
log_level = "INFO"

[connector]
mode = "LIVE_TRADE"
armed = true
symbols = ["BTCUSDT", "ETHUSDT"]
max_notional_per_order = "125"

[binance]
rest_url = "{sim.rest_url}"
ws_url = "{sim.ws_url}"

[grid]
levels = 3
spacing_bps = "3"
order_notional = "110"
max_position = "0.2"

[risk]
max_notional_per_order = "125"
max_position_notional = "1500"
max_total_position_notional = "3000"
daily_loss_limit = "500"

[store]
journal_path = "{journal}"
synchronous = "NORMAL"
""",
        encoding="utf-8",
    )
    return path


class EngineProcess:
    """`python -m grinder.live.run --config ... --ops-port N` with the simulator's keys in its environment."""

    def __init__(self, config: Path, log_path: Path, **env: str) -> None:
        self.ops_port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "a")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grinder.live.run", "--config", str(config), "--ops-port", str(self.ops_port)],
            stdout=self._log, stderr=subprocess.STDOUT,
            env=child_env(BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET, **env),
        )
        self.url = f"http://127.0.0.1:{self.ops_port}"

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            tail = "\n".join(self.log_text().splitlines()[-40:])
            raise AssertionError(f"the engine did not exit within {timeout}s; its log ends:\n{tail}") from None
        finally:
            self._log.close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as resp:
        return resp.status, await resp.json(content_type=None)


async def poll(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Await `cond()` (sync or async) until truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if asyncio.iscoroutine(last):
                last = await last
        except (aiohttp.ClientError, OSError):
            last = None
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def sim_trades(client: BinanceRestClient) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for sym in ("BTCUSDT", "ETHUSDT"):
        for t in await client.user_trades(sym, start_time_ms=0, limit=1000):
            out.add((sym, t.id))
    return out


async def sim_all_orders(client: BinanceRestClient) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for sym in ("BTCUSDT", "ETHUSDT"):
        rows.extend(await client.request("GET", "/fapi/v1/allOrders", {"symbol": sym, "limit": 1000},
                                         security=Security.SIGNED))
    return rows


async def sim_positions(client: BinanceRestClient) -> dict[str, str]:
    from decimal import Decimal

    return {p.symbol: str(Decimal(p.positionAmt).normalize()) for p in await client.position_risk()
            if p.symbol in ("BTCUSDT", "ETHUSDT")}
