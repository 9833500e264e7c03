"""RQ's features that rebuild or forward a connection, with Vedette's, through a failover.

Worker commands sent over pub/sub, job dependencies, blocking on a job's result, RQ's cron
scheduler, and RQ's own ``SENTINEL`` settings (``rq worker -c settings``), each with a real
``rq`` process and a real fault.
"""

from __future__ import annotations

import time
from importlib.util import find_spec
from pathlib import Path

import pytest
from rq import Queue
from rq.command import send_kill_horse_command, send_shutdown_command, send_stop_job_command
from rq.job import Job, JobStatus

import vedette_rq
from vedette.testing import SentinelCluster, SwitchClock, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import JOB, rq_command, rq_worker
from vedette_harness.rq_queues import left_over
from vedette_harness.stream import assert_survived, run_stream
from vedette_harness.workers import WorkerFactory

ROOT = Path(__file__).resolve().parents[2]
SLOW_JOB = "vedette_harness.rq_jobs.record_slowly"


def ran(log: Path) -> list[int]:
    return [number for number, _ in read_execution_log(log)]


def running(job: Job) -> bool:
    """The job runs in a work horse (what worker commands act on); see jobs.record_slowly."""
    return bool(job.get_meta(refresh=True).get("running"))


def test_worker_commands_reach_a_worker_after_a_failover(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    url = sentinel_cluster.url
    worker = rq_worker_factory(rq_worker(url, "-n", "commanded"))
    connection = vedette_rq.connect(url)
    queue = Queue("default", connection=connection)
    first = queue.enqueue(SLOW_JOB, 1, 60)
    wait_until(lambda: running(first), 10, "the job in a work horse")
    sentinel_cluster.kill_master()  # the worker's subscription is on the old master
    new = sentinel_cluster.wait_for_switch(30)
    # A command published before the worker subscribed on the new master reaches nobody (as
    # with any pub/sub): the subscription must come back, by itself, soon.
    channel = "rq:pubsub:commanded"
    subscribed = sentinel_cluster.client(new).pubsub_numsub
    wait_until(lambda: subscribed(channel)[0][1] == 1, 5, "the worker's subscription")
    send_kill_horse_command(connection, "commanded")
    wait_until(lambda: first.get_status(refresh=True) == JobStatus.FAILED, 20, "the horse killed")
    second = queue.enqueue(SLOW_JOB, 2, 60)
    wait_until(lambda: running(second), 10, "the job in a work horse")
    send_stop_job_command(connection, second.id)
    wait_until(lambda: second.get_status(refresh=True) == JobStatus.STOPPED, 20, "the job stopped")
    send_shutdown_command(connection, "commanded")
    wait_until(lambda: not worker.alive, 20, "the worker to shut down")
    assert worker.process is not None
    assert worker.process.returncode == 0
    assert ran(tmp_path / "executions.log") == []  # neither slow job got to its end


def test_dependent_jobs_run_once_in_order_through_kill_9(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    url = sentinel_cluster.url
    rq_worker_factory(rq_worker(url))
    queue = Queue("default", connection=vedette_rq.connect(url))
    log = tmp_path / "executions.log"

    def send_chain(number: int) -> None:  # n, then 1000 + n once n has run
        first = queue.enqueue(JOB, number)
        queue.enqueue(JOB, 1000 + number, depends_on=first)

    report = run_stream(sentinel_cluster, send_chain, fault="kill", log=log, count=100, rate=10)
    wait_until(lambda: len(read_execution_log(log)) >= 2 * len(report.sent), 60, "every chain")
    at = dict(read_execution_log(log))
    assert report.producer_errors == []
    assert sorted(ran(log)) == sorted([*report.sent, *(1000 + n for n in report.sent)])
    assert all(at[number] < at[1000 + number] for number in report.sent)
    wait_until(lambda: not left_over(sentinel_cluster), 10, "the queues to empty")


def test_a_result_is_waited_for_through_kill_9(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory
) -> None:
    url = sentinel_cluster.url
    rq_worker_factory(rq_worker(url))
    queue = Queue("default", connection=vedette_rq.connect(url))
    job = queue.enqueue(SLOW_JOB, 7, 8)  # longer than the client's socket_timeout (5 s)
    wait_until(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 10, "the job")
    sentinel_cluster.kill_master()
    started = time.monotonic()
    result = job.latest_result(timeout=60)  # blocks on the old master, then on the new one
    assert result is not None
    assert result.return_value == 7
    assert time.monotonic() - started < 30
    assert Job.fetch(job.id, connection=queue.connection).get_status() == JobStatus.FINISHED


@pytest.mark.skipif(find_spec("rq.cron") is None, reason="RQ has a cron scheduler from 2.4 on")
def test_rq_cron_keeps_enqueueing_through_kill_9(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    url = sentinel_cluster.url
    rq_worker_factory(rq_worker(url))
    cron = rq_command(
        "cron",
        "--connection-class",
        "vedette_rq.Redis",
        "-u",
        url,
        "tests/rq_adapter/cron_config.py",
    )
    # RQ's cron imports a relative path to its configuration as a module: run from the root.
    scheduler = rq_worker_factory(cron, ready=0, cwd=ROOT)
    log = tmp_path / "executions.log"
    wait_until(lambda: len(ran(log)) >= 2, 20, "the first ticks")
    with SwitchClock(sentinel_cluster) as clock:
        sentinel_cluster.kill_master()
        new = sentinel_cluster.wait_for_switch(30)
        wait_until(lambda: str(new) in clock.switched_at, 10, "the switch to be clocked")
    switched = clock.switched_at[str(new)]
    wait_until(
        lambda: len([at for _, at in read_execution_log(log) if at > switched]) >= 3,
        30,
        "ticks after the switch",
    )
    first_after = min(at for _, at in read_execution_log(log) if at > switched)
    assert first_after - switched < 2.0  # the next tick after the master is back
    assert scheduler.alive


def test_rq_s_sentinel_settings_work_with_a_vedette_worker(
    sentinel_cluster: SentinelCluster, rq_worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    sentinels = ",".join(map(str, sentinel_cluster.sentinel_addresses))
    command = rq_command(
        "worker", "-w", "vedette_rq.Worker", "-c", "vedette_harness.rq_sentinel_settings", "default"
    )
    worker = rq_worker_factory(command, environment={"VEDETTE_SENTINELS": sentinels})
    # A producer's code reads the same kind of dict.
    settings = {
        "INSTANCES": [
            (address.host, address.port) for address in sentinel_cluster.sentinel_addresses
        ],
        "MASTER_NAME": sentinel_cluster.service_name,
    }
    queue = Queue("default", connection=vedette_rq.connect(settings))
    log = tmp_path / "executions.log"
    report = run_stream(
        sentinel_cluster,
        lambda number: queue.enqueue(JOB, number),
        fault="kill",
        log=log,
        count=200,
        rate=20,
        left_over=lambda: sum(left_over(sentinel_cluster).values()),
    )
    assert worker.alive, worker.text()
    assert_survived(report, resume_within=0.5)
