"""Fixtures for the RQ adapter's tests: real ``rq worker`` processes, as users run them.

Every worker is started from RQ's own command line with Vedette's classes:
``rq worker -w vedette_rq.Worker --connection-class vedette_rq.Redis -u redis+sentinel://...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.survives_failover import WorkerProcess

WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def rq_worker_factory(tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start RQ command lines (``rq worker``, ``rq worker-pool`` ...); stopped after the test.

    ``ready`` is how many times ``Listening on`` must show in the output before it returns.
    """
    workers: list[WorkerProcess] = []

    def start(
        command: list[str], *, ready: int = 1, environment: dict[str, str] | None = None
    ) -> WorkerProcess:
        worker = WorkerProcess(
            command,
            log=tmp_path / "executions.log",
            output=tmp_path / f"worker{len(workers)}.out",
            environment=environment or {},
        )
        workers.append(worker.start())
        return worker.wait_ready("Listening on", ready)

    yield start
    for worker in workers:
        worker.stop()
