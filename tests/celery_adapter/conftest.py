"""Fixtures for the Celery adapter's tests: apps on a cluster, and real worker processes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import kombu.pools
import pytest
from celery import Celery

import vedette_celery
from tests.survives_failover import WorkerProcess
from vedette.testing import SentinelCluster

WorkerFactory = Callable[..., WorkerProcess]


def celery_url(cluster: SentinelCluster, db: int = 0) -> str:
    """The cluster's service as a Celery URL (``redis-sentinel://``, ``rediss-`` with TLS)."""
    url, _, query = cluster.url.partition("?")
    scheme, _, rest = url.partition("://")
    return f"{scheme.replace('+', '-')}://{rest}/{db}" + (f"?{query}" if query else "")


def producer_app(broker_url: str, result_backend: str | None = None) -> Celery:
    """An app in the test process, as a producer or a client of results."""
    vedette_celery.register()
    app = Celery("vedette_tests_producer", set_as_current=False)
    app.conf.update(broker_url=broker_url, result_backend=result_backend)
    return app


@pytest.fixture(autouse=True)
def _close_kombus_pools() -> Iterator[None]:
    """After each test, close the connections kombu keeps for the producers of the test process.

    kombu pools them process-wide (``app.close()`` leaves them open): their watcher would go on
    watching a cluster long stopped, in every later test (docs/celery.md, "Closing a producer").
    """
    yield
    kombu.pools.reset()


@pytest.fixture
def celery_worker_factory(tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start ``celery worker`` processes on tests/celery_adapter/worker_app.py; stopped after."""
    workers: list[WorkerProcess] = []

    def start(
        broker_url: str,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        result_backend: str = "",
        options: dict[str, object] | None = None,
        acks_late: bool = False,
        events: bool = False,
        loglevel: str = "info",
    ) -> WorkerProcess:
        name = f"worker{len(workers)}"
        worker = WorkerProcess(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_adapter.worker_app",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                loglevel,
                "--hostname",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
                *(["--task-events"] if events else []),
            ],
            log=tmp_path / "executions.log",
            output=tmp_path / f"{name}.out",
            environment={
                "VEDETTE_BROKER_URL": broker_url,
                "VEDETTE_RESULT_BACKEND": result_backend,
                "VEDETTE_BROKER_OPTIONS": json.dumps(options or {}),
                "VEDETTE_ACKS_LATE": "1" if acks_late else "0",
            },
        )
        workers.append(worker.start())
        return worker.wait_ready(" ready.")

    yield start
    for worker in workers:
        worker.stop()
