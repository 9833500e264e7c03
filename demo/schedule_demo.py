"""The demo's schedule part: one store, two `vedette beat` processes, three frameworks' workers.

One entry per framework runs every second. The leading `vedette beat` is killed (kill -9), then
the Redis master; the standby takes over, and the store's record of each entry is compared with
what the workers ran: every slot once, none skipped.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import vedette
import vedette_celery
from vedette.schedule import Entry, Interval, ScheduleStore, Target
from vedette.schedule.timing import to_millis
from vedette.testing import SentinelCluster, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import rq_worker
from vedette_harness.workers import WorkerProcess

LEASE = 3.0
# The number each framework's `record` job, task or actor notes in the execution log.
TARGETS = {
    1001: Target(framework="celery", name="record", args=[1001]),
    1002: Target(framework="dramatiq", name="record", queue="default", args=[1002]),
    1003: Target(framework="rq", name="vedette_harness.rq_jobs.record", args=[1003]),
}


def run() -> None:
    """Run the schedule part of the demo and print its report."""
    print(
        "\nSchedule: a fresh cluster, one entry per framework every second, two `vedette beat`"
        "\n(one leads, one stands by; lease 3 s), Celery, Dramatiq and RQ workers; kill -9 of the"
        "\nleading beat, then of the Redis master ..."
    )
    with SentinelCluster(service_name="demo") as cluster, tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        store = ScheduleStore(vedette.connect(cluster.url), prefix="demo")
        first_slots = {
            number: store.add(
                Entry(name=target.framework, target=target, schedule=Interval(every=1))
            )
            for number, target in TARGETS.items()
        }
        processes = _processes(cluster, directory)
        try:
            for process in processes.values():
                process.start()
            log = directory / "executions.log"
            wait_until(lambda: _ran(log, 3), 90, "three runs of every entry")
            killed_pid = _leader_pid(store)
            token = store.client.get(store.leader_key)
            os.kill(killed_pid, signal.SIGKILL)
            killed = time.monotonic()
            wait_until(
                lambda: store.client.get(store.leader_key) not in (None, token),
                LEASE + 10,
                "the standby to lead",
            )
            takeover = time.monotonic() - killed
            time.sleep(3)  # a few runs from the new leader before the next fault
            cluster.kill_master()
            cluster.wait_for_switch(30)
            seen = Counter(number for number, _ in read_execution_log(log))
            wait_until(lambda: _ran(log, max(seen.values()) + 4), 60, "four more runs each")
            processes["beat-1"].stop()  # one was killed: only the standby is left to stop
            processes["beat-2"].stop()
            stored = {number: store.get(target.framework) for number, target in TARGETS.items()}
            wait_until(
                lambda: all(
                    _runs(log)[number] >= (entry.runs if entry else 0)
                    for number, entry in stored.items()
                ),
                30,
                "the workers to run what was sent",
            )
            ran = _runs(log)
        finally:
            for process in processes.values():
                process.stop()
            store.client.close()
    print(f"  takeover         {takeover:.1f} s after the leader's kill -9 (lease {LEASE:g} s)")
    for number, target in TARGETS.items():
        entry = stored[number]
        first = first_slots[number]
        if entry is None or entry.last_run is None or first is None:
            print(f"  {target.framework:<16} no run recorded")
            continue
        slots = (to_millis(entry.last_run) - to_millis(first)) // 1000 + 1
        print(
            f"  {target.framework:<16} {slots} slots, {entry.runs} sent, {ran[number]} ran: "
            f"{slots - entry.runs} skipped, {max(0, ran[number] - entry.runs)} ran twice, "
            f"{max(0, entry.runs - ran[number])} lost"
        )


def _processes(cluster: SentinelCluster, directory: Path) -> dict[str, WorkerProcess]:
    url = cluster.url
    celery_url = vedette_celery.celery_url(url) + "/0"
    commands = {
        "celery": (
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "vedette_harness.celery_app",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "warning",
                "--without-mingle",
                "--without-gossip",
            ],
            {"VEDETTE_BROKER_URL": celery_url},
        ),
        "dramatiq": (
            [
                sys.executable,
                "-m",
                "dramatiq",
                "vedette_harness.dramatiq_app",
                "--processes",
                "1",
                "--threads",
                "2",
            ],
            {"VEDETTE_URL": url},
        ),
        "rq": (rq_worker(url, "--quiet"), {}),
        "beat-1": (_beat(url), {}),
        "beat-2": (_beat(url), {}),
    }
    return {
        name: WorkerProcess(
            command,
            log=directory / "executions.log",
            output=directory / f"{name}.out",
            environment=environment,
        )
        for name, (command, environment) in commands.items()
    }


def _beat(url: str) -> list[str]:
    return [sys.executable, "-m", "vedette", "beat", url, "--prefix", "demo", "--lease", "3"]


def _leader_pid(store: ScheduleStore) -> int:
    token = store.client.get(store.leader_key)
    return int(token.decode().split(":", 1)[1].split("/")[1])  # <n>:<host>/<pid>/<random>


def _runs(log: Path) -> Counter[int]:
    return Counter(number for number, _ in read_execution_log(log))


def _ran(log: Path, times: int) -> bool:
    runs = _runs(log)
    return all(runs[number] >= times for number in TARGETS)
