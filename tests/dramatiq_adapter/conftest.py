"""Fixtures for the Dramatiq adapter's tests: real ``dramatiq`` worker processes on a cluster."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.survives_failover import WorkerProcess
from vedette.testing import SentinelCluster

WorkerFactory = Callable[..., WorkerProcess]
MODES = ("broker", "middleware")


@pytest.fixture
def dramatiq_worker_factory(tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start ``dramatiq`` processes on tests/dramatiq_adapter/worker_app.py; stopped after."""
    workers: list[WorkerProcess] = []

    def start(
        cluster: SentinelCluster, *, mode: str = "broker", processes: int = 1, threads: int = 4
    ) -> WorkerProcess:
        name = f"worker{len(workers)}"
        worker = WorkerProcess(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "tests.dramatiq_adapter.worker_app",
                "--processes",
                str(processes),
                "--threads",
                str(threads),
            ],
            log=tmp_path / "executions.log",
            output=tmp_path / f"{name}.out",
            environment={"VEDETTE_URL": cluster.url, "VEDETTE_DRAMATIQ_MODE": mode},
        )
        workers.append(worker.start())
        return worker.wait_ready("is ready for action", processes)

    yield start
    for worker in workers:
        worker.stop()
