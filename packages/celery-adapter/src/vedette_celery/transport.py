"""kombu's Redis transport on a master-following pool: ``broker_url = "redis-sentinel://..."``.

Everything kombu stores stays where kombu puts it (queues, ``unacked``, ``unacked_index``, fanout
channels), so Flower, ``celery inspect`` and other tools keep working. What changes is the pool:
a `vedette.MasterPool`, which finds the master through the Sentinels, holds commands while a
replica is promoted and moves every connection to the new master when it switches.

A failover is therefore not a broken connection for the worker. kombu drops its whole connection
on one (Celery then restarts the consumer after a back-off and requeues every message the worker
holds, so tasks still running are delivered again). Here the consumer's blocking pop and its
pub/sub subscription are re-armed on the master in place: the channel, its unacknowledged
messages and their acknowledgements carry on.
"""

from __future__ import annotations

import logging
from functools import cached_property
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

import vedette
import vedette.metrics
from vedette_celery._masking import MaskedOptions, MaskedURL, mask_url, unmask
from vedette_celery.settings import CelerySettings, split

__all__ = ["Channel", "Transport"]

logger = logging.getLogger(__name__)


def _cut_by_failover(error: BaseException) -> bool:
    """Whether ``error`` is a connection lost to a failover, which the pool heals by itself.

    The one place this adapter reads a core error for kombu: such an error becomes kombu's
    ``Empty`` (nothing to deliver yet), and the next poll sends the command again on the master.
    """
    return isinstance(error, redis.ConnectionError) and vedette.is_failover(error)


class Channel(kombu_redis.Channel):
    """kombu's Redis channel whose pools follow the master of a Sentinel service."""

    connection: Transport

    def _get_pool(self, asynchronous: bool = False) -> vedette.MasterPool:
        settings = self.connection.settings
        pool = vedette.MasterPool(settings.config, **settings.pool_options)
        if asynchronous:
            # kombu's event loop polls these connections' sockets: tell it when one goes away
            # (the hook kombu adds to the connection class it builds itself).
            channel = self

            class HubConnection(pool.connection_class):  # type: ignore[name-defined,misc]
                def disconnect(self, *args: Any, **kwargs: Any) -> None:
                    super().disconnect(*args, **kwargs)
                    if getattr(channel, "_registered", True):
                        channel._on_connection_disconnect(self)

            pool.connection_class = HubConnection
        self.keyprefix_fanout = self.keyprefix_fanout.format(db=settings.config.db)
        return pool

    @cached_property
    def subclient(self) -> Any:
        """The fanout (pub/sub) connection, which the event loop reads only when readable.

        Its reads are not retried: a retry would reconnect, subscribe again and then wait on the
        new master for the next message, stalling the event loop until one comes. A lost
        connection is raised to `_receive` instead, and the next poll subscribes again.
        """
        pubsub = self._create_client(asynchronous=True).pubsub()
        pubsub._execute = _execute_once
        return pubsub

    #: The socket the last BRPOP was sent on, until its reply is read.
    _brpop_in_flight: Any = None

    def _brpop_start(self, timeout: float | None = None) -> Any:
        connection = self.client.connection
        if connection is not None and connection.replaced():
            # It predates a switch: sending would reconnect it under kombu, which registered
            # its socket already. Drop it now; the next poll connects and registers afresh.
            connection.disconnect()
            return None
        if (
            connection is not None
            and self._brpop_in_flight is not None
            and connection._sock is self._brpop_in_flight
        ):
            # Sent, then hidden from kombu by a reconnect that raced the send: its reply is
            # still to come. A second BRPOP would leave one reply unread, and its message lost.
            self._in_poll = connection
            return None
        result = super()._brpop_start(timeout)
        if connection is not None and self.active_queues:  # kombu sent it (on this socket)
            self._brpop_in_flight = connection._sock
        return result

    @cached_property
    def _resume(self) -> vedette.metrics.ResumeClock:
        """Times the first message this channel delivers after a master switch."""
        return vedette.metrics.ResumeClock(
            vedette.shared_watcher(self.connection.settings.config), "celery"
        )

    def _brpop_read(self, **options: Any) -> Any:
        self._brpop_in_flight = None
        try:
            delivered = super()._brpop_read(**options)
            self._resume.received()
            return delivered
        except redis.ConnectionError as error:
            if not _cut_by_failover(error):
                raise
            # kombu has disconnected the connection; the next poll sends BRPOP again, on the
            # master the pool knows by then (connecting waits for a promotion to end).
            _log_rearm("BRPOP", error)
            raise Empty() from None

    def _receive(self) -> Any:
        try:
            return super()._receive()
        except redis.ConnectionError as error:
            if not _cut_by_failover(error):
                raise
            self._drop_subscription()
            _log_rearm("the fanout subscription", error)
            raise Empty() from None

    def _poll_error(self, type: str, **options: Any) -> Any:
        try:
            return super()._poll_error(type, **options)
        except redis.ConnectionError as error:
            if not _cut_by_failover(error):
                raise
            if type == "LISTEN":
                self._drop_subscription()
            else:
                self.client.connection.disconnect()
            raise Empty() from None

    def close(self) -> None:
        """kombu's; the resume clock stops listening to the watcher."""
        if "_resume" in self.__dict__:
            self._resume.close()
        super().close()

    def _drop_subscription(self) -> None:
        # Disconnecting unregisters the socket from the event loop (HubConnection); the next
        # poll connects to the master and subscribes again (kombu's _register_LISTEN).
        connection = self.subclient.connection
        self._in_listen = None  # type: ignore[assignment]  # as kombu itself does
        if connection is not None:
            connection.disconnect()


def _execute_once(connection: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
    return command(*args, **kwargs)


def _log_rearm(what: str, error: BaseException) -> None:
    logger.info("Redis Sentinel failover: %s is sent again on the master (%s)", what, error)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport for ``redis-sentinel://`` and ``rediss-sentinel://`` URLs.

    The URL is ``redis-sentinel://[user:password@]host1:26379,host2:26379/service_name/db?options``
    (hosts are Sentinels); transport options may add Vedette's settings, in the vocabularies of
    kombu (``master_name``, ``sentinel_kwargs``) and celery-redis-sentinel (``sentinels``,
    ``service_name``). See `vedette_celery.settings`.
    """

    Channel = Channel
    #: kombu hands the whole URL over: it holds several hosts, which kombu cannot parse.
    can_parse_url = True
    default_port = 26379

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        url, options = unmask(client.hostname), unmask(client.transport_options)
        self.settings: CelerySettings = split(
            url,
            options,
            url_setting="broker_url",
            options_setting="broker_transport_options",
        )
        # kombu hands its connection's URL and options to anyone who asks (Celery broadcasts
        # them in `inspect stats`, which Flower shows): leave them masked there. A connection
        # kombu clones from this one carries the real ones to its own transport.
        client.hostname = MaskedURL(url)
        client.transport_options = MaskedOptions(options)

    def as_uri(self, uri: str, include_password: bool = False, mask: str = "**") -> str:
        """The URL as kombu and Celery print it: user names and passwords masked unless asked."""
        url = unmask(uri)
        return url if include_password else mask_url(url, mask)
