"""Redis Sentinel failover safety for Celery.

A broker transport, a result backend, a dispatcher for the schedule store
(`CeleryDispatcher`), and ``celery beat -S vedette`` on that store (`vedette_celery.beat`).

Importing this package registers the ``redis-sentinel://`` and ``rediss-sentinel://`` schemes
(the ``celery`` command does it by itself, through an entry point)::

    broker_url = "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster/0"
    result_backend = "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster/1"

See docs/celery.md.
"""

import logging as _logging

from vedette_celery.backend import ResultBackend
from vedette_celery.dispatch import CeleryDispatcher
from vedette_celery.registration import register
from vedette_celery.retrying import ensure_redis_call
from vedette_celery.settings import CelerySettings, celery_url, split
from vedette_celery.transport import Channel, Transport

# A library logs; the application decides where its records go (docs/operations.md).
_logging.getLogger("vedette_celery").addHandler(_logging.NullHandler())

__all__ = [
    # Registration
    "register",
    # Settings
    "CelerySettings",
    "celery_url",
    "split",
    # Broker
    "Channel",
    "Transport",
    # Result backend
    "ResultBackend",
    # Retrying
    "ensure_redis_call",
    # The schedule store
    "CeleryDispatcher",
]

register()
