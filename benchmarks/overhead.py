"""What following the master costs when nothing fails: vedette.connect() vs plain redis.Redis.

Both clients talk to the same master of a local cluster (1 master, 1 replica, 3 Sentinels), with
redis-py's defaults otherwise (the reply protocol included). Rows:

- single commands: one thread, GET and SET alternately, as fast as they are answered;
- pipelines: one thread, pipelines of 100 commands (50 SET, 50 GET);
- 8 threads: eight threads sharing the client, single GETs;
- forked child, fork to reaped: the parent forks, the child sends its first command on the
  parent's client (a new connection: redis-py makes one after a fork) and exits; timed from fork
  to the parent reaping the child, the cost per job of a fork-per-job worker (RQ);
- forked child, its first command: within that child, the first command alone, once redis-py
  has reset the pool it inherited (``pool.reset()``, which redis-py does on a child's first use).
  That reset frees the parent's connection objects: Vedette's at once, redis-py's plain ones only
  at the next garbage collection (they sit in reference cycles), so timing it would charge
  Vedette for work plain redis-py merely puts off. The row above includes it.

The forks alternate between the clients one by one.

A third turn is Vedette's client again, with its metrics recorded (`vedette.metrics`: Prometheus
and OpenTelemetry both, switched on just before the turn and off after). The last column is the
median, over the rounds, of that turn's rate over the same client's without metrics in the same
round (a paired comparison: the machine's drift between rounds cancels out); the goal >= 0.97.

The clients run in alternating rounds so that a change in the machine's load hits both; each
row is the median of the rounds. The ratio is vedette's rate over redis-py's (or redis-py's time
over vedette's): 1.00 is the same speed, the goal is >= 0.95 in every row.

Usage: ``./nox -s benchmark -- overhead [--rounds N] [--seconds S] [--forks N]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import threading
import time
from collections.abc import Callable

import redis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

import vedette
import vedette.metrics
from vedette.testing import SentinelCluster

# The client whose turn records metrics; the others' turns record none.
METERED = "vedette, metrics on"
_REGISTRY = CollectorRegistry()
_PROVIDER = MeterProvider(metric_readers=[InMemoryMetricReader()])


def metrics_for(name: str) -> None:
    """Record Vedette's metrics (to Prometheus and OpenTelemetry) only for `METERED`'s turn."""
    if name == METERED:
        vedette.metrics.enable_prometheus(_REGISTRY)
        vedette.metrics.enable_opentelemetry(_PROVIDER)
    else:
        vedette.metrics.disable()


def single_commands(client: redis.Redis, seconds: float) -> float:
    """Commands per second, one at a time."""
    done, end = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        for _ in range(50):
            client.set("k", "v")
            client.get("k")
        done += 100
    return done / (time.perf_counter() - started)


def pipelines(client: redis.Redis, seconds: float) -> float:
    """Commands per second, in pipelines of 100."""
    done, end = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        pipe = client.pipeline(transaction=False)
        for n in range(50):
            pipe.set(f"k{n}", n)
            pipe.get(f"k{n}")
        pipe.execute()
        done += 100
    return done / (time.perf_counter() - started)


def threads(client: redis.Redis, seconds: float) -> float:
    """Commands per second over 8 threads sharing the client."""
    counts = [0] * 8
    end = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < end:
            for _ in range(20):
                client.get("k")
            counts[index] += 20

    workers = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def forked_children(clients: dict[str, redis.Redis], forks: int) -> dict[str, tuple[float, float]]:
    """Per client: median seconds from fork to the child reaped, and of its first command."""
    cycles: dict[str, list[float]] = {name: [] for name in clients}
    firsts: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(forks):
        for name, client in clients.items():
            metrics_for(name)
            reader, writer = os.pipe()
            started = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                client.connection_pool.reset()  # what redis-py does on a child's first use
                before = time.perf_counter()
                client.get("k")
                os.write(writer, repr(time.perf_counter() - before).encode())
                os._exit(0)
            os.waitpid(pid, 0)
            cycles[name].append(time.perf_counter() - started)
            firsts[name].append(float(os.read(reader, 64)))
            os.close(reader)
            os.close(writer)
    return {
        name: (statistics.median(cycles[name]), statistics.median(firsts[name])) for name in clients
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per row")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a round")
    parser.add_argument("--forks", type=int, default=40, help="forks per round")
    arguments = parser.parse_args()
    logging.getLogger("vedette").setLevel(logging.ERROR)
    with SentinelCluster() as cluster:
        master = cluster.master_address()
        clients: dict[str, redis.Redis] = {
            "redis-py": redis.Redis(host=master.host, port=master.port),
            "vedette": vedette.connect(cluster.url),
        }
        clients[METERED] = clients["vedette"]  # the same client, its metrics recorded
        for name, client in clients.items():
            metrics_for(name)
            client.set("k", "v")
            single_commands(client, 0.5)  # warm up: connections, code paths
        rates: dict[str, dict[str, list[float]]] = {
            row: {name: [] for name in clients} for row in ("single", "pipelines", "threads")
        }
        times: dict[str, dict[str, list[float]]] = {
            row: {name: [] for name in clients} for row in ("cycle", "first")
        }
        measures: dict[str, Callable[[redis.Redis, float], float]] = {
            "single": single_commands,
            "pipelines": pipelines,
            "threads": threads,
        }
        for round_number in range(arguments.rounds):
            order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
            for name in order:
                metrics_for(name)
                for row, measure in measures.items():
                    rates[row][name].append(measure(clients[name], arguments.seconds))
            for name, (cycle, first) in forked_children(clients, arguments.forks).items():
                times["cycle"][name].append(cycle)
                times["first"][name].append(first)
        for client in {id(c): c for c in clients.values()}.values():
            client.close()

    names = ("redis-py", "vedette", METERED)

    def paired(values: dict[str, list[float]]) -> float:
        """The median over the rounds of the metered turn's value over the plain one's."""
        return statistics.median(
            on / off for on, off in zip(values[METERED], values["vedette"], strict=True)
        )

    def rate_row(label: str, row: str, unit: str) -> None:
        plain, ours, metered = (statistics.median(rates[row][name]) for name in names)
        print(
            f"| {label} | {plain:,.0f} {unit} | {ours:,.0f} {unit} | {metered:,.0f} {unit} "
            f"| {ours / plain:.2f} | {paired(rates[row]):.2f} |"
        )

    def time_row(label: str, row: str) -> None:
        plain, ours, metered = (statistics.median(times[row][name]) for name in names)
        print(
            f"| {label} | {plain * 1000:.2f} ms | {ours * 1000:.2f} ms | {metered * 1000:.2f} ms "
            f"| {plain / ours:.2f} | {1 / paired(times[row]):.2f} |"
        )

    print(f"| row | redis-py | vedette | {METERED} | vedette / redis-py | metrics on / off |")
    print("|---|---:|---:|---:|---:|---:|")
    rate_row("single commands", "single", "cmd/s")
    rate_row("pipelines of 100", "pipelines", "cmd/s")
    rate_row("8 threads", "threads", "cmd/s")
    time_row("forked child: fork to reaped", "cycle")
    time_row("forked child: its first command (after the pool reset)", "first")


if __name__ == "__main__":
    main()
