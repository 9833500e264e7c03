"""Celery's Redis result backend on a master-following pool: ``result_backend = "redis-sentinel://..."``.

Celery's `RedisBackend` keeps its key layout, its pub/sub for ``AsyncResult.get()`` and its chord
bookkeeping; the pool under it is a `vedette.MasterPool`. Storing and reading results therefore
wait through a failover (up to ``retry_deadline``) instead of failing, so a task that succeeded
is not recorded as FAILURE because the master was being replaced when it finished; storing is
idempotent (``SET``), so a retry after a lost reply changes nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.backends.redis import RedisBackend

import vedette
from vedette_celery.settings import split
from vedette_celery.transport import mask_url

__all__ = ["ResultBackend"]

# One pool per configuration and pool options, shared by the backend's per-thread instances.
_pools: dict[tuple[vedette.SentinelConfig, tuple[tuple[str, Any], ...]], vedette.MasterPool] = {}
_pools_lock = threading.Lock()

# Celery settings of its Redis backend, and where they go for a Sentinel service.
_CONFIG_SETTINGS = {
    "redis_socket_timeout": "socket_timeout",
    "redis_socket_connect_timeout": "socket_connect_timeout",
}
_POOL_SETTINGS = {
    "redis_max_connections": "max_connections",
    "redis_client_name": "client_name",
    "redis_backend_health_check_interval": "health_check_interval",
    "redis_socket_keepalive": "socket_keepalive",
}
# Settings that say where or how to connect, which the URL says for a Sentinel service.
_REFUSED = ("redis_host", "redis_port", "redis_password", "redis_username", "redis_backend_use_ssl")


class ResultBackend(RedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend for ``redis-sentinel://`` and ``rediss-sentinel://`` URLs."""

    def _params_from_url(self, url: str, defaults: dict[str, Any]) -> dict[str, Any]:
        conf = self.app.conf
        for name in _REFUSED:
            if conf.get(name):
                raise vedette.ConfigurationError(
                    name,
                    "is not used with a redis-sentinel:// result_backend: the URL names the "
                    "Sentinels, credentials and TLS (rediss-sentinel://)",
                )
        options = dict(conf.get("result_backend_transport_options") or {})
        for setting, field in _CONFIG_SETTINGS.items():
            if conf.get(setting) is not None:
                options.setdefault(field, conf.get(setting))
        settings = split(
            url,
            options,
            url_setting="result_backend",
            options_setting="result_backend_transport_options",
        )
        pool_options = {
            field: conf.get(setting)
            for setting, field in _POOL_SETTINGS.items()
            if conf.get(setting) is not None
        } | settings.pool_options
        self.sentinel_config = settings.config
        self._pool_key = (settings.config, tuple(sorted(pool_options.items())))
        return dict(defaults)

    def _get_pool(self, **params: Any) -> vedette.MasterPool:
        with _pools_lock:
            pool = _pools.get(self._pool_key)
            if pool is None:
                config, options = self._pool_key
                pool = _pools[self._pool_key] = vedette.MasterPool(config, **dict(options))
            return pool

    def as_uri(self, include_password: bool = False) -> str:
        """The URL as Celery prints it: passwords masked unless asked for."""
        url = self.url or ""
        return url if include_password else mask_url(url)
