"""RQ's scheduler (``--with-scheduler``, ``enqueue_at``) on `vedette_rq.Worker`, through failovers.

RQ's scheduler dies on the first Redis error its client gives up on, and RQ's worker starts it
again only in its maintenance, every 10 minutes. Here the worker's client gives up after 1 s
(``retry_deadline=1``), well inside the failover: the scheduler and the worker must wait it out
anyway, every job scheduled across it must run once and on time, and the scheduler's lock must be
on the new master.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

from rq import Queue
from rq.scheduler import RQScheduler

import vedette_rq
from vedette.testing import SentinelCluster, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import JOB, rq_worker
from vedette_harness.rq_queues import left_over, master_client
from vedette_harness.rq_schedules import lateness_across_a_kill
from vedette_harness.workers import WorkerFactory


def children(pid: int) -> set[int]:
    """The processes ``pid`` forked that still run (its scheduler; a work horse, if busy)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def test_jobs_scheduled_across_a_failover_run_once_and_on_time(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    url = sentinel_cluster.url
    worker = rq_worker_factory(rq_worker(url + "?retry_deadline=1", "--with-scheduler"))
    assert worker.process is not None
    pid = worker.process.pid
    wait_until(lambda: len(children(pid)) == 1, 10, "the scheduler process")
    scheduler = children(pid)
    queue = Queue("default", connection=vedette_rq.connect(url))
    late = lateness_across_a_kill(sentinel_cluster, queue, tmp_path / "executions.log")
    print(f"lateness {late}")
    assert all(len(runs) == 1 for runs in late.values()), late  # each ran, once
    # On time: within a second of its time, or of the switch if due while there was no master.
    assert all(0 <= runs[0] < 1.0 for runs in late.values()), late
    assert worker.alive
    assert scheduler <= children(pid)  # the same process: it waited the failover out
    with master_client(sentinel_cluster) as client:
        assert client.ttl(RQScheduler.get_locking_key("default")) > 0  # its lock moved along
    assert left_over(sentinel_cluster) == {}


def test_the_worker_restarts_a_scheduler_that_died(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    url = sentinel_cluster.url
    worker = rq_worker_factory(rq_worker(url, "--with-scheduler"))
    assert worker.process is not None
    pid = worker.process.pid
    wait_until(lambda: len(children(pid)) == 1, 10, "the scheduler process")
    (scheduler,) = children(pid)
    os.kill(scheduler, signal.SIGKILL)  # RQ's worker would start it again in 10 minutes
    wait_until(lambda: len(children(pid) - {scheduler}) == 1, 30, "a new scheduler process")
    queue = Queue("default", connection=vedette_rq.connect(url))
    queue.enqueue_in(timedelta(seconds=1), JOB, 1)
    log = tmp_path / "executions.log"
    wait_until(lambda: [n for n, _ in read_execution_log(log)] == [1], 10, "the scheduled job")
