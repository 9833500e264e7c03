"""RQ's ``SENTINEL`` settings dict, read into a Vedette configuration.

RQ's command line (``rq worker -c settings``) builds a redis-py ``Sentinel`` client from::

    SENTINEL = {
        "INSTANCES": [("10.0.0.1", 26379), ("10.0.0.2", 26379)],
        "MASTER_NAME": "mymaster",
        "DB": 0, "USERNAME": ..., "PASSWORD": ..., "SOCKET_TIMEOUT": ..., "SSL": ...,
        "CONNECTION_KWARGS": {...},  # more redis-py options for the master's connections
        "SENTINEL_KWARGS": {...},  # redis-py options for the Sentinels' connections
    }

`sentinel_settings` reads that dict; `following_sentinel_client` reads the client RQ built from it
(what a `vedette_rq.Worker` is handed by ``rq worker -c settings``), so the same settings file
gives a worker that follows the master. Redis options that say where or how to connect go to the
`vedette.SentinelConfig`; those that shape replies or the pool (``health_check_interval``,
``client_name`` ...) go to the client; RQ's and redis-py's retry options are dropped (Vedette
retries through failovers itself, and a second retry layer would repeat pops), with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis
from redis.sentinel import SentinelConnectionPool

import vedette

__all__ = ["following_sentinel_client", "sentinel_settings"]

logger = logging.getLogger(__name__)


def sentinel_settings(settings: Mapping[str, Any]) -> tuple[vedette.SentinelConfig, dict[str, Any]]:
    """RQ's ``SENTINEL`` dict as a `vedette.SentinelConfig` and the client's other options.

    Raises:
        vedette.ConfigurationError: A setting is missing, unknown or invalid; the message names
            it as written (``SENTINEL['MASTER_NAME']``, ``CONNECTION_KWARGS['port']`` ...).
    """
    if not isinstance(settings, Mapping):
        raise vedette.ConfigurationError(
            "SENTINEL", f"expected a dict of settings, got {type(settings).__name__}"
        )
    modeled = dict(settings)
    client_options: dict[str, Any] = {}
    for key in ("CONNECTION_KWARGS", "connection_kwargs"):
        nested = settings.get(key)
        if not isinstance(nested, Mapping):
            continue
        kept = {}
        for name, value in nested.items():
            if name in vedette.CLIENT_OPTIONS:
                client_options[name] = value
            elif name in vedette.RETRY_OPTIONS:  # Vedette retries: dropped, with a warning
                logger.warning(
                    "SENTINEL[%r][%r] is ignored: Vedette retries through failovers itself "
                    "(retry_deadline)",
                    key,
                    name,
                )
            else:
                kept[name] = value
        modeled[key] = kept
    return vedette.SentinelConfig.from_mapping(modeled), client_options


def following_sentinel_client(client: redis.Redis) -> redis.Redis | None:
    """A Vedette client for the service a redis-py ``Sentinel`` client points at, or None.

    ``client`` is what RQ's command line builds from the ``SENTINEL`` settings
    (``Sentinel(...).master_for(...)``), or what RQ's worker pool rebuilds from it in a worker
    process; any other client gives None.

    Raises:
        vedette.ConfigurationError: Its settings cannot be followed (see `sentinel_settings`).
    """
    pool: Any = client.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        # RQ's worker pool rebuilds it as a plain pool whose connections hold the Sentinel one.
        pool = pool.connection_kwargs.get("connection_pool")
    manager = getattr(pool, "sentinel_manager", None)
    service_name = getattr(pool, "service_name", None)
    if manager is None or service_name is None:
        return None
    settings = {
        "INSTANCES": [_address_of(sentinel) for sentinel in manager.sentinels],
        "MASTER_NAME": service_name,
        "MIN_OTHER_SENTINELS": manager.min_other_sentinels,
        # redis-py 8.2 adds a `retry` of its own to every Sentinel's kwargs; Vedette asks the
        # Sentinels with its own policy, so only what the user set is read.
        "SENTINEL_KWARGS": {k: v for k, v in manager.sentinel_kwargs.items() if k != "retry"},
        "CONNECTION_KWARGS": dict(manager.connection_kwargs),
    }
    config, options = sentinel_settings(settings)
    return vedette.connect(config, **options)


def _address_of(sentinel: redis.Redis) -> tuple[str, int]:
    kwargs = sentinel.connection_pool.connection_kwargs
    return str(kwargs["host"]), int(kwargs["port"])
