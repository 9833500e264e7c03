"""Real Redis Sentinel clusters on loopback, for tests, benchmarks and development.

`SentinelCluster` starts a master, replicas and Sentinels as real ``redis-server`` processes and
injects real faults into them (``kill -9``, SIGSTOP, planned failover, a dead Sentinel), and
`LocalRedisCluster` starts the masters of a Redis Cluster;
`WriteLoop` (`AsyncWriteLoop` for async clients) and `SwitchClock` measure what a client makes
of them; `capture_events` records the
failover events a client sees, and `ScriptedWatcher` plays them without a failover. For pytest
fixtures, add ``pytest_plugins = ["vedette.testing.pytest_plugin"]`` to a ``conftest.py`` and
annotate the factory fixture with `ClusterFactory`.

Examples:
    >>> from vedette.testing import SentinelCluster
    >>> with SentinelCluster() as cluster:  # doctest: +SKIP
    ...     old = cluster.kill_master()
    ...     new = cluster.wait_for_switch(timeout=30)
"""

from vedette.testing._binary import find_redis_server, supports_tls
from vedette.testing._configs import TLSFiles
from vedette.testing._network import LossyProxy, unresponsive_address
from vedette.testing._waiting import wait_until
from vedette.testing.async_writes import AsyncWriteLoop
from vedette.testing.cluster import ClusterFactory, SentinelCluster
from vedette.testing.errors import ClusterError, WaitTimeout
from vedette.testing.events import EventLog, ScriptedWatcher, capture_events
from vedette.testing.redis_cluster import LocalRedisCluster
from vedette.testing.writes import SwitchClock, WriteLoop, WriteRecord, WriteReport

__all__ = [
    # Clusters
    "ClusterError",
    "ClusterFactory",
    "LocalRedisCluster",
    "SentinelCluster",
    "TLSFiles",
    "find_redis_server",
    "supports_tls",
    # Measuring failovers
    "AsyncWriteLoop",
    "SwitchClock",
    "WriteLoop",
    "WriteRecord",
    "WriteReport",
    # Failover events
    "EventLog",
    "ScriptedWatcher",
    "capture_events",
    # Network conditions
    "LossyProxy",
    "unresponsive_address",
    # Waiting
    "WaitTimeout",
    "wait_until",
]
