"""RQ on Sentinel: vedette-rq against RQ's own ``SENTINEL`` settings, side by side.

Three parts, each on fresh clusters (1 master, 1 replica, 3 Sentinels, down-after 1000 ms) with
real ``rq worker`` processes (a work horse forked per job) started from RQ's command line:

- **faults mid-stream**, the shared harness (``vedette_harness.stream``): 400 jobs at 20/s (a
  forked worker runs about 30/s here) and half-way a kill -9 of the master, a planned failover,
  or a frozen master (SIGSTOP, SIGCONT 15 s later); then a drain of up to 20 s and 20 canary
  jobs. Printed per fault and peer: producer errors, when jobs ran again after
  ``+switch-master``, lost, duplicated, left over (queue, intermediate list, started, failed and
  scheduled registries), writes the old master ran after the promotion; then whether the worker
  still runs and how many canaries ran.
- **scheduled jobs across a kill -9**: with ``--with-scheduler``, 24 jobs due two per second
  (``enqueue_at``), the kill 3.3 s after the first was due (``vedette_harness.rq_schedules``);
  counted up to 30 s after the last was due: run within a second of their time (or of the
  switch, if due while there was no master), run later, not run.
- **steady state**: jobs enqueued as fast as possible, timed from the first enqueue to the last
  run, with ``vedette_rq.Worker`` on the Sentinel URL and RQ's ``Worker`` on ``redis://`` to the
  same master; also with both ``SimpleWorker``s; rounds alternate. Printed: jobs/s and ratios.

The peers: ``vedette-rq`` is ``rq worker -w vedette_rq.Worker --connection-class
vedette_rq.Redis -u redis+sentinel://...`` with producers on `vedette_rq.connect`; ``rq
SENTINEL`` is ``rq worker -c settings`` with RQ's ``SENTINEL`` dict and producers on redis-py's
``Sentinel(...).master_for(...)``, what RQ documents.

Usage: ``./nox -s benchmark -- rq_workers [--rounds N] [--faults kill ...]`` (not ``rq.py``: a
script of that name would shadow the rq package it imports).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis
from rq import Queue

import vedette_rq
from vedette.testing import SentinelCluster, WaitTimeout, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import JOB, rq_command, rq_worker
from vedette_harness.rq_queues import left_over
from vedette_harness.rq_schedules import lateness_across_a_kill
from vedette_harness.stream import (
    FAULT_TABLE_HEADER,
    FAULTS,
    Fault,
    StreamReport,
    fault_table_row,
    run_stream,
)
from vedette_harness.workers import WorkerProcess, running

PEERS = ("vedette-rq", "rq SENTINEL")
PARTS = ("faults", "scheduled", "steady")


@dataclass
class Run:
    """What one peer made of one fault."""

    report: StreamReport
    alive: bool
    canaries: int


def producer(cluster: SentinelCluster, peer: str) -> redis.Redis:
    """The producer's client: Vedette's, or redis-py's ``Sentinel.master_for``, as RQ documents."""
    if peer == "vedette-rq":
        return vedette_rq.connect(cluster.url)
    addresses = [(a.host, a.port) for a in cluster.sentinel_addresses]
    sentinel = redis.Sentinel(addresses)  # type: ignore[no-untyped-call, unused-ignore]
    return sentinel.master_for(cluster.service_name)  # type: ignore[no-any-return, no-untyped-call, unused-ignore]


def worker(cluster: SentinelCluster, peer: str, directory: Path, *options: str) -> WorkerProcess:
    """The peer's ``rq worker`` command line, as its users run it."""
    if peer == "vedette-rq":
        command = rq_worker(cluster.url, *options)
    else:  # RQ's own: the SENTINEL dict (vedette_harness/rq_sentinel_settings.py), RQ's Worker
        command = rq_command("worker", "-c", "vedette_harness.rq_sentinel_settings", *options)
        command.append("default")
    sentinels = ",".join(map(str, cluster.sentinel_addresses))
    return WorkerProcess(
        command,
        log=directory / "executions.log",
        output=directory / "worker.out",
        environment={"VEDETTE_SENTINELS": sentinels},
    )


@contextmanager
def a_worker(
    peer: str, *options: str
) -> Iterator[tuple[SentinelCluster, Queue, Path, WorkerProcess]]:
    """A fresh cluster, the peer's worker on it (ready), and a producer's queue."""
    with SentinelCluster() as cluster, tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with running(worker(cluster, peer, directory, *options)) as process:
            wait_until(lambda: "Listening on" in process.text() or not process.alive, 60, "worker")
            client = producer(cluster, peer)
            try:
                yield cluster, Queue("default", connection=client), directory, process
            finally:
                client.close()


