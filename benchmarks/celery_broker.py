"""Celery on Sentinel: vedette-celery against kombu's built-in ``sentinel://``, side by side.

Two parts, each on fresh clusters (1 master, 1 replica, 3 Sentinels, down-after 1000 ms) with a
real ``celery worker`` (prefork, 2 processes) from tests/celery_adapter/worker_app.py:

- **kill -9 mid-stream**, the shared harness (tests/survives_failover.py): 1,000 tasks at 100/s,
  the master killed half-way, then a drain of up to 20 s; printed per transport: producer
  errors, lost, duplicated, stranded (left in the queue or ``unacked``), and when tasks ran
  again after ``+switch-master``.
- **steady state**: 3,000 tasks published as fast as possible, timed from the first publish to
  the last run, with vedette-celery and with kombu's plain ``redis://`` on the same master;
  rounds alternate. Printed: tasks/s and the ratio (goal >= 0.95).

Usage: ``./nox -s benchmark -- celery_broker [--rounds N]`` (not ``celery.py``: a script of that
name would shadow the celery package it imports).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness and the worker's app live in tests/

from celery import Celery  # noqa: E402

import vedette  # noqa: E402
import vedette_celery  # noqa: E402
from tests.survives_failover import (  # noqa: E402
    StreamReport,
    WorkerProcess,
    read_execution_log,
    run_stream,
    running,
)
from vedette.testing import SentinelCluster, wait_until  # noqa: E402

WORKER = [sys.executable, "-m", "celery", "-A", "tests.celery_adapter.worker_app", "worker"]
WORKER_OPTIONS = ["-c", "2", "--loglevel", "info", "--without-mingle", "--without-gossip"]

# URL and transport options for each transport, given the cluster.
Broker = Callable[[SentinelCluster], tuple[str, dict[str, object]]]


def vedette_broker(cluster: SentinelCluster) -> tuple[str, dict[str, object]]:
    return cluster.url.replace("redis+sentinel://", "redis-sentinel://", 1) + "/0", {}


def kombu_sentinel_broker(cluster: SentinelCluster) -> tuple[str, dict[str, object]]:
    hosts = ";".join(f"sentinel://{a.host}:{a.port}" for a in cluster.sentinel_addresses)
    return hosts + "/0", {"master_name": cluster.service_name}


def plain_broker(cluster: SentinelCluster) -> tuple[str, dict[str, object]]:
    master = cluster.master_address()
    return f"redis://{master.host}:{master.port}/0", {}


def app_for(url: str, options: dict[str, object]) -> Celery:
    vedette_celery.register()
    app = Celery("benchmark", set_as_current=False)
    app.conf.update(broker_url=url, broker_transport_options=options)
    return app


def worker(url: str, options: dict[str, object], directory: Path) -> WorkerProcess:
    return WorkerProcess(
        [*WORKER, *WORKER_OPTIONS],
        log=directory / "executions.log",
        output=directory / "worker.out",
        environment={"VEDETTE_BROKER_URL": url, "VEDETTE_BROKER_OPTIONS": json.dumps(options)},
    )


def stranded(cluster: SentinelCluster) -> int:
    client = vedette.connect(cluster.url)
    try:
        return sum(client.llen(key) for key in client.keys("celery*")) + client.hlen("unacked")
    finally:
        client.close()


def kill_9(broker: Broker) -> StreamReport:
    with SentinelCluster() as cluster, tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        url, options = broker(cluster)
        with running(worker(url, options, directory)) as process:
            wait_until(lambda: " ready." in process.text() or not process.alive, 60, "worker")
            app = app_for(url, options)
            report = run_stream(
                cluster,
                lambda number: app.send_task("record", (number,)),
                fault="kill",
                log=directory / "executions.log",
                count=1000,
                drain_timeout=20,
            )
            report.stranded = stranded(cluster)
            app.close()
        return report


def throughput(cluster: SentinelCluster, broker: Broker, tasks: int) -> float:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        url, options = broker(cluster)
        with running(worker(url, options, directory)) as process:
            wait_until(lambda: " ready." in process.text() or not process.alive, 60, "worker")
            app = app_for(url, options)
            started = time.monotonic()
            for number in range(tasks):
                app.send_task("record", (number,))
            log = directory / "executions.log"
            wait_until(lambda: len(read_execution_log(log)) >= tasks, 120, "the tasks to run")
            last = max(at for _, at in read_execution_log(log))
            app.close()
        return tasks / (last - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="steady-state rounds per transport")
    parser.add_argument("--tasks", type=int, default=3000, help="tasks per steady-state round")
    arguments = parser.parse_args()

    print("| kill -9 | producer errors | lost | duplicated | stranded | ran again after switch |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, broker in [
        ("vedette-celery", vedette_broker),
        ("kombu sentinel://", kombu_sentinel_broker),
    ]:
        report = kill_9(broker)
        resumed = report.resumed_after_switch
        shown = "never" if resumed is None else f"{resumed * 1000:.0f} ms"
        print(
            f"| {label} | {len(report.producer_errors)} | {len(report.lost)} | "
            f"{len(report.duplicated)} | {report.stranded} | {shown} |"
        )

    rates: dict[str, list[float]] = {"vedette-celery": [], "redis://": []}
    with SentinelCluster() as cluster:
        for _ in range(arguments.rounds):
            rates["vedette-celery"].append(throughput(cluster, vedette_broker, arguments.tasks))
            rates["redis://"].append(throughput(cluster, plain_broker, arguments.tasks))
    ours, plain = (statistics.median(rates[key]) for key in ("vedette-celery", "redis://"))
    print()
    print("| steady state | tasks/s (median) | vedette / redis:// |")
    print("|---|---:|---:|")
    print(f"| redis:// | {plain:,.0f} | |")
    print(f"| vedette-celery | {ours:,.0f} | {ours / plain:.2f} |")


if __name__ == "__main__":
    main()
