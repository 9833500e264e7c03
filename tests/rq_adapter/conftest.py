"""Fixtures for the RQ adapter's tests: real ``rq worker`` processes, as users run them.

Every worker is started from RQ's own command line with Vedette's classes:
``rq worker -w vedette_rq.Worker --connection-class vedette_rq.Redis -u redis+sentinel://...``
(`vedette_harness.rq_commands`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vedette_harness.workers import WorkerFactory


@pytest.fixture
def rq_worker_factory(tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start RQ command lines (``rq worker``, ``rq worker-pool`` ...); stopped after the test.

    ``ready`` is how many times ``Listening on`` must show in the output before it returns.
    """
    with WorkerFactory(tmp_path, marker="Listening on") as factory:
        yield factory