def through_fault(peer: str, fault: Fault) -> Run:
    """The harness's stream through ``fault``, then the canaries."""
    with a_worker(peer, "--with-scheduler") as (cluster, queue, directory, process):
        log = directory / "executions.log"

        def send(number: int) -> None:
            queue.enqueue(JOB, number)

        report = run_stream(
            cluster, send, fault=fault, log=log, count=400, rate=20, drain_timeout=20
        )
        report.stranded = sum(left_over(cluster).values())
        canaries = set(range(10_000, 10_020))
        with suppress(Exception):  # a peer's producer may fail here too: counted as not run
            for number in canaries:
                send(number)
        with suppress(WaitTimeout):
            wait_until(lambda: canaries <= ran(log), 20, "the canaries")
        return Run(report, process.alive, len(canaries & ran(log)))


def ran(log: Path) -> set[int]:
    return {number for number, _ in read_execution_log(log)}


def scheduled_across_kill(peer: str) -> tuple[int, int, int]:
    """Jobs due across a kill -9: (on time, late, not run), 30 s after the last was due."""
    with a_worker(peer, "--with-scheduler") as (cluster, queue, directory, _):
        late = lateness_across_a_kill(cluster, queue, directory / "executions.log")
    on_time = sum(1 for runs in late.values() if runs and min(runs) < 1.0)
    missing = sum(1 for runs in late.values() if not runs)
    return on_time, len(late) - on_time - missing, missing


def throughput(cluster: SentinelCluster, vedette: bool, kind: str, jobs: int) -> float:
    """Jobs/s of one worker of ``kind`` (``Worker``, ``SimpleWorker``): Vedette's, or RQ's."""
    master = cluster.master_address()
    if vedette:
        url, prefix, client = cluster.url, "vedette_rq", vedette_rq.connect(cluster.url)
    else:  # RQ's own worker on redis:// to the same master
        url = f"redis://{master.host}:{master.port}/0"
        prefix, client = "rq", redis.Redis(master.host, master.port)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        command = rq_worker(url, worker_class=f"{prefix}.{kind}")
        process = WorkerProcess(command, log=directory / "log", output=directory / "out")
        with running(process):
            wait_until(lambda: "Listening on" in process.text() or not process.alive, 60, "worker")
            queue = Queue("default", connection=client)
            started = time.monotonic()
            with client.pipeline() as pipeline:  # enqueueing is not what is measured
                for number in range(jobs):
                    queue.enqueue(JOB, number, pipeline=pipeline)
                pipeline.execute()
            log = directory / "log"
            wait_until(lambda: len(read_execution_log(log)) >= jobs, 600, "the jobs")
            last = max(at for _, at in read_execution_log(log))
        client.close()
        return jobs / (last - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="steady-state rounds per worker")
    parser.add_argument(
        "--faults", nargs="*", choices=FAULTS, default=list(FAULTS), help="faults to inject"
    )
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument(
        "--parts", nargs="*", choices=PARTS, default=list(PARTS), help="which parts to run"
    )
    arguments = parser.parse_args()
    if "faults" in arguments.parts:
        faults(arguments)
    if "scheduled" in arguments.parts:
        scheduled(arguments)
    if "steady" in arguments.parts and arguments.rounds:
        steady(arguments)


def faults(arguments: argparse.Namespace) -> None:

    runs = {
        (fault, peer): through_fault(peer, fault)
        for fault in arguments.faults
        for peer in arguments.peers
    }
    print(FAULT_TABLE_HEADER)
    for (_, peer), run in runs.items():
        print(fault_table_row(run.report, peer, 0), flush=True)
    print()
    print("| fault | peer | worker still running | canaries run (of 20) |")
    print("|---|---|---|---:|")
    for (fault, peer), run in runs.items():
        print(f"| {fault} | {peer} | {'yes' if run.alive else 'no'} | {run.canaries} |")


def scheduled(arguments: argparse.Namespace) -> None:
    print()
    print("| scheduled jobs across kill -9 | on time (< 1 s) | late | not run after 30 s |")
    print("|---|---:|---:|---:|")
    for peer in arguments.peers:
        on_time, late, missing = scheduled_across_kill(peer)
        print(f"| {peer} | {on_time} | {late} | {missing} |", flush=True)


def steady(arguments: argparse.Namespace) -> None:
    sizes = {"Worker": 300, "SimpleWorker": 3000}
    rates: dict[tuple[str, bool], list[float]] = {}
    with SentinelCluster() as cluster:
        for _ in range(arguments.rounds):
            for kind, jobs in sizes.items():
                for vedette in (False, True):
                    rate = throughput(cluster, vedette, kind, jobs)
                    rates.setdefault((kind, vedette), []).append(rate)
    print()
    print("| steady state | RQ on redis:// (jobs/s) | vedette-rq (jobs/s) | ratio | rounds |")
    print("|---|---:|---:|---:|---|")
    for kind in sizes:
        plain, ours = (statistics.median(rates[(kind, v)]) for v in (False, True))
        each = ", ".join(
            f"{a / b:.2f}" for a, b in zip(rates[(kind, True)], rates[(kind, False)], strict=True)
        )
        print(f"| {kind} | {plain:,.0f} | {ours:,.0f} | {ours / plain:.2f} | {each} |")


if __name__ == "__main__":
    main()
