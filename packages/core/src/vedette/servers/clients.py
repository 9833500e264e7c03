"""redis-py clients built from a `SentinelConfig`: the one place its settings become redis-py's.

Every client gets finite timeouts and no redis-py retries (redis-py 6+ retries each command up to
10 times by default, which turns one dead Sentinel into seconds of waiting). Retrying is Vedette's
job, done with knowledge of the failover. Sentinel and verification connections speak RESP2
(redis-py 8 defaults to RESP3): every server version understands it, and replies keep one shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from vedette.address import Address
from vedette.servers.tls import SSLConnection

if TYPE_CHECKING:
    from vedette.config.sentinel_config import SentinelConfig


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _tls(config: SentinelConfig, enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {}
    return {
        "ssl": True,
        "ssl_ca_certs": config.ssl_ca_certs,
        "ssl_certfile": config.ssl_certfile,
        "ssl_keyfile": config.ssl_keyfile,
        "ssl_cert_reqs": config.ssl_cert_reqs,
        "ssl_check_hostname": config.ssl_check_hostname and config.ssl_cert_reqs == "required",
    }


def sentinel_client(config: SentinelConfig, address: Address, **overrides: Any) -> redis.Redis:
    """A client for one Sentinel: its own credentials and short timeouts, replies decoded."""
    kwargs: dict[str, Any] = {
        "host": address.host,
        "port": address.port,
        "username": config.sentinel_username,
        "password": config.sentinel_password,
        "socket_timeout": config.sentinel_socket_timeout,
        "socket_connect_timeout": config.sentinel_connect_timeout,
        "retry": _no_retry(),
        "protocol": 2,
        "decode_responses": True,
        **_tls(config, config.uses_sentinel_ssl),
    }
    kwargs.update(overrides)
    return _closing_failed_tls(redis.Redis(**kwargs))


def redis_kwargs(config: SentinelConfig) -> dict[str, Any]:
    """``redis.Redis``/connection keyword arguments for Redis (not Sentinel), without an address."""
    return {
        "db": config.db,
        "username": config.username,
        "password": config.password,
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
        **_tls(config, config.ssl),
    }


def redis_client(config: SentinelConfig, address: Address, **overrides: Any) -> redis.Redis:
    """A client for one Redis server (master or replica) at a fixed address, without retries."""
    kwargs: dict[str, Any] = {"host": address.host, "port": address.port, "retry": _no_retry()}
    kwargs.update(redis_kwargs(config))
    kwargs.update(overrides)
    return _closing_failed_tls(redis.Redis(**kwargs))


def _closing_failed_tls(client: redis.Redis) -> redis.Redis:
    """``client`` with TLS connections closing what ``ssl`` leaves open (`vedette.servers.tls`)."""
    pool = client.connection_pool
    if pool.connection_class is redis.SSLConnection:
        pool.connection_class = SSLConnection
    return client


def command(client: redis.Redis | Pipeline, *args: str | int) -> Any:
    """Send one command (queue it, on a pipeline); redis-py leaves ``execute_command`` untyped."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]
