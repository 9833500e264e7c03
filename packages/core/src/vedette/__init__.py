"""Vedette: Redis Sentinel made failover-safe for Python task queues.

The core owns everything about Sentinel: configuration and ``redis+sentinel://`` URLs, discovery
of the master (majority answer, its role verified with ``HELLO``), NAT address mapping, the
failover event stream (`FailoverWatcher`), clients that follow the master (`connect`) or read
from the replicas (`connect_replica`), retries across a failover (`ensure_call`), and local
Sentinel clusters for tests (`vedette.testing`). The Celery, Dramatiq and RQ adapters build on
these names.

Examples:
    >>> import vedette
    >>> config = vedette.SentinelConfig.from_url("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")
    >>> topology = vedette.discover(config)  # doctest: +SKIP
    >>> topology.master  # doctest: +SKIP
    Address(host='10.0.0.5', port=6379)
"""

import logging as _logging
from importlib.metadata import version as _version

from vedette.address import Address, AddressLike
from vedette.client.followed import config_of, watcher_of
from vedette.client.master import MasterConnection, MasterPool, connect
from vedette.client.options import CLIENT_OPTIONS, RETRY_OPTIONS
from vedette.client.replicas import ReplicaConnection, ReplicaPool, connect_replica
from vedette.config.nat import AddressMap
from vedette.config.sentinel_config import SentinelConfig, config_from
from vedette.config.url import redact_url
from vedette.errors import (
    AuthenticationError,
    ConfigurationError,
    FailoverTimeout,
    MasterNotFoundError,
    NoPermissionError,
    NotReplicatedError,
    OutcomeUnknownError,
    SentinelsUnreachableError,
    ServiceNotFoundError,
    VedetteError,
)
from vedette.failures import is_failover, is_retryable
from vedette.retry import DEFAULT_DEADLINE, Backoff, ensure_call, ensured
from vedette.sentinel.discovery import Discovery, Topology, discover
from vedette.sentinel.events import (
    FailoverAborted,
    FailoverEvent,
    FailoverStarted,
    MasterDown,
    MasterSwitched,
    MasterUp,
    PromotionStarted,
    SentinelLost,
    SentinelRecovered,
)
from vedette.sentinel.watcher import EventStream, FailoverWatcher, shared_watcher
from vedette.versions import SupportedRange, require_version

__version__ = _version("vedette")
"""The installed version of the ``vedette`` distribution."""

# A library logs; the application decides where its records go (docs/operations.md).
_logging.getLogger("vedette").addHandler(_logging.NullHandler())

__all__ = [
    # Configuration
    "Address",
    "AddressLike",
    "AddressMap",
    "SentinelConfig",
    "config_from",
    "redact_url",
    # Discovery
    "Discovery",
    "Topology",
    "discover",
    # Failover events
    "EventStream",
    "FailoverAborted",
    "FailoverEvent",
    "FailoverStarted",
    "FailoverWatcher",
    "MasterDown",
    "MasterSwitched",
    "MasterUp",
    "PromotionStarted",
    "SentinelLost",
    "SentinelRecovered",
    "shared_watcher",
    # Following the master
    "CLIENT_OPTIONS",
    "MasterConnection",
    "MasterPool",
    "RETRY_OPTIONS",
    "config_of",
    "connect",
    "watcher_of",
    # Reading from replicas
    "ReplicaConnection",
    "ReplicaPool",
    "connect_replica",
    # Retrying
    "Backoff",
    "DEFAULT_DEADLINE",
    "ensure_call",
    "ensured",
    "is_failover",
    "is_retryable",
    # Errors
    "AuthenticationError",
    "ConfigurationError",
    "FailoverTimeout",
    "MasterNotFoundError",
    "NoPermissionError",
    "NotReplicatedError",
    "OutcomeUnknownError",
    "SentinelsUnreachableError",
    "ServiceNotFoundError",
    "VedetteError",
    # Metadata
    "__version__",
    # Version ranges, for adapters
    "SupportedRange",
    "require_version",
]
