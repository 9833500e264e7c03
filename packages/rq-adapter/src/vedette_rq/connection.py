"""Connections for RQ: clients that follow a Sentinel service's master, in code and on the CLI.

- `connect(url | config | SENTINEL)`: the core's master-following client, for
  ``Queue(connection=...)``, ``Worker(connection=...)`` and the rest of RQ's API; it also reads
  RQ's ``SENTINEL`` settings dict.
- `Redis`: a ``redis.Redis`` whose ``from_url`` also reads ``redis+sentinel://`` and
  ``rediss+sentinel://`` URLs (and plain ones as redis-py does), so that RQ's own command line
  takes a Sentinel URL: ``rq worker -w vedette_rq.Worker --connection-class vedette_rq.Redis -u
  redis+sentinel://h1,h2,h3/service default``.
- `watcher_of(client)`: `vedette.watcher_of`, the `vedette.FailoverWatcher` a client's
  connections react to, also for a client RQ rebuilt from a Vedette one in another process (its
  scheduler, its worker pool).

RQ rebuilds clients from a client's pool in other processes; a Vedette client's pool is built for
that (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

import vedette
from vedette_rq.settings import sentinel_settings

__all__ = ["Redis", "connect", "watcher_of"]

_SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def connect(
    url_or_config: str | vedette.SentinelConfig | Mapping[str, Any], **redis_options: Any
) -> redis.Redis:
    """A client of the service's master that follows it through failovers (`vedette.connect`).

    Args:
        url_or_config: A ``redis+sentinel://`` URL, a `vedette.SentinelConfig`, or RQ's
            ``SENTINEL`` settings dict (``INSTANCES``, ``MASTER_NAME`` ...).
        **redis_options: ``redis.Redis`` options that do not say where or how to connect.

    Raises:
        vedette.ConfigurationError: A malformed URL or setting, or an option that says where to
            connect (``host=``); the message names it.
    """
    if isinstance(url_or_config, Mapping):
        config, options = sentinel_settings(url_or_config)
        return vedette.connect(config, **options, **redis_options)
    return vedette.connect(url_or_config, **redis_options)


class Redis(redis.Redis):
    """``redis.Redis`` whose `from_url` also reads Sentinel URLs (RQ's ``--connection-class``)."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.Redis:
        """A Vedette client for ``redis+sentinel://`` URLs; redis-py's ``from_url`` otherwise."""
        scheme = url.partition("://")[0].lower() if isinstance(url, str) else ""
        if scheme in _SENTINEL_SCHEMES:
            return vedette.connect(url, **kwargs)
        return super().from_url(url, **kwargs)


watcher_of = vedette.watcher_of
"""`vedette.watcher_of`, under the name this adapter gave it first."""
