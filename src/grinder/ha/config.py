"""`HAConfig`: the [ha] section. Disabled by default: one process runs standalone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HAConfig:
    enabled: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    lease_key: str = "grinder:leader:default"  # one key per trading account
    holder_id: str = ""  # empty: "<hostname>:<pid>"
    ttl_ms: int = 10_000  # the lease expires this long after the last renewal
    renew_every_ms: int = 3_000  # renewal period (well under the TTL: several tries per lease)

    def __post_init__(self) -> None:
        if self.ttl_ms < 100:
            raise ValueError(f"[ha] ttl_ms must be >= 100 (got {self.ttl_ms})")
        if not 0 < self.renew_every_ms * 2 <= self.ttl_ms:
            raise ValueError(
                f"[ha] renew_every_ms ({self.renew_every_ms}) must be > 0 and at most half of ttl_ms "
                f"({self.ttl_ms}) so a missed renewal does not lose the lease"
            )
        if not self.lease_key:
            raise ValueError("[ha] lease_key must not be empty (e.g. grinder:leader:<account>)")
