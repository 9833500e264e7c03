"""Dramatiq on Sentinel: vedette-dramatiq against redis-py's ``master_for``, side by side.

Two parts, each on fresh clusters (1 master, 1 replica, 3 Sentinels, down-after 1000 ms) with a
real ``dramatiq`` worker (1 process, 4 threads) on ``vedette_harness.dramatiq_app``, the
actor storing its result:

- **faults mid-stream**, the shared harness (``vedette_harness.stream``): 2,000 messages at 150/s
  and half-way a kill -9 of the master, a planned failover, or a frozen master (SIGSTOP, SIGCONT
  15 s later); then a drain of up to 20 s. Printed per fault and broker: producer errors, when
  messages ran again after ``+switch-master``, lost, duplicated, left over (in queues, ``.msgs``
  hashes and acknowledgement sets), wrong results (missing for a message that ran), writes the
  old master ran after the promotion. The brokers: ``SentinelBroker``, ``SentinelMiddleware``
  on a plain ``RedisBroker``, and ``RedisBroker(client=Sentinel(...).master_for(...))``.
  dramatiq-sentinel, the seed, is not on PyPI (it installs from GitHub, which this machine does
  not reach, and needs Python 3.12): it is left out.
- **steady state**: 5,000 messages enqueued as fast as possible, timed from the first enqueue to
  the last run, with ``SentinelBroker`` and with a plain ``RedisBroker`` on the same master;
  rounds alternate. Printed: messages/s and the ratio (goal >= 0.95).

Usage: ``./nox -s benchmark -- dramatiq_broker [--rounds N] [--faults kill ...]`` (not
``dramatiq.py``: a script of that name would shadow the dramatiq package it imports).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from dramatiq.brokers.redis import RedisBroker

from vedette.testing import SentinelCluster, wait_until
from vedette_dramatiq import SentinelBroker
from vedette_harness.dramatiq_queues import left_over, message, stored_results
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

WORKER = [sys.executable, "-m", "dramatiq", "vedette_harness.dramatiq_app"]
WORKER_OPTIONS = ["--processes", "1", "--threads", "4"]
# The worker app's mode, and the producer's broker for it, given the cluster.
PEERS: dict[str, tuple[str, Callable[[SentinelCluster], RedisBroker]]] = {
    "SentinelBroker": ("broker", lambda cluster: SentinelBroker(config=cluster.config)),
    "SentinelMiddleware + RedisBroker": (
        "middleware",
        lambda cluster: SentinelBroker(config=cluster.config),
    ),
    "RedisBroker(master_for)": ("master_for", lambda cluster: master_for_broker(cluster)),
}


def master_for_broker(cluster: SentinelCluster) -> RedisBroker:
    """What users have today: a RedisBroker on redis-py's Sentinel client (unannotated)."""
    addresses = [(a.host, a.port) for a in cluster.sentinel_addresses]
    client = redis.Sentinel(addresses).master_for(cluster.service_name)  # type: ignore[no-untyped-call, unused-ignore]
    return RedisBroker(client=client)  # type: ignore[no-untyped-call]


def worker(cluster: SentinelCluster, mode: str, directory: Path) -> WorkerProcess:
    master = cluster.master_address()
    return WorkerProcess(
        [*WORKER, *WORKER_OPTIONS],
        log=directory / "executions.log",
        output=directory / "worker.out",
        environment={
            "VEDETTE_URL": cluster.url,
            "VEDETTE_DRAMATIQ_MODE": mode,
            "VEDETTE_REDIS_URL": f"redis://{master.host}:{master.port}/0",
        },
    )


def ready(process: WorkerProcess) -> bool:
    return "is ready for action" in process.text() or not process.alive


def through_fault(peer: str, fault: Fault) -> tuple[StreamReport, int]:
    """The harness's stream through ``fault``; the report and the count of wrong results."""
    mode, producer = PEERS[peer]
    with SentinelCluster() as cluster, tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with running(worker(cluster, mode, directory)) as process:
            wait_until(lambda: ready(process), 60, "the worker")
            broker = producer(cluster)
            report = run_stream(
                cluster,
                lambda number: broker.enqueue(message(number)),
                fault=fault,
                log=directory / "executions.log",
                count=2000,
                rate=150,
                drain_timeout=20,
            )
            report.stranded = sum(left_over(cluster).values())
            broker.client.close()
        ran = {number for number, _ in report.runs}
        return report, len(ran - set(stored_results(cluster)))


def throughput(cluster: SentinelCluster, mode: str, messages: int) -> float:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with running(worker(cluster, mode, directory)) as process:
            wait_until(lambda: ready(process), 60, "the worker")
            master = cluster.master_address()
            broker = (
                SentinelBroker(config=cluster.config, middleware=[])
                if mode == "broker"
                else RedisBroker(url=f"redis://{master.host}:{master.port}/0", middleware=[])  # type: ignore[no-untyped-call]
            )
            started = time.monotonic()
            for number in range(messages):
                broker.enqueue(message(number))
            log = directory / "executions.log"
            wait_until(lambda: len(read_execution_log(log)) >= messages, 300, "the messages")
            last = max(at for _, at in read_execution_log(log))
            broker.client.close()
        return messages / (last - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="steady-state rounds per broker")
    parser.add_argument("--messages", type=int, default=5000, help="messages per round")
    parser.add_argument(
        "--faults", nargs="*", choices=FAULTS, default=list(FAULTS), help="faults to inject"
    )
    parser.add_argument("--peers", nargs="*", choices=list(PEERS), default=list(PEERS))
    arguments = parser.parse_args()

    print(FAULT_TABLE_HEADER)
    for fault in arguments.faults:
        for peer in arguments.peers:
            report, wrong = through_fault(peer, fault)
            print(fault_table_row(report, peer, wrong), flush=True)

    if arguments.rounds:
        rates: dict[str, list[float]] = {"broker": [], "plain": []}
        with SentinelCluster() as cluster:
            for _ in range(arguments.rounds):
                for mode in rates:
                    rates[mode].append(throughput(cluster, mode, arguments.messages))
        ours, plain = (statistics.median(rates[mode]) for mode in ("broker", "plain"))
        print()
        print("| steady state | messages/s (median) | SentinelBroker / RedisBroker |")
        print("|---|---:|---:|")
        print(f"| RedisBroker (redis://) | {plain:,.0f} | |")
        print(f"| SentinelBroker | {ours:,.0f} | {ours / plain:.2f} |")


if __name__ == "__main__":
    main()
