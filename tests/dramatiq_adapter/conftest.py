"""Fixtures for the Dramatiq adapter's tests: real ``dramatiq`` worker processes on a cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vedette_harness.workers import DramatiqWorkers, WorkerFactory


@pytest.fixture
def dramatiq_worker_factory(tmp_path: Path) -> Iterator[DramatiqWorkers]:
    """Start ``dramatiq`` processes on vedette_harness.dramatiq_app; stopped after the test."""
    with WorkerFactory(tmp_path, marker=DramatiqWorkers.MARKER) as factory:
        yield DramatiqWorkers(factory)
