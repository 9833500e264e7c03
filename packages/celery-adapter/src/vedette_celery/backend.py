"""Celery's Redis result backend on a master-following pool: ``result_backend = "redis-sentinel://..."``.

Celery's `RedisBackend` keeps its key layout, its pub/sub for ``AsyncResult.get()`` and its chord
bookkeeping; the pool under it is a `vedette.MasterPool`. Storing and reading results therefore
wait through a failover (up to ``retry_deadline``) instead of failing, so a task that succeeded
is not recorded as FAILURE because the master was being replaced when it finished; storing is
idempotent (``SET``), so a retry after a lost reply changes nothing.

``retry_deadline`` bounds each call as a whole. Celery retries a failed backend call on top
(20 times by default, each retry waiting the deadline again, then "The Celery application must
be restarted"); here it makes one attempt, and the error Vedette raised, which says what is
wrong, reaches the caller.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import redis
from celery.backends.redis import RedisBackend
from celery.backends.redis import ResultConsumer as RedisResultConsumer

import vedette
from vedette_celery._masking import mask_url, unmask
from vedette_celery.settings import split

__all__ = ["ResultBackend", "ResultConsumer"]

logger = logging.getLogger(__name__)

PoolKey = tuple[vedette.SentinelConfig, tuple[tuple[str, Any], ...]]

# One pool per app, configuration and pool options, shared by the app's per-thread backends and
# gone with the app. No lock: a result freed by the garbage collector (AsyncResult.__del__
# unsubscribes) may get here on a thread that would be holding it.
_pools: weakref.WeakKeyDictionary[Any, dict[PoolKey, vedette.MasterPool]] = (
    weakref.WeakKeyDictionary()
)

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

# Celery's retry policy for its backend calls (`RedisBackend.ensure`): one attempt. The pool
# retried the call until retry_deadline already; a retry here would wait the deadline again.
_ONE_ATTEMPT = {"max_retries": 0, "interval_start": 0, "interval_step": 1, "interval_max": 1}


class ResultConsumer(RedisResultConsumer):  # type: ignore[misc]
    """Celery's consumer of results (pub/sub, for ``AsyncResult.get()``), reconnecting once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cancelling = threading.local()  # this thread is in cancel_for: never reconnect

    @contextmanager
    def reconnect_on_error(self) -> Iterator[None]:
        """Celery's reconnection after a connection error, without its loop.

        An error from a command the pool already retried until ``retry_deadline`` is raised as
        it is: reconnecting would wait the deadline again, and Celery's "must be restarted"
        would replace the error that says what is wrong. Such an error comes at least
        ``retry_deadline`` after the command started; an earlier one was not retried (Celery
        found the socket cut by a failover when it polled it), and gets one reconnect, which
        reads the results of the tasks waited for and subscribes to them on the master. An
        error no retry mends (a refused password) is raised as it is too.
        """
        started = time.monotonic()
        try:
            yield
        except TimeoutError:  # socket.timeout: a poll that timed out, as Celery treats it
            raise
        except self._connection_errors as error:
            retried = time.monotonic() - started >= self.backend.sentinel_config.retry_deadline
            hopeless = isinstance(error, redis.RedisError) and not vedette.is_retryable(error)
            if retried or hopeless or getattr(self._cancelling, "active", False):
                raise
            self._reconnect_pubsub()

    def cancel_for(self, task_id: str) -> None:
        """Stop listening for a task's result (``AsyncResult.__del__`` calls it), never raising.

        A subscription goes with its connection: if the connection is lost (a failover, or the
        service gone for good), there is nothing left to undo, and the next connection subscribes
        only to the results still waited for. So a connection error here is not raised into a
        finalizer, which could only print it ("Exception ignored in AsyncResult.__del__");
        pytest makes that an error in whichever test the collector runs.

        It never reconnects either: a reconnection (Celery's, which fetches every result waited
        for and subscribes again) has no place in a finalizer, which gets a short deadline for
        its commands, nor is it needed to undo a subscription the connection took with it.
        """
        outer, self._cancelling.active = getattr(self._cancelling, "active", False), True
        try:
            super().cancel_for(task_id)
        except (*self._connection_errors, vedette.VedetteError) as error:
            # VedetteError: also a finalizer run on a thread inside Vedette, which gives up
            # rather than wait for its own thread (docs/failover.md, "Finalizers").
            logger.debug("result of %s: not unsubscribed: %s", task_id, str(error))
        finally:
            self._cancelling.active = outer


class ResultBackend(RedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend for ``redis-sentinel://`` and ``rediss-sentinel://`` URLs."""

    ResultConsumer = ResultConsumer
    sentinel_config: vedette.SentinelConfig

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
        pools = _pools.setdefault(self.app, {})
        pool = pools.get(self._pool_key)
        if pool is None:
            config, options = self._pool_key
            # setdefault: racing threads agree on one pool (the other is never connected).
            pool = pools.setdefault(self._pool_key, vedette.MasterPool(config, **dict(options)))
        return pool

    @cached_property
    def retry_policy(self) -> dict[str, Any]:
        """Celery's retries of a backend call: none, unless ``retry_policy`` asks for them.

        A ``retry_policy`` in ``result_backend_transport_options`` still applies on top
        (each retry may then wait up to ``retry_deadline`` again).
        """
        return {**_ONE_ATTEMPT, **(self._transport_options.get("retry_policy") or {})}

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """False: ``result_backend_always_retry`` adds no retries to those of the pool.

        Every error that leaves the pool was retried until ``retry_deadline`` already, or is
        one no retry mends (a refused password, a wrong service name).
        """
        return False

    def as_uri(self, include_password: bool = False) -> str:
        """The URL as Celery prints it: user names and passwords masked unless asked for."""
        url = unmask(self.url or "")
        return url if include_password else mask_url(url)
