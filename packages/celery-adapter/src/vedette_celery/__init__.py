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
from importlib.metadata import version as _version

from vedette_celery.compat import check_celery_version as _check_celery_version
from vedette_celery.compat import check_kombu_version as _check_kombu_version

# Before Celery's and kombu's classes are subclassed: a clear error, not an odd one.
_check_celery_version()
_check_kombu_version()

from vedette_celery.backend import ResultBackend  # noqa: E402
from vedette_celery.dispatch import CeleryDispatcher  # noqa: E402
from vedette_celery.registration import register  # noqa: E402
from vedette_celery.retrying import ensure_redis_call  # noqa: E402
from vedette_celery.settings import CelerySettings, celery_url, split  # noqa: E402
from vedette_celery.transport import Channel, Transport  # noqa: E402

__version__ = _version("vedette-celery")
"""The installed version of the ``vedette-celery`` distribution."""

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
    # Metadata
    "__version__",
]

register()
