"""Claims, forced: each disagreement a failover can leave, put in place on a real cluster.

A lost pop reply is made certain with `vedette.testing.LossyProxy` in front of the master (the
server runs ``BLMOVE``, the worker never hears back); the other cases are written to the master
by hand, as a failover would leave them. Each test runs the same with RQ's own worker to show
that it tests something: RQ strands, repeats or fails what Vedette's worker runs once.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

import vedette_rq
from vedette.testing import LossyProxy, SentinelCluster, wait_until
from vedette_harness.execution_log import EXECUTION_LOG_VARIABLE, read_execution_log
from vedette_harness.rq_commands import JOB, rq_worker
from vedette_harness.rq_queues import left_over, master_client
from vedette_harness.workers import WorkerFactory
from vedette_rq.claims import CLAIM

WORKERS = ["vedette_rq.Worker", "rq.Worker"]


def ran(log: Path) -> list[int]:
    return sorted(number for number, _ in read_execution_log(log))


def blocked_on_blmove(cluster: SentinelCluster) -> bool:
    """Whether a client of the master waits on ``BLMOVE`` (a worker waiting for a job)."""
    with master_client(cluster) as client:
        return any(entry.get("cmd") == "blmove" for entry in client.client_list())


@pytest.mark.parametrize("worker_class", WORKERS)
def test_a_job_whose_pop_reply_was_lost_runs_once(
    worker_class: str,
    sentinel_cluster: SentinelCluster,
    rq_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    master = sentinel_cluster.master_address()
    queue = Queue("default", connection=vedette_rq.connect(sentinel_cluster.url))
    log = tmp_path / "executions.log"
    # Everything happens while the proxy stands: the worker reaches the master only through it.
    with LossyProxy(master) as proxy:
        url = f"{sentinel_cluster.url}?nat={master}={proxy.address}"
        worker = rq_worker_factory(rq_worker(url, worker_class=worker_class))
        wait_until(lambda: blocked_on_blmove(sentinel_cluster), 10, "the worker to wait on BLMOVE")
        proxy.lose_reply_to("BLMOVE")
        queue.enqueue(JOB, 1)
        assert proxy.wait_lost(10)
        queue.enqueue(JOB, 2)  # the next job, popped after the lost one
        if worker_class == "rq.Worker":
            wait_until(lambda: 2 in ran(log), 20, "the next job")
            stranded = {"default:intermediate": 1}  # the first, in the intermediate list
            wait_until(lambda: left_over(sentinel_cluster) == stranded, 10, "the second's end")
            assert ran(log) == [2]
        else:
            wait_until(lambda: ran(log) == [1, 2], 20, "both jobs")
            wait_until(lambda: not left_over(sentinel_cluster), 10, "the lists to empty")
            assert ran(log) == [1, 2]
        worker.stop()


def test_a_claim_whose_reply_was_lost_is_claimed_again(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    master = sentinel_cluster.master_address()
    queue = Queue("default", connection=vedette_rq.connect(sentinel_cluster.url))
    log = tmp_path / "executions.log"
    with master_client(sentinel_cluster) as client:
        client.script_load(CLAIM)  # so the reply lost is the claim's, not a NOSCRIPT
    with LossyProxy(master) as proxy:
        url = f"{sentinel_cluster.url}?nat={master}={proxy.address}"
        worker = rq_worker_factory(rq_worker(url, "-n", "claimer"))
        wait_until(lambda: blocked_on_blmove(sentinel_cluster), 10, "the worker to wait on BLMOVE")
        proxy.lose_reply_to("EVALSHA")  # the claim runs: the job is this worker's, marked so
        job = queue.enqueue(JOB, 1)
        assert proxy.wait_lost(10)
        wait_until(lambda: ran(log) == [1], 20, "the job")
        wait_until(lambda: not left_over(sentinel_cluster), 10, "the lists to empty")
        assert ran(log) == [1]
        job.refresh()
        assert job.get_status() == "finished"
        assert job.worker_name == "claimer"
        worker.stop()


@pytest.mark.parametrize("queues", [("default",), ("default", "other")], ids=["BLMOVE", "BLPOP"])
@pytest.mark.parametrize("worker_class", WORKERS)
def test_a_job_enqueued_twice_runs_once(
    worker_class: str, queues: tuple[str, ...], sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    # What a producer's enqueue whose reply was lost leaves: its id pushed twice. A worker pops
    # with BLMOVE from one queue, with BLPOP from several.
    with master_client(sentinel_cluster) as client:
        queue = Queue("default", connection=client)
        job = queue.enqueue(JOB, 1)
        client.rpush(queue.key, job.id)
        queue.enqueue(JOB, 2)
    log = tmp_path / "executions.log"
    burst(sentinel_cluster.url, worker_class, log, queues)
    assert ran(log) == ([1, 2] if worker_class == "vedette_rq.Worker" else [1, 1, 2])
    assert left_over(sentinel_cluster) == {}


@pytest.mark.parametrize("worker_class", WORKERS)
def test_maintenance_puts_back_what_a_failover_left_half_done(
    worker_class: str, sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    with master_client(sentinel_cluster) as client:
        queue = Queue("default", connection=client)
        intermediate = queue.intermediate_queue
        # 1: claimed by a worker that died before it ran (no execution recorded);
        # 2: popped, and left unclaimed for more than RQ's minute;
        # 3: a stale copy of a job that already finished (left by a pop that ran twice);
        # 4: claimed by a worker that died while it ran (an execution recorded): RQ's to handle.
        jobs = {number: queue.enqueue(JOB, number) for number in (1, 2, 3, 4)}
        client.delete(queue.key)
        client.rpush(intermediate.key, *(job.id for job in jobs.values()))
        for number in (1, 4):
            client.hset(jobs[number].key, mapping={"status": "started", "worker_name": "gone"})
        client.set(intermediate.get_first_seen_key(jobs[2].id), time.time() - 120)
        client.hset(jobs[3].key, "status", "finished")
        started = StartedJobRegistry("default", connection=client)
        client.zadd(started.key, {f"{jobs[4].id}:execution": time.time() + 3600})
    log = tmp_path / "executions.log"
    burst(sentinel_cluster.url, worker_class, log)
    if worker_class == "rq.Worker":
        # RQ runs none: it fails the job stuck for a minute, and leaves the others to be failed
        # on a later pass (the finished one too, which then shows as failed).
        assert ran(log) == []
        with master_client(sentinel_cluster) as client:
            failed = FailedJobRegistry("default", connection=client).get_job_ids()
        assert failed == [jobs[2].id]
        left = {"default:intermediate": 3, "default:failed": 1, "default:started": 1}
        assert left_over(sentinel_cluster) == left
        return
    assert ran(log) == [1, 2]
    assert left_over(sentinel_cluster) == {"default:intermediate": 1, "default:started": 1}


def burst(url: str, worker_class: str, log: Path, queues: tuple[str, ...] = ("default",)) -> None:
    """A burst worker (maintenance first, then the queues until they are empty)."""
    subprocess.run(
        rq_worker(url, "--burst", worker_class=worker_class, queues=queues),
        env={**os.environ, EXECUTION_LOG_VARIABLE: str(log)},
        check=True,
        timeout=120,
        capture_output=True,
    )
