"""HA leadership: a Redis leader lease with a fencing token; only the leader may be armed."""

from grinder.ha.config import HAConfig
from grinder.ha.lease import LeaderLease, Leadership, Standalone, leadership_from_config

__all__ = ["HAConfig", "LeaderLease", "Leadership", "Standalone", "leadership_from_config"]
