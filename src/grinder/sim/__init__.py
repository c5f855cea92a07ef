"""`grinder sim`: a Binance USDⓈ-M compatible exchange simulator over the venue model (docs/simulator.md)."""

from grinder.sim.config import SimConfig
from grinder.sim.server import SimControl, SimServer

__all__ = ["SimConfig", "SimControl", "SimServer"]
