"""A ``celery worker`` watches the Sentinels in its main process, before its pool forks.

Celery forks a prefork pool's processes before the worker connects to the broker. With no watcher
running in the main process at that moment, each pool process would start one of its own the
first time it stores a result: threads, and a subscription to every Sentinel, per process. So
the worker's main process starts the watchers of its broker and of its result backend when the
worker initialises (Celery's ``worker_init``): every pool process forked afterwards follows them
through shared memory, with no thread of its own (`vedette.shared_watcher`). The broker's and
the result backend's share one watcher when only the database differs.
"""

from __future__ import annotations

from typing import Any

from celery import signals

import vedette
from vedette_celery.backend import ResultBackend
from vedette_celery.transport import Transport

__all__ = ["watch_before_forking"]

# The watchers each worker (by id) holds, until it shuts down.
_held: dict[int, list[vedette.FailoverWatcher]] = {}


def watch_before_forking() -> None:
    """Connect the worker signals that hold the watchers (`vedette_celery.register` does it)."""
    signals.worker_init.connect(_watch, weak=False, dispatch_uid="vedette_celery.watch")
    signals.worker_shutdown.connect(_stop, weak=False, dispatch_uid="vedette_celery.stop")


def _watch(sender: Any, **_: Any) -> None:
    """On ``worker_init``: hold the watchers of the broker's and the result backend's service."""
    watchers = [vedette.shared_watcher(config) for config in _sentinel_configs(sender.app)]
    _held[id(sender)] = [watcher.start() for watcher in dict.fromkeys(watchers)]


def _stop(sender: Any, **_: Any) -> None:
    """On ``worker_shutdown``: let them go."""
    for watcher in _held.pop(id(sender), []):
        watcher.close()


def _sentinel_configs(app: Any) -> list[vedette.SentinelConfig]:
    """The Sentinel services of the app's broker and result backend, if they are Vedette's."""
    configs = []
    # A connection that never connects: its transport holds the broker's settings.
    connection = app.connection_for_read()
    try:
        if isinstance(connection.transport, Transport):
            configs.append(connection.transport.settings.config)
    finally:
        connection.release()
    backend = app.backend
    if isinstance(backend, ResultBackend):
        configs.append(backend.sentinel_config)
    return configs
