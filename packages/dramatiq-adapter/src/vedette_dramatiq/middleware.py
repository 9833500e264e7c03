"""`SentinelMiddleware`: dramatiq-sentinel's ``Sentinel`` middleware, without its failure modes.

For applications that keep a plain `RedisBroker` and add dramatiq-sentinel's middleware, it
takes the same keyword arguments (its README's configuration works verbatim) and switches the
broker it is added to over to Vedette the first time Dramatiq hands it the broker (an actor or
queue declared, a message enqueued, a worker booting):

- the broker's client becomes `vedette.connect(...)` on the service, with the database and the
  credentials of the client it replaces; the broker's scripts are registered on it;
- the broker's consumers become `SentinelConsumer` and its enqueue `enqueue_once` (the same as
  `SentinelBroker`'s, set on the broker object: a middleware has no other way to reach them);
- the clients of other middleware's Redis backends (``Results``), which dramatiq-sentinel also
  re-pointed, follow the service too.

Unlike dramatiq-sentinel it never pauses workers, never skips (and so acknowledges) a message,
never calls ``os._exit``, and works on Python 3.10+. ``worker_pausing_timeout_before_exit`` is
accepted and unused; ``min_backoff``, ``max_backoff`` and ``backoff_factor`` pace Vedette's
retries while no master answers (a master switch ends a pause at once);
``periodic_master_check`` is how often the Sentinels are asked in case an event was missed.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from dramatiq.broker import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware, MiddlewareError

import vedette
from vedette_dramatiq.consumer import SentinelConsumer
from vedette_dramatiq.following import enqueue_once, follow

__all__ = ["NotARedisBroker", "SentinelMiddleware"]

_log = logging.getLogger(__name__)

# Connection settings of a plain client that carry over to the Vedette one.
_CARRIED = ("db", "username", "password", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


class NotARedisBroker(vedette.ConfigurationError, MiddlewareError):
    """`SentinelMiddleware` was added to a broker other than a `RedisBroker`.

    A `MiddlewareError` too: Dramatiq lets only those out of a middleware's hook.
    """


class SentinelMiddleware(Middleware):
    """Make the `RedisBroker` it is added to follow a Sentinel service (see the module).

    The arguments are dramatiq-sentinel's, with its defaults; ``nat`` maps addresses the
    Sentinels report to addresses this process can reach, keyed ``"host:port"`` or
    ``("host", port)``.

    Raises:
        vedette.ConfigurationError: A bad setting, named, when the middleware is created.
        NotARedisBroker: The broker is not a `RedisBroker` (at its first actor, queue or
            message).
    """

    def __init__(
        self,
        sentinels: Sequence[Any] = (("localhost", 26379),),
        sentinel_password: str | None = None,
        socket_timeout: float = 0.5,
        service_name: str = "redis",
        min_backoff: float | None = None,
        max_backoff: float | None = None,
        backoff_factor: float | None = None,
        periodic_master_check: float | None = None,
        worker_pausing_timeout_before_exit: float = 600.0,
        nat: Mapping[Any, Any] | None = None,
    ) -> None:
        super().__init__()
        settings: dict[str, Any] = {
            "sentinels": list(sentinels),
            "service_name": service_name,
            "sentinel_password": sentinel_password,
            # dramatiq-sentinel's socket_timeout is the Sentinel connections'.
            "sentinel_socket_timeout": socket_timeout,
            "nat": dict(nat or {}),
            "min_backoff": min_backoff,
            "max_backoff": max_backoff,
            "backoff_factor": backoff_factor,
            "periodic_master_check": periodic_master_check,
        }
        # Checked now, so that a mistake fails at start-up and names the argument.
        self._config = vedette.SentinelConfig.from_mapping(settings)
        if worker_pausing_timeout_before_exit <= 0:
            raise vedette.ConfigurationError(
                "worker_pausing_timeout_before_exit", "must be a positive number of seconds"
            )
        self._lock = threading.Lock()
        self._middleware_seen = 0
        self.broker: RedisBroker | None = None

    @property
    def config(self) -> vedette.SentinelConfig:
        """The Sentinel settings (Redis's database and credentials come from the broker)."""
        return self._config

    @property
    def switching_master(self) -> bool:
        """Always False: nothing is paused or skipped while the master switches."""
        return False

    def get_redis_master(
        self,
        username: str | None = None,
        password: str | None = None,
        database: int = 0,
        max_iterations: int | None = None,
    ) -> redis.Redis:
        """A client of the service's master that follows it (dramatiq-sentinel's helper).

        ``max_iterations`` is unused: the client finds the master on its first command.
        """
        return vedette.connect(
            _with(self._config, {"db": database, "username": username, "password": password})
        )

    # --- Dramatiq's hooks: the first one that hands over the broker switches it ----------------

    # The before_ hooks' errors reach the caller (Dramatiq logs the after_ hooks' and goes on);
    # Dramatiq calls the after_ ones for what was declared before the middleware was added.

    def before_declare_actor(self, broker: Broker, actor: Any) -> None:
        """Switch the broker over, if not done yet."""
        self._switch(broker)

    def before_declare_queue(self, broker: Broker, queue_name: str) -> None:
        """Switch the broker over, if not done yet."""
        self._switch(broker)

    def after_declare_queue(self, broker: Broker, queue_name: str) -> None:
        """Switch the broker over, if not done yet."""
        self._switch(broker)

    def before_enqueue(self, broker: Broker, message: Any, delay: int | None) -> None:
        """Switch the broker over, if not done yet (a process that only sends)."""
        self._switch(broker)

    def before_worker_boot(self, broker: Broker, worker: Any) -> None:
        """Switch the broker over, if not done yet."""
        self._switch(broker)

    def after_process_boot(self, broker: Broker) -> None:
        """Switch the broker over, if not done yet."""
        self._switch(broker)

    def _switch(self, broker: Broker) -> None:
        if self.broker is broker and len(broker.middleware) == self._middleware_seen:
            return
        with self._lock:
            if self.broker is broker:  # middleware added since: their backends too
                for middleware in broker.middleware:
                    _follow_backend(middleware, self._config)
                self._middleware_seen = len(broker.middleware)
                return
            if not isinstance(broker, RedisBroker):
                raise NotARedisBroker(
                    "SentinelMiddleware",
                    f"works with dramatiq's RedisBroker, not {type(broker).__name__}",
                )
            if vedette.config_of(broker.client) is not None:
                self.broker = broker  # a SentinelBroker, or switched already
                self._middleware_seen = len(broker.middleware)
                return
            config = _with(self._config, _carried(broker.client))
            old = broker.client
            broker.client = vedette.connect(config)
            broker.scripts = {
                name: broker.client.register_script(script.script)
                for name, script in broker.scripts.items()
            }
            follow(broker, config)
            # SentinelBroker's consume and do_enqueue, on this broker object only.
            setattr(broker, "consume", functools.partial(SentinelConsumer, broker))  # noqa: B010
            setattr(broker, "do_enqueue", functools.partial(enqueue_once, broker))  # noqa: B010
            for middleware in broker.middleware:
                _follow_backend(middleware, self._config)
            old.close()
            self._middleware_seen = len(broker.middleware)
            self.broker = broker
            _log.info(
                "broker %s follows Sentinel service %r", broker.broker_id, config.service_name
            )


def _follow_backend(middleware: Any, sentinels: vedette.SentinelConfig) -> None:
    """Point a middleware's Redis backend (``Results``) at the service, as dramatiq-sentinel did."""
    backend = getattr(middleware, "backend", None)
    client = getattr(backend, "client", None)
    if isinstance(client, redis.Redis) and vedette.config_of(client) is None:
        backend.client = vedette.connect(_with(sentinels, _carried(client)))  # type: ignore[union-attr]
        client.close()


def _carried(client: redis.Redis) -> dict[str, Any]:
    """The database, credentials and TLS files of a plain client."""
    kwargs = client.connection_pool.connection_kwargs
    carried = {name: kwargs[name] for name in _CARRIED if kwargs.get(name) is not None}
    if issubclass(client.connection_pool.connection_class, redis.SSLConnection):
        carried["ssl"] = True
    return carried


def _with(config: vedette.SentinelConfig, settings: Mapping[str, Any]) -> vedette.SentinelConfig:
    return dataclasses.replace(config, **{k: v for k, v in settings.items() if v is not None})
