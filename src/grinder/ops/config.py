"""`OpsConfig`: where the ops HTTP server listens and how its control endpoint is protected (TOML [ops])."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpsConfig:
    """Ops HTTP server settings.

    host/port: the bind address of /healthz, /readyz, /metrics, /status (loopback by default;
    port 0 picks a free port). control_token_env names the environment variable holding the token
    for POST /control/*; when that variable is unset or empty the control endpoint is disabled.
    loop_stall_s: /healthz answers 503 when the event-loop heartbeat is older than this.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9090
    control_token_env: str = "GRINDER_CONTROL_TOKEN"  # noqa: S105 - a variable name, not a secret
    loop_stall_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"ops.port={self.port} is not a TCP port: use 0..65535 (0 = pick a free port)")
        if not self.control_token_env:
            raise ValueError(
                "ops.control_token_env must name an environment variable, e.g. GRINDER_CONTROL_TOKEN"
            )
        if self.loop_stall_s <= 0:
            raise ValueError(f"ops.loop_stall_s={self.loop_stall_s} must be > 0 seconds")
