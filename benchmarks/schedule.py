"""The schedule store against celery-redbeat, side by side on the same Redis server.

For N entries (default 1,000, 10,000 and 100,000), each peer in its own database of one
``redis-server`` (the master of a local Sentinel cluster, reached directly by both):

- insert: writing the N entries one by one (RedBeat's ``save()``, Vedette's ``add``), and, for
  Vedette, all at once (``add_many``);
- memory: the server's ``used_memory`` growth per entry;
- idle tick: a scheduler's tick when nothing is due;
- due tick: a tick with 1 % of the entries due (1,000 of 100,000), sending nothing (RedBeat's
  ``send_task`` and Vedette's dispatcher do nothing: the store's cost alone);
- statics: starting with 10,000 static entries already stored (Celery's ``beat_schedule``
  synchronised at start-up: RedBeat's ``setup_schedule``; for ``celery beat -S vedette``,
  ``beat_schedule`` read into entries and ``ScheduleStore.replace_statics``).

Entries: a task with one argument, every hour (RedBeat: ``celery.schedules.schedule``; Vedette:
``Interval``). Both schedulers send nothing: the times are the schedule's own.

Run: ``./nox -s benchmark -- schedule [--sizes 1000 10000] [--rounds 5]``.
"""

# RedBeat and Celery carry no annotations: calling them is the point (see [tool.mypy]).
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import redis
from celery import Celery
from celery.schedules import schedule as every
from redbeat import RedBeatScheduler, RedBeatSchedulerEntry

from vedette.schedule import Dispatcher, Entry, Interval, Run, ScheduleRunner, ScheduleStore, Target
from vedette.testing import SentinelCluster
from vedette_celery.beat import static_entries

HOUR = 3600.0
STATICS = 10_000


class Nothing(Dispatcher):
    """Sends nothing: what is measured is the store."""

    def dispatch(self, run: Run) -> None:
        pass


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ms(action: Callable[[], object], rounds: int) -> float:
    return statistics.median(timed(action) for _ in range(rounds)) * 1000


# --- RedBeat ---------------------------------------------------------------------------------


def redbeat_app(url: str) -> Celery:
    app = Celery("bench", broker="memory://", set_as_current=False)
    app.conf.update(redbeat_redis_url=url, redbeat_lock_key=None, beat_max_loop_interval=HOUR)
    return app


def redbeat_entry(app: Celery, n: int) -> RedBeatSchedulerEntry:
    return RedBeatSchedulerEntry(
        f"entry-{n:06}", "app.tasks.work", every(timedelta(hours=1)), args=[n], app=app
    )


@contextmanager
def redbeat_scheduler(app: Celery) -> Iterator[RedBeatScheduler]:
    scheduler = RedBeatScheduler(app=app, lazy=True)
    scheduler.send_task = lambda *args, **kwargs: None  # send nothing: the store's cost alone
    yield scheduler


def redbeat_make_due(client: redis.Redis, app: Celery, keys: list[str], now: float) -> None:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.zadd(app.redbeat_conf.schedule_key, {key: now - 1})
    pipe.execute()


# --- Vedette ---------------------------------------------------------------------------------


def vedette_entry(n: int) -> Entry:
    target = Target(framework="celery", name="app.tasks.work", args=[n])
    return Entry(name=f"entry-{n:06}", target=target, schedule=Interval(every=HOUR))


def vedette_make_due(store: ScheduleStore, names: list[str], now: float) -> None:
    pipe = store.client.pipeline(transaction=False)
    for name in names:
        pipe.zadd(store.due_key, {name: int(now * 1000) - 1000})
    pipe.execute()


# --- One size --------------------------------------------------------------------------------


