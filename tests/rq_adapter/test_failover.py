"""Real ``rq worker`` processes on a real cluster through every fault (the shared harness).

Each test streams jobs from a producer (RQ's `Queue` on `vedette_rq.connect`) to workers started
from RQ's own command line, breaks the master half-way, drains, and counts: producer errors,
lost, duplicated, jobs left in the queue, the intermediate list, the started, failed and
scheduled registries, writes to the old master after the promotion, and how soon after
``+switch-master`` jobs ran again; then the worker must still run, and a canary batch must run.

A worker that forks a work horse per job runs about 30 jobs/s here: its stream is 20/s (busy
two thirds of the time when the fault lands); `SimpleWorker` takes RQ users' 100/s.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import rq
import rq.worker
from rq import Queue

import vedette_rq
from vedette.testing import ClusterFactory, SentinelCluster, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import JOB, rq_command, rq_worker
from vedette_harness.rq_queues import left_over
from vedette_harness.stream import (
    FAULTS,
    Fault,
    StreamReport,
    assert_survived,
    least_privileged_cluster,
    run_canaries,
    run_stream,
)
from vedette_harness.workers import WorkerFactory


def stream_through(
    cluster: SentinelCluster, queue: Queue, fault: Fault, log: Path, *, count: int, rate: float
) -> StreamReport:
    """The harness's stream; what is left in queues and registries counted."""
    return run_stream(
        cluster,
        lambda number: queue.enqueue(JOB, number),
        fault=fault,
        log=log,
        count=count,
        rate=rate,
        drain_timeout=60,
        left_over=lambda: sum(left_over(cluster).values()),
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_a_worker_survives(
    fault: Fault,
    sentinel_cluster: SentinelCluster,
    rq_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    worker = rq_worker_factory(rq_worker(sentinel_cluster.url, "--with-scheduler"))
    queue = Queue("default", connection=vedette_rq.connect(sentinel_cluster.url))
    log = tmp_path / "executions.log"
    report = stream_through(sentinel_cluster, queue, fault, log, count=400, rate=20)
    assert worker.alive, worker.text()
    assert_survived(report, resume_within=0.5)
    run_canaries(lambda number: queue.enqueue(JOB, number), log)


@pytest.mark.parametrize(
    ("kind", "rate", "count"),
    [("SimpleWorker", 100, 2000), ("SpawnWorker", 4, 40), ("worker pool", 20, 400)],
)
def test_every_kind_of_worker_survives_kill_9(
    kind: str,
    rate: float,
    count: int,
    sentinel_cluster: SentinelCluster,
    rq_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    url = sentinel_cluster.url
    if kind == "SpawnWorker" and not hasattr(rq.worker, "SpawnWorker"):
        pytest.skip("RQ has a SpawnWorker from 2.2 on")
    if kind == "worker pool":
        command = rq_command(
            "worker-pool", "-w", "vedette_rq.Worker", "--connection-class", "vedette_rq.Redis"
        )
        worker = rq_worker_factory([*command, "-u", url, "-n", "2", "default"], ready=2)
    else:
        worker = rq_worker_factory(rq_worker(url, worker_class=f"vedette_rq.{kind}"))
    queue = Queue("default", connection=vedette_rq.connect(url))
    log = tmp_path / "executions.log"
    # A spawned work horse is a new interpreter: a job waits for its start-up, failover or not.
    start_up = _latency(queue, log) if kind == "SpawnWorker" else 0.0
    report = stream_through(sentinel_cluster, queue, "kill", log, count=count, rate=rate)
    assert worker.alive, worker.text()
    print(f"{kind}: {start_up * 1000:.0f} ms from enqueue to run with nothing failing")
    assert_survived(report, resume_within=0.5 + start_up)
    run_canaries(lambda number: queue.enqueue(JOB, number), log, 5 if kind == "SpawnWorker" else 20)


def test_a_worker_survives_kill_9_as_a_least_privilege_user(
    sentinel_cluster_factory: ClusterFactory, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    # RQ 2's worker runs CLIENT LIST (@admin @dangerous) as it starts; RQ 3 asks CLIENT INFO.
    grant = "" if int(rq.__version__.split(".")[0]) >= 3 else "+client|list"
    cluster = least_privileged_cluster(sentinel_cluster_factory, grant=grant)
    worker = rq_worker_factory(rq_worker(cluster.url, "--with-scheduler"))
    queue = Queue("default", connection=vedette_rq.connect(cluster.url))
    log = tmp_path / "executions.log"
    report = stream_through(cluster, queue, "kill", log, count=400, rate=20)
    assert worker.alive, worker.text()
    assert_survived(report, resume_within=0.5)
    assert "NOPERM" not in worker.text()
    run_canaries(lambda number: queue.enqueue(JOB, number), log)


def test_work_horses_follow_the_workers_watcher(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory
) -> None:
    # A horse is forked per job from a worker that watches: it runs no thread of its own, also
    # for the job's result, before and after a kill -9.
    rq_worker_factory(rq_worker(sentinel_cluster.url))
    queue = Queue("default", connection=vedette_rq.connect(sentinel_cluster.url))

    def horse_threads() -> list[str]:
        job = queue.enqueue("vedette_harness.rq_jobs.vedette_threads")
        wait_until(lambda: job.get_status(refresh=True) == "finished", 30, "the job")
        returned = job.return_value()
        assert returned is not None
        _, names = returned
        return list(names)

    assert horse_threads() == []
    sentinel_cluster.kill_master()
    sentinel_cluster.wait_for_switch(30)
    assert horse_threads() == []


def _latency(queue: Queue, log: Path) -> float:
    """The longest of three jobs' times from enqueue to run, one at a time."""
    latencies = []
    for number in range(20_000, 20_003):
        sent = time.monotonic()
        queue.enqueue(JOB, number)
        wait_until(lambda: number in dict(read_execution_log(log)), 30, "a job")  # noqa: B023
        latencies.append(dict(read_execution_log(log))[number] - sent)
    return max(latencies)
