"""The test process's side of Celery: a cluster's Celery URL, and a producer app on it.

Imports Celery and vedette_celery: only where they are installed (the Celery adapter's tests,
the schedule's Celery tests).
"""

from __future__ import annotations

from celery import Celery

import vedette_celery
from vedette.testing import SentinelCluster

__all__ = ["celery_url", "producer_app"]


def celery_url(cluster: SentinelCluster, db: int = 0) -> str:
    """The cluster's service as a Celery URL (``redis-sentinel://``, ``rediss-`` with TLS)."""
    url, _, query = cluster.url.partition("?")
    return vedette_celery.celery_url(f"{url}/{db}") + (f"?{query}" if query else "")


def producer_app(broker_url: str, result_backend: str | None = None) -> Celery:
    """An app in the test process, as a producer or a client of results."""
    vedette_celery.register()
    app = Celery("vedette_tests_producer", set_as_current=False)
    app.conf.update(broker_url=broker_url, result_backend=result_backend)
    return app
