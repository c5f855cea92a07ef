"""`grinder sim`: a Binance USDⓈ-M compatible exchange simulator over the venue model (docs/simulator.md).

`from grinder.sim import SimServer, SimConfig`; the server is imported lazily so that reading
`grinder.sim.config` (the config loader does) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grinder.sim.config import SimConfig

if TYPE_CHECKING:
    from grinder.sim.server import SimControl, SimServer

__all__ = ["SimConfig", "SimControl", "SimServer"]


def __getattr__(name: str) -> Any:
    if name in ("SimServer", "SimControl"):
        from grinder.sim import server

        return getattr(server, name)
    raise AttributeError(f"module 'grinder.sim' has no attribute {name!r}")
