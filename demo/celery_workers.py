"""The demo's Celery part: a real ``celery worker`` on a redis-sentinel:// broker, through kill -9.

The worker runs tests/celery_adapter/worker_app.py (its ``record`` task notes each run in a
file) and the stream is the one every adapter's tests use (tests/survives_failover.py): tasks
sent at a steady pace, the master killed half-way, then counted.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness and the worker's app live in tests/

from celery import Celery  # noqa: E402

import vedette  # noqa: E402
import vedette_celery  # noqa: E402
from tests.survives_failover import WorkerProcess, run_stream, running  # noqa: E402
from vedette.testing import SentinelCluster, wait_until  # noqa: E402

WORKER = [sys.executable, "-m", "celery", "-A", "tests.celery_adapter.worker_app", "worker"]


def run(tasks: int) -> None:
    print(
        f"\nCelery: a fresh cluster, a `celery worker` (prefork, 2 processes) on a "
        f"redis-sentinel:// broker,\n{tasks} tasks at 100/s, kill -9 of the master half-way ..."
    )
    with SentinelCluster(service_name="demo") as cluster, tempfile.TemporaryDirectory() as name:
        url = cluster.url.replace("redis+sentinel://", "redis-sentinel://", 1) + "/0"
        print(f"  broker_url       {url}")
        log = Path(name) / "executions.log"
        worker = WorkerProcess(
            [*WORKER, "-c", "2", "--loglevel", "warning", "--without-mingle", "--without-gossip"],
            log=log,
            output=Path(name) / "worker.out",
            environment={"VEDETTE_BROKER_URL": url},
        )
        with running(worker):
            vedette_celery.register()
            app = Celery("demo", set_as_current=False)
            app.conf.broker_url = url
            # The first task waits for the worker to be consuming.
            app.send_task("record", (-1,))
            wait_until(log.exists, 60, "the worker to run a first task")
            report = run_stream(
                cluster,
                lambda number: app.send_task("record", (number,)),
                fault="kill",
                log=log,
                count=tasks,
            )
            app.close()
            alive = worker.alive
        client = vedette.connect(cluster.url)
        left = sum(client.llen(key) for key in client.keys("celery*")) + client.hlen("unacked")
        client.close()
        # The producer's pool outlives this cluster: its watcher would report every Sentinel
        # it loses as the cluster stops.
        logging.getLogger("vedette").setLevel(logging.ERROR)
    resumed = report.resumed_after_switch
    print(f"  producer errors  {len(report.producer_errors)} (apply_async blocked, not raised)")
    print(
        f"  tasks            {len(report.sent)} sent, {len(report.lost)} lost, "
        f"{len(report.duplicated)} ran twice, {left} left in the queue or unacked"
    )
    print(
        "  ran again        "
        + ("never" if resumed is None else f"{resumed * 1000:.0f} ms after +switch-master")
        + f"; the worker {'kept running' if alive else 'EXITED'}"
    )
