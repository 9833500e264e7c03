"""RQ on a Vedette connection: in code, and on RQ's own command line with a Sentinel URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Queue

import vedette
from tests.survives_failover import (
    EXECUTION_LOG_VARIABLE,
    ROOT,
    WorkerProcess,
    read_execution_log,
    run_stream,
)
from vedette.testing import SentinelCluster, wait_until
from vedette_rq import Redis, connect

JOB = "tests.rq_adapter.jobs.record"


def rq_worker(url: str, *options: str) -> list[str]:
    """RQ's command line, as the adapter's users write it."""
    command = ["worker", "--connection-class", "vedette_rq.Redis", "-u", url, *options]
    return [sys.executable, "-m", "rq.cli", *command]


def test_from_url_reads_sentinel_urls_and_leaves_others_to_redis_py() -> None:
    plain = Redis.from_url("redis://10.0.0.9:6380/2")
    assert isinstance(plain, Redis)
    assert plain.connection_pool.connection_kwargs["port"] == 6380
    following = Redis.from_url("redis+sentinel://10.0.0.1,10.0.0.2/svc/3")
    assert isinstance(following.connection_pool, vedette.MasterPool)
    assert following.connection_pool.config.db == 3
    with pytest.raises(vedette.ConfigurationError, match="service"):
        Redis.from_url("redis+sentinel://10.0.0.1")


def test_rq_s_command_line_runs_jobs_on_a_sentinel_url(
    sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    queue = Queue("default", connection=connect(sentinel_cluster.url))
    for number in range(20):
        queue.enqueue(JOB, number)
    log = tmp_path / "executions.log"
    subprocess.run(
        rq_worker(sentinel_cluster.url, "--burst", "default"),
        env={**_environment(), EXECUTION_LOG_VARIABLE: str(log)},
        cwd=ROOT,
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert sorted(number for number, _ in read_execution_log(log)) == list(range(20))


def test_a_stock_worker_on_a_vedette_connection_goes_on_after_kill_9(
    sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    # RQ's own Worker (vedette_rq.Worker is to come), its client from the command line. A
    # worker that forks a horse per job runs about 25 jobs/s here: the stream is 20/s.
    log = tmp_path / "executions.log"
    worker = WorkerProcess(
        rq_worker(sentinel_cluster.url, "default"), log=log, output=tmp_path / "worker.out"
    )
    queue = Queue("default", connection=connect(sentinel_cluster.url))
    worker.start()
    try:
        wait_until(lambda: "Listening on" in worker.text() or not worker.alive, 60, "the worker")
        report = run_stream(
            sentinel_cluster,
            lambda number: queue.enqueue(JOB, number),
            fault="kill",
            log=log,
            count=300,
            rate=20,
            drain_timeout=60,
        )
        print(report.summary())
        assert worker.alive
        assert report.producer_errors == []
        assert report.lost == []
        assert report.duplicated == []
        assert report.resumed_after_switch is not None
    finally:
        worker.stop()


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}
