"""Chaos tooling: a loopback wire proxy that records writes and corrupts or drops frames (bench/chaos.py)."""

from grinder.chaos.proxy import FrameFaults, WireProxy, WriteRecord

__all__ = ["FrameFaults", "WireProxy", "WriteRecord"]
