"""The demo's framework part: real Celery, Dramatiq and RQ workers on Sentinel, through kill -9.

Each worker runs the jobs its adapter's tests use (``vedette_harness.celery_app``,
``vedette_harness.dramatiq_app``, ``vedette_harness.rq_jobs``: the job notes each run in a file)
and the stream is the one every adapter's tests use (``vedette_harness.stream``): jobs sent at a
steady pace, the master killed half-way, then counted.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from celery import Celery
from rq import Queue

import vedette
import vedette_celery
from vedette.testing import SentinelCluster, wait_until
from vedette_dramatiq import SentinelBroker
from vedette_harness.dramatiq_queues import left_over, message
from vedette_harness.rq_commands import JOB, rq_worker
from vedette_harness.rq_queues import left_over as rq_left_over
from vedette_harness.stream import StreamReport, run_stream
from vedette_harness.workers import WorkerProcess, running
from vedette_rq import connect as rq_connect


def celery(tasks: int) -> None:
    print(
        f"\nCelery: a fresh cluster, a `celery worker` (prefork, 2 processes) on a "
        f"redis-sentinel:// broker,\n{tasks} tasks at 100/s, kill -9 of the master half-way ..."
    )
    with SentinelCluster(service_name="demo") as cluster, tempfile.TemporaryDirectory() as name:
        url = cluster.url.replace("redis+sentinel://", "redis-sentinel://", 1) + "/0"
        print(f"  broker_url       {url}")
        command = ["-A", "vedette_harness.celery_app", "worker", "-c", "2"]
        options = ["--loglevel", "warning", "--without-mingle", "--without-gossip"]
        worker = _worker(["celery", *command, *options], {"VEDETTE_BROKER_URL": url}, name)
        with running(worker):
            vedette_celery.register()
            app = Celery("demo", set_as_current=False)
            app.conf.broker_url = url
            report = _stream(cluster, lambda n: app.send_task("record", (n,)), tasks, 100, name)
            # kombu keeps a producer's connections in its process-wide pools, which app.close()
            # leaves alone: closed here, they stop watching this cluster (docs/celery.md).
            app.pool.force_close_all()
            app.close()
            alive = worker.alive
        client = vedette.connect(cluster.url)
        left = sum(client.llen(key) for key in client.keys("celery*")) + client.hlen("unacked")
        client.close()
    _print(report, "tasks", f"{left} left in the queue or unacked", alive)


def dramatiq(messages: int) -> None:
    print(
        f"\nDramatiq: a fresh cluster, a `dramatiq` worker (1 process, 4 threads) on a "
        f"SentinelBroker,\n{messages} messages at 150/s, kill -9 of the master half-way ..."
    )
    with SentinelCluster(service_name="demo") as cluster, tempfile.TemporaryDirectory() as name:
        print(f"  url              {cluster.url}")
        command = ["dramatiq", "vedette_harness.dramatiq_app", "--processes", "1"]
        worker = _worker([*command, "--threads", "4"], {"VEDETTE_URL": cluster.url}, name)
        with running(worker):
            broker = SentinelBroker(config=cluster.config, middleware=[])
            report = _stream(cluster, lambda n: broker.enqueue(message(n)), messages, 150, name)
            broker.client.close()
            alive = worker.alive
        left = sum(left_over(cluster).values())
    _print(report, "messages", f"{left} left in queues or acknowledgement sets", alive)


def rq(jobs: int) -> None:
    print(
        f"\nRQ: a fresh cluster, `rq worker -w vedette_rq.Worker --with-scheduler` (a work horse "
        f"forked per job),\n{jobs} jobs at 20/s, kill -9 of the master half-way ..."
    )
    with SentinelCluster(service_name="demo") as cluster, tempfile.TemporaryDirectory() as name:
        print(f"  url              {cluster.url}")
        command = rq_worker(cluster.url, "--with-scheduler", "--quiet")
        worker = WorkerProcess(
            command, log=Path(name) / "executions.log", output=Path(name) / "worker.out"
        )
        with running(worker):
            client = rq_connect(cluster.url)
            queue = Queue("default", connection=client)
            report = _stream(cluster, lambda n: queue.enqueue(JOB, n), jobs, 20, name)
            client.close()
            alive = worker.alive
        left = sum(rq_left_over(cluster).values())
    _print(report, "jobs", f"{left} left in queues or registries", alive)


def _worker(command: list[str], environment: dict[str, str], directory: str) -> WorkerProcess:
    return WorkerProcess(
        [sys.executable, "-m", *command],
        log=Path(directory) / "executions.log",
        output=Path(directory) / "worker.out",
        environment=environment,
    )


def _stream(
    cluster: SentinelCluster, send: Callable[[int], object], count: int, rate: float, name: str
) -> StreamReport:
    log = Path(name) / "executions.log"
    send(-1)  # the first job tells when the worker is consuming
    wait_until(log.exists, 60, "the worker to run a first job")
    return run_stream(cluster, send, fault="kill", log=log, count=count, rate=rate)


def _print(report: StreamReport, jobs: str, left: str, alive: bool) -> None:
    resumed = report.resumed_after_switch
    print(f"  producer errors  {len(report.producer_errors)} (sends blocked, not raised)")
    print(
        f"  {jobs:<16} {len(report.sent)} sent, {len(report.lost)} lost, "
        f"{len(report.duplicated)} ran twice, {left}"
    )
    print(
        "  ran again        "
        + ("never" if resumed is None else f"{resumed * 1000:.0f} ms after +switch-master")
        + f"; the worker {'kept running' if alive else 'EXITED'}"
    )