def measure(cluster: SentinelCluster, size: int, rounds: int) -> dict[str, dict[str, float]]:
    master = cluster.master_address()
    base = f"redis://{master.host}:{master.port}"
    redbeat_client, vedette_client = (
        redis.Redis.from_url(f"{base}/1"),
        redis.Redis.from_url(f"{base}/2"),
    )
    for client in (redbeat_client, vedette_client):
        client.flushdb()
    due = max(1, size // 100)
    results: dict[str, dict[str, float]] = {"redbeat": {}, "vedette": {}}

    # RedBeat
    app = redbeat_app(f"{base}/1")
    before = used_memory(redbeat_client)
    entries = [redbeat_entry(app, n) for n in range(size)]
    results["redbeat"]["insert"] = timed(lambda: [entry.save() for entry in entries])
    results["redbeat"]["memory"] = (used_memory(redbeat_client) - before) / size
    with redbeat_scheduler(app) as scheduler:
        results["redbeat"]["idle tick"] = median_ms(scheduler.tick, rounds)
        keys = [entry.key for entry in entries[:: size // due]][:due]

        def redbeat_due_tick() -> None:
            for key in keys:  # due again: never run before, so due now
                redbeat_client.hdel(key, "meta")
            redbeat_make_due(redbeat_client, app, keys, time.time())

        ticks = []
        for _ in range(rounds):
            redbeat_due_tick()
            ticks.append(timed(scheduler.tick))
        results["redbeat"]["due tick"] = statistics.median(ticks) * 1000

    # Vedette
    store = ScheduleStore(vedette_client, prefix="bench")
    before = used_memory(vedette_client)
    plain = [vedette_entry(n) for n in range(size)]
    results["vedette"]["insert"] = timed(lambda: [store.add(entry) for entry in plain])
    results["vedette"]["memory"] = (used_memory(vedette_client) - before) / size
    vedette_client.flushdb()
    results["vedette"]["insert (add_many)"] = timed(lambda: store.add_many(plain))
    runner = ScheduleRunner(store, {"celery": Nothing()}, lease=60, batch=max(1000, due))
    assert runner.lease.acquire()
    results["vedette"]["idle tick"] = median_ms(runner.tick, rounds)
    names = [entry.name for entry in plain[:: size // due]][:due]
    ticks = []
    for _ in range(rounds):
        vedette_make_due(store, names, time.time())
        ticks.append(timed(runner.tick))
    results["vedette"]["due tick"] = statistics.median(ticks) * 1000
    runner.lease.release()
    for client in (redbeat_client, vedette_client):
        client.flushdb()
        client.close()
    return results


def statics(cluster: SentinelCluster, rounds: int) -> dict[str, float]:
    """Start-up with STATICS static entries already stored, seconds (median)."""
    master = cluster.master_address()
    base = f"redis://{master.host}:{master.port}"
    app = redbeat_app(f"{base}/3")
    app.conf.beat_schedule = {
        f"static-{n:05}": {"task": "app.tasks.work", "schedule": HOUR, "args": [n]}
        for n in range(STATICS)
    }
    app.conf.redbeat_redis_url = f"{base}/3"
    times: dict[str, list[float]] = {"redbeat": [], "vedette": []}
    redbeat_client = redis.Redis.from_url(f"{base}/3")
    redbeat_client.flushdb()
    RedBeatScheduler(app=app, lazy=True).setup_schedule()  # stored once before
    for _ in range(rounds):
        times["redbeat"].append(
            timed(lambda: RedBeatScheduler(app=app, lazy=True).setup_schedule())
        )
    vedette_client = redis.Redis.from_url(f"{base}/4")
    vedette_client.flushdb()
    store = ScheduleStore(vedette_client, prefix="statics")

    def vedette_start() -> None:  # what `celery beat -S vedette` does with beat_schedule
        store.replace_statics("celery", static_entries(app.conf.beat_schedule, app))

    vedette_start()  # stored once before
    for _ in range(rounds):
        times["vedette"].append(timed(vedette_start))
    for client in (redbeat_client, vedette_client):
        client.flushdb()
        client.close()
    return {peer: statistics.median(values) for peer, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    rows: list[tuple[int, dict[str, dict[str, float]]]] = []
    with SentinelCluster(replicas=0, sentinels=1) as cluster:
        for size in options.sizes:
            rows.append((size, measure(cluster, size, options.rounds)))
        started = statics(cluster, options.rounds)
    columns = [
        "N",
        "peer",
        "insert one by one (s)",
        "insert at once (s)",
        "memory per entry (B)",
        "idle tick (ms)",
        "tick with 1 % due (ms)",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size, result in rows:
        for peer in ("redbeat", "vedette"):
            r: dict[str, Any] = result[peer]
            at_once = f"{r['insert (add_many)']:.2f}" if "insert (add_many)" in r else "-"
            print(
                f"| {size:,} | {peer} | {r['insert']:.2f} | {at_once} | {r['memory']:.0f} | "
                f"{r['idle tick']:.2f} | {r['due tick']:.1f} |"
            )
        ratio = result["redbeat"]["due tick"] / result["vedette"]["due tick"]
        print(f"| {size:,} | ratio (RedBeat / Vedette) | | | | | {ratio:.0f}x |")
    print()
    print(f"| start-up with {STATICS:,} static entries | RedBeat (s) | Vedette (s) | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| already stored | {started['redbeat']:.2f} | {started['vedette']:.3f} | "
        f"{started['redbeat'] / started['vedette']:.0f}x |"
    )


if __name__ == "__main__":
    main()
