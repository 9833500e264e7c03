"""The async client: vedette.asyncio.connect() vs redis.asyncio and redis.asyncio.sentinel.

Two parts, each side by side with the peer in the same run:

- **Steady state** (one cluster: 1 master, 1 replica, 3 Sentinels): vedette.asyncio.connect()
  against a plain ``redis.asyncio.Redis`` to the same master, redis-py's defaults otherwise.
  Rows: one coroutine sending single commands (SET and GET alternately); 50 coroutines sharing
  the client; pipelines of 100 commands. In each round the two clients run back to back, in
  alternating order, so that a change in the machine's load hits both; the rates are the medians
  of the rounds, and the ratio the median of the rounds' ratios, vedette's rate over
  redis.asyncio's (goal >= 0.95): per second elapsed, and per second of the client process's CPU
  time (what the client itself costs, less moved by the servers sharing the machine's 2 cores).
- **Failover** (a fresh cluster per run: 1 master, 2 replicas, 3 Sentinels, down-after 1000 ms):
  50 coroutines on one client RPUSH 0, 1, 2 ... (each the next number, 20 ms apart) while a fault
  hits the master (kill -9, or a planned SENTINEL FAILOVER); once 500 writes were acknowledged
  after +switch-master (or 15 s passed), the acknowledged writes are compared with what the new
  master holds. Per client, medians over the runs: fault -> write and switch -> write (the first
  acknowledged write after the switch), lost / acknowledged (summed), failed writes (summed), and
  the event loop's longest stall from the fault to the end (a ticker coroutine's lateness).

Clients in the failover part:

- vedette: ``vedette.asyncio.connect(url)``, the default configuration.
- redis.asyncio.sentinel: ``Sentinel(...).master_for(service)`` with a 1 s socket timeout,
  redis-py's defaults otherwise.
- redis.asyncio.sentinel Retry: the same with ``retry=Retry(ExponentialBackoff(cap=0.5,
  base=0.01), 20)`` and ``retry_on_error=[ReadOnlyError]``, a common recipe for failovers.

Usage: ``./nox -s benchmark -- async_client [--rounds N] [--seconds S] [--runs N]``.
"""

# The baseline is redis-py's async Sentinel, whose methods carry no annotations: calling them is
# the point (see [tool.mypy] in pyproject.toml).
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff

import vedette.asyncio
from vedette.testing import AsyncWriteLoop, SentinelCluster, SwitchClock
from vedette.testing.errors import ClusterError

COROUTINES = 50  # writers in the failover part (redis.asyncio's pool allows 100 at once)
AFTER_SWITCH = 500  # writes to see acknowledged after the switch
PATIENCE = 15.0  # seconds to wait for them

# --- steady state -------------------------------------------------------------------------------


async def single_commands(client: redis.asyncio.Redis, seconds: float) -> int:
    """Commands sent by one coroutine, one at a time, for ``seconds``."""
    done, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(50):
            await client.set("k", "v")
            await client.get("k")
        done += 100
    return done


async def coroutines(client: redis.asyncio.Redis, seconds: float) -> int:
    """Commands sent by 50 coroutines sharing the client, for ``seconds``."""
    end = time.perf_counter() + seconds
    counts = [0] * 50

    async def work(index: int) -> None:
        while time.perf_counter() < end:
            for _ in range(20):
                await client.get("k")
            counts[index] += 20

    await asyncio.gather(*(work(index) for index in range(50)))
    return sum(counts)


async def pipelines(client: redis.asyncio.Redis, seconds: float) -> int:
    """Commands sent in pipelines of 100, for ``seconds``."""
    done, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        pipe = client.pipeline(transaction=False)
        for n in range(50):
            pipe.set(f"k{n}", n)
            pipe.get(f"k{n}")
        await pipe.execute()
        done += 100
    return done


ROWS: dict[str, Callable[[redis.asyncio.Redis, float], Awaitable[int]]] = {
    "single commands": single_commands,
    "50 coroutines": coroutines,
    "pipelines of 100": pipelines,
}


