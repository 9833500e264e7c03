"""Scheduler processes through kill -9: a standby takes over within the lease, and each slot of an
entry is sent once, also when the leader dies between sending a run and recording it, and
through a Redis master failover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from vedette.schedule import Entry, Interval, ScheduleStore, Target
from vedette.testing import SentinelCluster, wait_until
from vedette_harness.dispatch_log import read_log

LEASE = 2.0
STEP = 50  # ms: a 0.05 s entry gives 200 slots in 10 s


class Scheduler:
    """A `vedette_harness.scheduler_process` process."""

    def __init__(
        self, cluster: SentinelCluster, store: ScheduleStore, log: Path, owner: str, *options: str
    ) -> None:
        self.owner = owner
        self.output = log.parent / f"{owner}.log"
        with self.output.open("w") as output:
            self.process = self._start(cluster, store, log, owner, options, output)

    @staticmethod
    def _start(
        cluster: SentinelCluster,
        store: ScheduleStore,
        log: Path,
        owner: str,
        options: tuple[str, ...],
        output: IO[str],
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vedette_harness.scheduler_process",
                cluster.url,
                store.prefix,
                str(log),
                owner,
                "--lease",
                str(LEASE),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=output,
        )

    def kill(self) -> float:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        return time.time()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)


@contextmanager
def schedulers(
    cluster: SentinelCluster, store: ScheduleStore, log: Path, **options: tuple[str, ...]
) -> Iterator[list[Scheduler]]:
    """Scheduler processes by owner name, with their extra options; stopped at the end."""
    started = [Scheduler(cluster, store, log, owner, *extra) for owner, extra in options.items()]
    try:
        yield started
    finally:
        for scheduler in started:
            scheduler.stop()


def leader(store: ScheduleStore) -> str | None:
    token = store.client.get(store.leader_key)
    return None if token is None else str(token.decode()).split(":", 1)[1]


def sent_slots(log: Path) -> list[int]:
    return [int(str(record["slot"])) for record in read_log(log)]


def assert_each_slot_once(log: Path) -> list[int]:
    slots = sent_slots(log)
    assert len(slots) == len(set(slots)), "a slot was sent twice"
    ordered = sorted(slots)
    assert ordered == list(range(ordered[0], ordered[-1] + 1, STEP)), "a slot was skipped"
    return ordered


def add_fast_entry(store: ScheduleStore) -> None:
    store.add(
        Entry(
            name="fast",
            target=Target(framework="test", name="x"),
            schedule=Interval(every=STEP / 1000),
        )
    )


def test_a_standby_takes_over_within_the_lease_after_kill_9(
    cluster: SentinelCluster, store: ScheduleStore, tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    add_fast_entry(store)
    with schedulers(cluster, store, log, first=(), second=()) as (first, second):
        wait_until(lambda: len(sent_slots(log)) >= 50, 60, "50 runs")
        by_name = {first.owner: first, second.owner: second}
        leading = by_name[str(leader(store))]
        killed = leading.kill()
        wait_until(
            lambda: any(r["owner"] != leading.owner for r in read_log(log)),
            30,
            "the standby's first run",
        )
        taken_over = next(r for r in read_log(log) if r["owner"] != leading.owner)
        wait_until(lambda: len(sent_slots(log)) >= 220, 60, "220 runs")
    # The standby's first run is the first slot the dead leader did not send (on time, though
    # late: within the entry's maximum lateness), sent within the lease of the kill.
    assert float(str(taken_over["at"])) - killed < LEASE + 1.0
    assert len(assert_each_slot_once(log)) >= 220


def test_a_run_sent_just_before_the_leader_died_is_not_sent_again(
    cluster: SentinelCluster, store: ScheduleStore, tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    add_fast_entry(store)
    # The first scheduler leads (the other starts once it does), sends 20 runs and kills itself
    # right after the 20th, before recording it: the standby asks its dispatcher, which knows.
    with schedulers(cluster, store, log, dying=("--die-after", "20")) as (dying,):
        wait_until(lambda: leader(store) == dying.owner, 30, "the first scheduler to lead")
        with schedulers(cluster, store, log, standby=()):
            wait_until(lambda: dying.process.poll() is not None, 60, "the leader to die")
            wait_until(lambda: len(sent_slots(log)) >= 60, 60, "60 runs")
    ordered = assert_each_slot_once(log)
    assert len(ordered) >= 60


def test_a_dispatcher_that_cannot_tell_sends_that_run_again_with_the_same_id(
    cluster: SentinelCluster, store: ScheduleStore, tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    add_fast_entry(store)
    with schedulers(cluster, store, log, dying=("--die-after", "20", "--unsure")) as (dying,):
        wait_until(lambda: leader(store) == dying.owner, 30, "the first scheduler to lead")
        with schedulers(cluster, store, log, standby=("--unsure",)):
            wait_until(lambda: len(sent_slots(log)) >= 40, 60, "40 runs")
    records = read_log(log)
    twice = [r for r in records if sum(1 for o in records if o["id"] == r["id"]) > 1]
    # The one run in the window, sent again under its own id; every other slot once.
    assert [r["owner"] for r in twice] == ["dying", "standby"]
    slots = sent_slots(log)
    assert len(set(slots)) == len(slots) - 1


def test_each_slot_is_sent_once_through_a_redis_master_kill(
    cluster: SentinelCluster, store: ScheduleStore, tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    add_fast_entry(store)
    with schedulers(cluster, store, log, alone=()):
        wait_until(lambda: len(sent_slots(log)) >= 30, 60, "30 runs")
        cluster.kill_master()
        cluster.wait_for_switch()
        count = len(sent_slots(log))
        wait_until(lambda: len(sent_slots(log)) >= count + 50, 60, "50 runs after the switch")
    assert_each_slot_once(log)
