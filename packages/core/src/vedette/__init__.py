"""Vedette: Redis Sentinel made failover-safe for Python task queues.

The core owns everything about Sentinel: configuration and ``redis+sentinel://`` URLs, discovery
of the master (majority answer, verified with ``ROLE``), NAT address mapping, and local Sentinel
clusters for tests (`vedette.testing`). The Celery, Dramatiq and RQ adapters build on these names.

Usage:
    >>> import vedette
    >>> config = vedette.SentinelConfig.from_url("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")
    >>> topology = vedette.discover(config)  # doctest: +SKIP
    >>> topology.master  # doctest: +SKIP
    Address(host='10.0.0.5', port=6379)
"""

from importlib.metadata import version as _version

from vedette.address import Address, AddressLike
from vedette.config import SentinelConfig
from vedette.discovery import Discovery, Topology, discover
from vedette.errors import (
    AuthenticationError,
    ConfigurationError,
    MasterNotFoundError,
    ServiceNotFoundError,
    VedetteError,
)
from vedette.nat import AddressMap

__version__ = _version("vedette")

__all__ = [
    # Configuration
    "Address",
    "AddressLike",
    "AddressMap",
    "SentinelConfig",
    # Discovery
    "Discovery",
    "Topology",
    "discover",
    # Errors
    "AuthenticationError",
    "ConfigurationError",
    "MasterNotFoundError",
    "ServiceNotFoundError",
    "VedetteError",
    # Metadata
    "__version__",
]