async def rates_of(
    measure: Callable[[redis.asyncio.Redis, float], Awaitable[int]],
    client: redis.asyncio.Redis,
    seconds: float,
) -> tuple[float, float]:
    """Commands per second of elapsed time, and per second of this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = await measure(client, seconds)
    return done / (time.perf_counter() - wall), done / (time.process_time() - cpu)


async def steady_state(cluster: SentinelCluster, rounds: int, seconds: float) -> None:
    master = cluster.master_address()
    clients: dict[str, redis.asyncio.Redis] = {
        "redis.asyncio": redis.asyncio.Redis(host=master.host, port=master.port),
        "vedette": vedette.asyncio.connect(cluster.url),
    }
    for client in clients.values():
        await client.set("k", "v")
        await coroutines(client, 0.5)  # warm up: connections, code paths
    rates: dict[str, dict[str, list[tuple[float, float]]]] = {
        row: {name: [] for name in clients} for row in ROWS
    }
    for round_number in range(rounds):
        for row, measure in ROWS.items():
            order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
            for name in order:  # both clients back to back: the same load for each
                rates[row][name].append(await rates_of(measure, clients[name], seconds))
    for client in clients.values():
        await client.aclose()
    print(
        "| row | redis.asyncio | vedette.asyncio | vedette / redis.asyncio "
        "| the same per CPU second |"
    )
    print("|---|---:|---:|---:|---:|")
    for row in ROWS:
        plain, ours = (rates[row][name] for name in clients)
        pairs = list(zip(ours, plain, strict=True))
        wall = statistics.median(mine[0] / theirs[0] for mine, theirs in pairs)
        cpu = statistics.median(mine[1] / theirs[1] for mine, theirs in pairs)
        print(
            f"| {row} | {statistics.median(rate for rate, _ in plain):,.0f} cmd/s "
            f"| {statistics.median(rate for rate, _ in ours):,.0f} cmd/s "
            f"| {wall:.2f} | {cpu:.2f} |"
        )


# --- failover -----------------------------------------------------------------------------------


def vedette_default(cluster: SentinelCluster) -> Any:
    return vedette.asyncio.connect(cluster.url)


def sentinel_default(cluster: SentinelCluster) -> Any:
    sentinel = Sentinel(list(cluster.sentinel_addresses), socket_timeout=1.0)
    return sentinel.master_for(cluster.service_name, socket_timeout=1.0)


def sentinel_retry(cluster: SentinelCluster) -> Any:
    sentinel = Sentinel(list(cluster.sentinel_addresses), socket_timeout=1.0)
    return sentinel.master_for(
        cluster.service_name,
        socket_timeout=1.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.01), 20),
        retry_on_error=[redis.ReadOnlyError],
    )


CLIENTS: dict[str, Callable[[SentinelCluster], Any]] = {
    "vedette": vedette_default,
    "redis.asyncio.sentinel": sentinel_default,
    "redis.asyncio.sentinel Retry": sentinel_retry,
}
FAULTS: dict[str, Callable[[SentinelCluster], object]] = {
    "kill -9": SentinelCluster.kill_master,
    "planned": SentinelCluster.failover,
}


async def push(client: Any, n: int) -> object:
    return await client.rpush("log", n)


@dataclass
class Run:
    fault_to_write: float | None
    switch_to_write: float | None
    acknowledged: int
    lost: int
    failed: int
    stall: float


def one_run(fault: Callable[[SentinelCluster], object], make: Callable[..., Any]) -> Run:
    with SentinelCluster(replicas=2) as cluster:
        with (
            SwitchClock(cluster) as clock,
            AsyncWriteLoop(lambda: make(cluster), push, coroutines=COROUTINES, pace=0.02) as loop,
        ):
            loop.wait_for_acks(500, after=0)
            faulted = time.monotonic()
            fault(cluster)
            switched = clock.wait(timeout=30)
            # Few or no writes after the switch is a result, reported as such.
            with contextlib.suppress(ClusterError):
                loop.wait_for_acks(AFTER_SWITCH, after=switched, timeout=PATIENCE)
            ended = time.monotonic()
        cluster.wait_for_switch(timeout=30, from_address=None)
        held = [int(n) for n in cluster.client().lrange("log", 0, -1)]
    report = loop.report(held)
    first = loop.first_ack_after(switched)
    return Run(
        fault_to_write=None if first is None else first - faulted,
        switch_to_write=None if first is None else first - switched,
        acknowledged=report.acknowledged,
        lost=len(report.lost),
        failed=len(report.errors),
        stall=loop.longest_stall(after=faulted, before=ended),
    )


def median_ms(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    if len(known) < len(values):
        return "never" if not known else f"{statistics.median(known) * 1000:.0f}*"
    return f"{statistics.median(known) * 1000:.0f}"


def failovers(runs: int) -> None:
    print(
        "| fault | client | fault -> write ms | switch -> write ms | lost / acknowledged "
        "| failed writes | longest stall ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for fault_name, fault in FAULTS.items():
        for client_name, make in CLIENTS.items():
            results = [one_run(fault, make) for _ in range(runs)]
            print(
                f"| {fault_name} | {client_name} "
                f"| {median_ms([run.fault_to_write for run in results])} "
                f"| {median_ms([run.switch_to_write for run in results])} "
                f"| {sum(run.lost for run in results)} / "
                f"{sum(run.acknowledged for run in results)} "
                f"| {sum(run.failed for run in results)} "
                f"| {statistics.median(run.stall for run in results) * 1000:.0f} |",
                flush=True,
            )
    print("\n* median of the runs that wrote after the switch; 'never': none did within 15 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=31, help="steady state: rounds per row")
    parser.add_argument("--seconds", type=float, default=0.5, help="steady state: round length")
    parser.add_argument("--runs", type=int, default=3, help="failover: runs per client and fault")
    arguments = parser.parse_args()
    logging.getLogger("vedette").setLevel(logging.ERROR)  # the watcher's notices: not the table
    with SentinelCluster() as cluster:
        asyncio.run(steady_state(cluster, arguments.rounds, arguments.seconds))
    print()
    failovers(arguments.runs)


if __name__ == "__main__":
    main()
