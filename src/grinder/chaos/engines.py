"""Engine processes for HA / chaos runs: a TOML config per instance, `grinder.live.run` as a subprocess.

Each instance reaches the exchange through its own `WireProxy` (so its writes can be attributed)
and shares one Redis lease and one journal path: the journal file becomes per instance (ADR-111).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grinder.sim.config import SimConfig

_SIM = SimConfig()  # the simulator's default loopback credentials


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    holder_id: str
    rest_url: str
    ws_url: str
    redis_url: str | None  # None: standalone (no [ha] section)
    journal_path: Path
    lease_key: str = "grinder:leader:chaos"
    ttl_ms: int = 2000
    renew_every_ms: int = 500
    reconcile_interval_s: float = 2.0
    remediation: bool = True
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    stale_after_s: float = 4.0
    heartbeat_s: float = 2.0
    deadman_countdown_s: float = 30.0  # [engine] dead-man's switch (the engine's defaults)
    deadman_interval_s: float = 10.0


def config_text(spec: InstanceSpec) -> str:
    syms = ", ".join(f'"{s}"' for s in spec.symbols)
    return f"""
[engine]
symbols = [{syms}]
cancel_on_shutdown = true
leftover_orders = "adopt"
stale_feed_s = 5.0
log_level = "INFO"
deadman_countdown_s = {spec.deadman_countdown_s}
deadman_interval_s = {spec.deadman_interval_s}

[connector]
mode = "LIVE_TRADE"
armed = true
symbols = [{syms}]
max_notional_per_order = "125"

[binance]
rest_url = "{spec.rest_url}"
ws_url = "{spec.ws_url}"
stale_after_s = {spec.stale_after_s}
heartbeat_s = {spec.heartbeat_s}
reconnect_initial_s = 0.2
reconnect_max_s = 2.0

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
journal_path = "{spec.journal_path}"
synchronous = "NORMAL"

{_ha_section(spec)}
[reconcile]
interval_s = {spec.reconcile_interval_s}
remediation_enabled = {str(spec.remediation).lower()}
cancel_unexpected_enabled = true
"""


def terminate(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout_s`; the exit code, or None when it had to be killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return None


def _ha_section(spec: InstanceSpec) -> str:
    if spec.redis_url is None:
        return ""
    return f"""[ha]
enabled = true
redis_url = "{spec.redis_url}"
lease_key = "{spec.lease_key}"
holder_id = "{spec.holder_id}"
ttl_ms = {spec.ttl_ms}
renew_every_ms = {spec.renew_every_ms}
"""


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRINDER_", "BINANCE_", "ALLOW_MAINNET"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Instance:
    """One `python -m grinder.live.run` process; `ops_url` serves /readyz, /status, /metrics."""

    def __init__(self, spec: InstanceSpec, workdir: Path, ops_port: int) -> None:
        self.spec = spec
        self.config_path = workdir / f"{spec.holder_id}.toml"
        self.config_path.write_text(config_text(spec), encoding="utf-8")
        self.log_path = workdir / f"{spec.holder_id}.log"
        self.ops_url = f"http://127.0.0.1:{ops_port}"
        self._ops_port = ops_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped = False  # SIGSTOP in effect

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grinder.live.run", "--config", str(self.config_path),
                 "--ops-port", str(self._ops_port)],
                stdout=log, stderr=subprocess.STDOUT,
                env=child_env(BINANCE_API_KEY=_SIM.api_key, BINANCE_API_SECRET=_SIM.api_secret),
            )
        self.stopped = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)
            if sig is signal.SIGSTOP:
                self.stopped = True
            elif sig is signal.SIGCONT:
                self.stopped = False

    def kill9(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)
        self.stopped = False

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM (after SIGCONT if paused); the exit code, or None if it had to be killed."""
        if self.proc is None:
            return None
        if self.stopped:
            self.signal(signal.SIGCONT)
        return terminate(self.proc, timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not start on 127.0.0.1:{port}") from None
            time.sleep(0.05)


class RedisProcess:
    """A throw-away `redis-server` on a fixed loopback port that can be restarted (state is lost)."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.exe = exe
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.proc, "redis-server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class SimServerProcess:
    """`grinder sim --port P` in its own process (loopback), with the given seed and speed."""

    def __init__(self, log_path: Path, *, seed: int, speed: float, weight_limit: int = 2400) -> None:
        self.port = free_port()
        self.rest_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grinder.cli", "sim", "--port", str(self.port), "--seed", str(seed),
                 "--speed", str(speed), "--symbols", "BTCUSDT,ETHUSDT", "--weight-limit", str(weight_limit)],
                stdout=log, stderr=subprocess.STDOUT, env=child_env(),
            )
        _wait_port(self.port, self.proc, "grinder sim", 30.0)

    def stop(self) -> None:
        terminate(self.proc)
