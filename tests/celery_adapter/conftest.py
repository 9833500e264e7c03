"""Fixtures for the Celery adapter's tests: real ``celery worker`` processes, kombu's pools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kombu.pools
import pytest

from vedette_harness.workers import CeleryWorkers, WorkerFactory


@pytest.fixture(autouse=True)
def _close_kombus_pools() -> Iterator[None]:
    """After each test, close the connections kombu keeps for the producers of the test process.

    kombu pools them process-wide (``app.close()`` leaves them open): their watcher would go on
    watching a cluster long stopped, in every later test (docs/celery.md, "Closing a producer").
    """
    yield
    kombu.pools.reset()


@pytest.fixture
def celery_worker_factory(tmp_path: Path) -> Iterator[CeleryWorkers]:
    """Start ``celery worker`` processes on vedette_harness.celery_app; stopped after the test."""
    with WorkerFactory(tmp_path, marker=CeleryWorkers.MARKER) as factory:
        yield CeleryWorkers(factory)
