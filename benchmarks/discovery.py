"""Master lookup: vedette.discover against redis-py's Sentinel.discover_master, side by side.

Both get the same Sentinels and the same 1 s timeouts. A lookup uses a fresh client (as a process
starting, or a new pool, does) except in "reused client", where one client serves every lookup
(as reconnects of a running process do). Scenarios:

- healthy: three live Sentinels;
- unresponsive first: a Sentinel where connecting hangs (a dead host) listed before the three;
- unresponsive + one: that dead Sentinel and a single live one (no majority without it);
- stray first: a real Sentinel monitoring another master under the same name, listed first.

Run: ``./nox -s benchmark -- discovery`` (or ``python benchmarks/discovery.py`` with vedette
installed). Prints median and worst lookup time, their ratio, and whether the answer was right.
"""

# The baseline is redis-py's Sentinel, whose methods carry no annotations: calling them is the
# point, as in the tests (see [tool.mypy] in pyproject.toml).
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import statistics
import time
from collections.abc import Callable, Iterator, Sequence

import redis.sentinel

import vedette
from vedette.testing import SentinelCluster, unresponsive_address

TIMEOUT = 1.0


Lookup = Callable[[], vedette.Address]


@contextlib.contextmanager
def vedette_client(config: vedette.SentinelConfig, *, reuse: bool) -> Iterator[Lookup]:
    if not reuse:
        yield lambda: vedette.discover(config).master
        return
    with vedette.Discovery(config) as discovery:
        yield lambda: discovery.discover().master


@contextlib.contextmanager
def redis_py_client(config: vedette.SentinelConfig, *, reuse: bool) -> Iterator[Lookup]:
    def connect() -> redis.sentinel.Sentinel:
        return redis.sentinel.Sentinel(
            list(config.sentinels), socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )

    def lookup(sentinel: redis.sentinel.Sentinel) -> vedette.Address:
        host, port = sentinel.discover_master(config.service_name)
        return vedette.Address(host, int(port))

    def fresh() -> vedette.Address:
        sentinel = connect()
        try:
            return lookup(sentinel)
        finally:
            for client in sentinel.sentinels:
                client.close()

    if not reuse:
        yield fresh
        return
    sentinel = connect()
    yield lambda: lookup(sentinel)
    for client in sentinel.sentinels:
        client.close()


def measure(lookup: Lookup, expected: vedette.Address, trials: int) -> tuple[list[float], int]:
    times, right = [], 0
    for _ in range(trials):
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # a failed lookup is wrong, and its time is paid
            right += lookup() == expected
        times.append(time.perf_counter() - started)
    return times, right


def row(name: str, ours: tuple[list[float], int], theirs: tuple[list[float], int], n: int) -> str:
    ours_median, theirs_median = statistics.median(ours[0]), statistics.median(theirs[0])
    ratio = theirs_median / ours_median
    return (
        f"| {name} | {ours_median * 1000:9.1f} | {max(ours[0]) * 1000:9.1f} | {ours[1]:>3}/{n:<3}"
        f" | {theirs_median * 1000:9.1f} | {max(theirs[0]) * 1000:9.1f} | {theirs[1]:>3}/{n:<3}"
        f" | {ratio:7.1f}x |"
    )


def run(trials: int, slow_trials: int) -> None:
    with (
        SentinelCluster() as cluster,
        SentinelCluster(replicas=0, sentinels=1) as stray,
        unresponsive_address() as dead,
    ):
        base = dataclasses.replace(
            cluster.config, sentinel_connect_timeout=TIMEOUT, sentinel_socket_timeout=TIMEOUT
        )
        master = cluster.master_address()
        live = cluster.sentinel_addresses
        scenarios: Sequence[tuple[str, tuple[vedette.Address, ...], bool, int]] = [
            ("healthy, new client", live, False, trials),
            ("healthy, reused client", live, True, trials),
            ("unresponsive first", (dead, *live), False, slow_trials),
            ("unresponsive + one", (dead, live[0]), False, slow_trials),
            ("stray first", (*stray.sentinel_addresses, *live), False, trials),
        ]
        versions = f"redis-py {redis.__version__}, vedette {vedette.__version__}"
        print(f"Sentinel timeouts {TIMEOUT} s, {versions}")
        print()
        print(
            "| scenario | vedette ms median | worst | right"
            " | redis-py ms median | worst | right | redis-py / vedette |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, sentinels, reuse, n in scenarios:
            config = dataclasses.replace(base, sentinels=sentinels)
            with vedette_client(config, reuse=reuse) as lookup:
                ours = measure(lookup, master, n)
            with redis_py_client(config, reuse=reuse) as lookup:
                theirs = measure(lookup, master, n)
            print(row(name, ours, theirs, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="lookups per fast scenario")
    parser.add_argument("--slow-trials", type=int, default=5, help="lookups per slow scenario")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the dead Sentinel is expected: no warnings
    run(arguments.trials, arguments.slow_trials)


if __name__ == "__main__":
    main()
