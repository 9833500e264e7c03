"""Make Celery and kombu know the ``redis-sentinel://`` and ``rediss-sentinel://`` schemes.

kombu has no entry points for transports: importing `vedette_celery` adds the schemes to its
table of transport aliases, and so does the ``celery`` command, which loads the adapter's
``celery.commands`` entry point (its ``vedette`` subcommand) before it reads the settings.
Celery finds the result backend through the ``celery.result_backends`` entry points, and through
its table of backend aliases once the adapter is imported.

Registering also makes Celery's settings reports (``celery report``, ``inspect report``,
``inspect conf``) mask user names and the credentials in these URLs, which Celery alone shows
(see `vedette_celery._masking`).
"""

from __future__ import annotations

from celery.app.backends import BACKEND_ALIASES
from kombu.transport import TRANSPORT_ALIASES

from vedette_celery._masking import censor_celery_reports
from vedette_celery.settings import SCHEMES
from vedette_celery.worker import watch_before_forking

__all__ = ["register"]

_TRANSPORT = "vedette_celery.transport:Transport"
_BACKEND = "vedette_celery.backend:ResultBackend"


def register() -> None:
    """Register the schemes with kombu (broker) and Celery (result backend); idempotent.

    Also makes a worker's main process watch the Sentinels before its pool forks
    (`vedette_celery.worker`), and Celery's reports mask credentials (`vedette_celery._masking`).
    """
    for scheme in SCHEMES:
        TRANSPORT_ALIASES[scheme] = _TRANSPORT
        BACKEND_ALIASES[scheme] = _BACKEND
    censor_celery_reports()
    watch_before_forking()
