"""Celery on Sentinel: vedette-celery against kombu's built-in ``sentinel://``, side by side.

Two parts, each on fresh clusters (1 master, 1 replica, 3 Sentinels, down-after 1000 ms) with a
real ``celery worker`` (prefork, 2 processes) on ``vedette_harness.celery_app``:

- **faults mid-stream**, the shared harness (``vedette_harness.stream``): 1,000 tasks at 100/s
  with results stored, and half-way a kill -9 of the master, a planned failover, or a frozen
  master (SIGSTOP, SIGCONT 15 s later); then a drain of up to 20 s. Printed per fault and
  transport: producer errors, when tasks ran again after ``+switch-master``, lost,
  duplicated, stranded (left in the queue or ``unacked``), wrong results (stored as anything
  but SUCCESS, or missing for a task that ran), and writes the old master ran after the
  promotion (planned failover).
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
from typing import Any

from celery import Celery

import vedette
import vedette_celery
from vedette.testing import SentinelCluster, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.stream import (
    FAULT_TABLE_HEADER,
    FAULTS,
    Fault,
    StreamReport,
    fault_table_row,
    run_stream,
)
from vedette_harness.workers import WorkerProcess, running

WORKER = [sys.executable, "-m", "celery", "-A", "vedette_harness.celery_app", "worker"]
WORKER_OPTIONS = ["-c", "2", "--loglevel", "info", "--without-mingle", "--without-gossip"]

# URL and transport options for each transport, given the cluster and the database.
Broker = Callable[[SentinelCluster, int], tuple[str, dict[str, object]]]


def vedette_broker(cluster: SentinelCluster, db: int = 0) -> tuple[str, dict[str, object]]:
    return cluster.url.replace("redis+sentinel://", "redis-sentinel://", 1) + f"/{db}", {}


def kombu_sentinel_broker(cluster: SentinelCluster, db: int = 0) -> tuple[str, dict[str, object]]:
    # Celery's sentinel:// result backend reads the database from each host's part.
    hosts = ";".join(f"sentinel://{a.host}:{a.port}/{db}" for a in cluster.sentinel_addresses)
    return hosts, {"master_name": cluster.service_name}


def plain_broker(cluster: SentinelCluster, db: int = 0) -> tuple[str, dict[str, object]]:
    master = cluster.master_address()
    return f"redis://{master.host}:{master.port}/{db}", {}


def app_for(url: str, options: dict[str, object]) -> Celery:
    vedette_celery.register()
    app = Celery("benchmark", set_as_current=False)
    app.conf.update(broker_url=url, broker_transport_options=options)
    return app


def worker(
    url: str, options: dict[str, object], directory: Path, result_backend: str = ""
) -> WorkerProcess:
    return WorkerProcess(
        [*WORKER, *WORKER_OPTIONS],
        log=directory / "executions.log",
        output=directory / "worker.out",
        environment={
            "VEDETTE_BROKER_URL": url,
            "VEDETTE_BROKER_OPTIONS": json.dumps(options),
            "VEDETTE_RESULT_BACKEND": result_backend,
        },
    )


def stranded(cluster: SentinelCluster) -> int:
    client = vedette.connect(cluster.url)
    try:
        queues = [key for key in client.keys("celery*") if client.type(key) == b"list"]
        return sum(client.llen(key) for key in queues) + client.hlen("unacked")
    finally:
        client.close()


def wrong_results(cluster: SentinelCluster, ran: set[int]) -> int:
    """Results stored as anything but SUCCESS, and tasks that ran with no result stored."""
    client = vedette.connect(cluster.url + "/1")
    try:
        keys = list(client.scan_iter("celery-task-meta-*", count=1000))
        values = client.mget(keys) if keys else []
        stored: list[dict[str, Any]] = [json.loads(value) for value in values if value]
    finally:
        client.close()
    succeeded = {meta["result"] for meta in stored if meta["status"] == "SUCCESS"}
    failed = [meta for meta in stored if meta["status"] != "SUCCESS"]
    return len(failed) + len(ran - succeeded)


def through_fault(broker: Broker, fault: Fault) -> tuple[StreamReport, int]:
    """The harness's stream through ``fault``; the report and the count of wrong results."""
    with SentinelCluster() as cluster, tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        url, options = broker(cluster, 0)
        backend, _ = broker(cluster, 1)
        with running(worker(url, options, directory, backend)) as process:
            wait_until(lambda: " ready." in process.text() or not process.alive, 60, "worker")
            app = app_for(url, options)
            report = run_stream(
                cluster,
                lambda number: app.send_task("record", (number,)),
                fault=fault,
                log=directory / "executions.log",
                count=1000,
                drain_timeout=20,
            )
            report.stranded = stranded(cluster)
            app.close()
        return report, wrong_results(cluster, {number for number, _ in report.runs})


def throughput(cluster: SentinelCluster, broker: Broker, tasks: int) -> float:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        url, options = broker(cluster, 0)
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
    parser.add_argument(
        "--faults", nargs="*", choices=FAULTS, default=list(FAULTS), help="faults to inject"
    )
    arguments = parser.parse_args()

    print(FAULT_TABLE_HEADER)
    for fault in arguments.faults:
        for label, broker in [
            ("vedette-celery", vedette_broker),
            ("kombu sentinel://", kombu_sentinel_broker),
        ]:
            report, wrong = through_fault(broker, fault)
            print(fault_table_row(report, label, wrong), flush=True)

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
