"""Writes through a failover: vedette.connect() vs redis-py's Sentinel.master_for, side by side.

For each fault (kill -9 of the master, planned SENTINEL FAILOVER) and each client, on a fresh
cluster (1 master, 2 replicas, 3 Sentinels, down-after 1000 ms) per run: a thread RPUSHes 0, 1,
2 ... as fast as the client acknowledges them; the fault hits; once 200 writes were acknowledged
after +switch-master (or 15 s passed), the acknowledged writes are compared with what the new
master holds. Printed per client, medians over the runs:

- fault -> write: time from the fault to the first acknowledged write after the switch;
- switch -> write: time from +switch-master (as the Sentinels published it) to that write;
- lost: acknowledged writes the new master does not hold (summed over the runs);
- failed: writes that raised (the application saw an error).

Clients:

- vedette: ``vedette.connect(url)``, the default configuration.
- vedette wait=1: ``vedette.connect(url + "?wait_replicas=1")``.
- redis-py: ``Sentinel(...).master_for(service)``, redis-py's defaults.
- redis-py Retry: the same with ``retry=Retry(ExponentialBackoff(cap=0.5, base=0.01), 20)`` and
  ``retry_on_error=[ReadOnlyError]``, a common recipe for riding out failovers.

Usage: ``./nox -s benchmark -- failover [--runs N]``.
"""

# The baseline is redis-py's Sentinel, whose methods carry no annotations: calling them is the
# point, as in the tests (see [tool.mypy] in pyproject.toml).
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

import vedette
from vedette.testing import SentinelCluster, SwitchClock, WriteLoop
from vedette.testing.errors import ClusterError

AFTER_SWITCH = 200  # writes to see acknowledged after the switch
PATIENCE = 15.0  # seconds to wait for them


def vedette_default(cluster: SentinelCluster) -> redis.Redis:
    return vedette.connect(cluster.url)


def vedette_wait(cluster: SentinelCluster) -> redis.Redis:
    return vedette.connect(cluster.url + "?wait_replicas=1")


def redis_py(cluster: SentinelCluster) -> redis.Redis:
    sentinel = Sentinel(list(cluster.sentinel_addresses), socket_timeout=1.0)
    return cast(redis.Redis, sentinel.master_for(cluster.service_name, socket_timeout=1.0))


def redis_py_retry(cluster: SentinelCluster) -> redis.Redis:
    sentinel = Sentinel(list(cluster.sentinel_addresses), socket_timeout=1.0)
    client = sentinel.master_for(
        cluster.service_name,
        socket_timeout=1.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.01), 20),
        retry_on_error=[redis.ReadOnlyError],
    )
    return cast(redis.Redis, client)


CLIENTS: dict[str, Callable[[SentinelCluster], redis.Redis]] = {
    "vedette": vedette_default,
    "vedette wait=1": vedette_wait,
    "redis-py": redis_py,
    "redis-py Retry": redis_py_retry,
}


def kill(cluster: SentinelCluster) -> None:
    cluster.kill_master()


def planned(cluster: SentinelCluster) -> None:
    cluster.failover()


FAULTS: dict[str, Callable[[SentinelCluster], None]] = {"kill -9": kill, "planned": planned}


@dataclass
class Run:
    fault_to_write: float | None
    switch_to_write: float | None
    acknowledged: int
    lost: int
    failed: int


def one_run(fault: Callable[[SentinelCluster], None], make: Callable[..., redis.Redis]) -> Run:
    with SentinelCluster(replicas=2) as cluster:
        client = make(cluster)
        with SwitchClock(cluster) as clock, WriteLoop(lambda n: client.rpush("log", n)) as loop:
            loop.wait_for_acks(200, after=0)
            faulted = time.monotonic()
            fault(cluster)
            switched = clock.wait(timeout=30)
            # Few or no writes after the switch is a result, reported as such.
            with contextlib.suppress(ClusterError):
                loop.wait_for_acks(AFTER_SWITCH, after=switched, timeout=PATIENCE)
        cluster.wait_for_switch(timeout=30, from_address=None)
        held = [int(n) for n in cluster.client().lrange("log", 0, -1)]
        client.close()
    report = loop.report(held)
    first = loop.first_ack_after(switched)
    return Run(
        fault_to_write=None if first is None else first - faulted,
        switch_to_write=None if first is None else first - switched,
        acknowledged=report.acknowledged,
        lost=len(report.lost),
        failed=len(report.errors),
    )


def median_ms(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    if len(known) < len(values):
        return "never" if not known else f"{statistics.median(known) * 1000:.0f}*"
    return f"{statistics.median(known) * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per client and fault")
    arguments = parser.parse_args()
    logging.getLogger("vedette").setLevel(logging.ERROR)  # the watcher's notices: not the table
    print(
        "| fault | client | fault -> write ms | switch -> write ms "
        "| lost / acknowledged | failed writes |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for fault_name, fault in FAULTS.items():
        for client_name, make in CLIENTS.items():
            runs = [one_run(fault, make) for _ in range(arguments.runs)]
            lost = sum(run.lost for run in runs)
            acknowledged = sum(run.acknowledged for run in runs)
            print(
                f"| {fault_name} | {client_name} "
                f"| {median_ms([run.fault_to_write for run in runs])} "
                f"| {median_ms([run.switch_to_write for run in runs])} "
                f"| {lost} / {acknowledged} "
                f"| {sum(run.failed for run in runs)} |",
                flush=True,
            )
    print("\n* median of the runs that wrote after the switch; 'never': none did within 15 s")


if __name__ == "__main__":
    main()
