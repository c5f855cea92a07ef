"""`OpsConfig`: where the ops HTTP server listens and how its endpoints are protected (TOML [ops])."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpsConfig:
    """Ops HTTP server settings.

    host/port: the bind address of /healthz, /readyz, /metrics, /status (loopback by default;
    port 0 picks a free port). control_token_env names the environment variable holding the token
    for POST /control/*; when that variable is unset or empty the control endpoint is disabled.
    read_token_env names the variable holding the token for GET /status and /metrics (which show
    positions, PnL and order ids); unset or empty = those are open to whoever reaches the port.
    /healthz and /readyz stay open (orchestrators probe them). A bind outside loopback without a read
    token is refused at start unless allow_public_bind = true says that exposure is intended.
    loop_stall_s: /healthz answers 503 when the event-loop heartbeat is older than this.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9090
    control_token_env: str = "GRINDER_CONTROL_TOKEN"  # noqa: S105 - a variable name, not a secret
    read_token_env: str = "GRINDER_READ_TOKEN"  # noqa: S105 - a variable name, not a secret
    allow_public_bind: bool = False
    loop_stall_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"ops.port={self.port} is not a TCP port: use 0..65535 (0 = pick a free port)")
        if not self.control_token_env:
            raise ValueError(
                "ops.control_token_env must name an environment variable, e.g. GRINDER_CONTROL_TOKEN"
            )
        if not self.read_token_env:
            raise ValueError("ops.read_token_env must name an environment variable, e.g. GRINDER_READ_TOKEN")
        if self.loop_stall_s <= 0:
            raise ValueError(f"ops.loop_stall_s={self.loop_stall_s} must be > 0 seconds")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost"; every other address (0.0.0.0 included) is reachable from outside."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it resolves outside (fail closed)


def check_exposure(config: OpsConfig, env: Mapping[str, str]) -> None:
    """Refuse a non-loopback bind that would publish positions and PnL to anyone, naming the fix."""
    if not config.enabled or is_loopback(config.host) or config.allow_public_bind:
        return
    if not env.get(config.read_token_env):
        raise ValueError(
            f"ops.host={config.host} is reachable from other machines but {config.read_token_env} "
            "is not set: "
            f"/status and /metrics would show positions and PnL to anyone. Set {config.read_token_env} "
            "(and give Prometheus the same bearer token), bind 127.0.0.1, or set ops.allow_public_bind = true"
        )
