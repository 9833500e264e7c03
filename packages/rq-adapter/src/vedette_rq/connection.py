"""Connections for RQ: clients that follow a Sentinel service's master, in code and on the CLI.

- `connect(url_or_config)`: the core's master-following client, for ``Queue(connection=...)``,
  ``Worker(connection=...)`` and the rest of RQ's API.
- `Redis`: a ``redis.Redis`` whose ``from_url`` also reads ``redis+sentinel://`` and
  ``rediss+sentinel://`` URLs (and plain ones as redis-py does), so that RQ's own command line
  takes a Sentinel URL: ``rq worker --connection-class vedette_rq.Redis -u
  redis+sentinel://h1,h2,h3/service default``.

RQ rebuilds clients from a client's pool in other processes (its scheduler, the spawn worker, the
worker pool). A Vedette client's pool is built for that: see docs/extending.md.
"""

from __future__ import annotations

from typing import Any

import redis

import vedette

__all__ = ["Redis", "connect"]

_SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def connect(url_or_config: str | vedette.SentinelConfig, **redis_options: Any) -> redis.Redis:
    """A client of the service's master that follows it through failovers (`vedette.connect`).

    Raises:
        vedette.ConfigurationError: A malformed URL or setting, or an option that says where to
            connect (``host=``); the message names it.
    """
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
