"""The scheduler loop on a real cluster: one leader, each slot once, bad entries and failed sends
survived, the lease lost and won back, and daylight saving time through an injected clock."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import pytest

from tests.schedule.recording import Recording, running, slots_of
from vedette.schedule import (
    Crontab,
    Entry,
    Interval,
    MissedRuns,
    ScheduleRunner,
    ScheduleStore,
    Target,
)
from vedette.schedule.timing import from_millis
from vedette.testing import wait_until


def every(name: str, seconds: float, framework: str = "test") -> Entry:
    return Entry(
        name=name, target=Target(framework=framework, name=name), schedule=Interval(every=seconds)
    )


def overdue(store: ScheduleStore, name: str) -> float:
    """Seconds since the entry's next run was due (negative: not yet)."""
    stored = store.get(name)
    assert stored is not None
    assert stored.next_run is not None
    return time.time() - stored.next_run.timestamp()


def test_of_three_schedulers_one_leads_and_sends_each_slot_once(store: ScheduleStore) -> None:
    store.add(every("fast", 0.1))
    dispatchers = [Recording() for _ in range(3)]
    runners = [
        ScheduleRunner(store, {"test": d}, lease=5.0, owner=f"r{n}", idle=0.05)
        for n, d in enumerate(dispatchers)
    ]
    with running(runners[0]), running(runners[1]), running(runners[2]):
        wait_until(lambda: sum(len(d.runs) for d in dispatchers) >= 30, 30, "30 runs")
    slots = sorted(slot for d in dispatchers for slot in slots_of(d, "fast"))
    assert len(slots) == len(set(slots))  # no slot twice
    assert slots == list(range(slots[0], slots[-1] + 1, 100))  # none skipped
    assert sum(1 for d in dispatchers if d.runs) == 1  # one leader all along
    stored = store.get("fast")
    assert stored is not None
    assert stored.runs == len(slots)
    assert len({run.id for d in dispatchers for run in d.runs}) == len(slots)


def test_a_failed_send_is_tried_again_with_the_same_id(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add(every("flaky", 0.1))
    dispatcher = Recording(failures=3)
    runner = ScheduleRunner(store, {"test": dispatcher}, lease=1.0, idle=0.05)
    with running(runner):
        wait_until(lambda: len(dispatcher.runs) >= 5, 30, "5 runs")
    slots = slots_of(dispatcher, "flaky")
    assert slots == list(range(slots[0], slots[-1] + 1, 100))
    assert caplog.text.count("dispatch failed: ConnectionError") == 1  # reported once
    stored = store.get("flaky")
    assert stored is not None
    assert stored.last_error is None


def test_bad_entries_are_reported_once_and_skipped_and_the_inbox_is_checked(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add(every("good", 0.1))
    store.add(every("broken", 0.1))
    store.client.hset(store.entry_key("broken"), "s", '{"cron": "99 * * * *"}')
    good = {
        "name": "pushed",
        "target": {"framework": "test", "name": "x"},
        "schedule": {"every": 0.1},
    }
    unknown = {**good, "name": "elsewhere", "target": {"framework": "celery", "name": "x"}}
    store.client.rpush(store.inbox_key, json.dumps(good), "{not json", json.dumps(unknown))
    dispatcher = Recording()
    with (
        caplog.at_level(logging.WARNING),
        running(ScheduleRunner(store, {"test": dispatcher}, lease=1.0, idle=0.05)),
    ):
        wait_until(
            lambda: len(slots_of(dispatcher, "pushed")) >= 5, 30, "5 runs of the inbox's entry"
        )
        wait_until(lambda: len(slots_of(dispatcher, "good")) >= 10, 30, "10 runs of the good entry")
    assert slots_of(dispatcher, "broken") == []
    broken = store.get("broken")
    assert broken is not None
    assert broken.next_run is None
    assert broken.last_error is not None
    assert "schedule.cron" in broken.last_error
    assert caplog.text.count("'broken' cannot be read") == 1
    rejected = store.rejected()
    assert [r["document"] for r in rejected] == [json.dumps(unknown), "{not json"]
    assert "no dispatcher for 'celery'" in rejected[0]["error"]
    assert "not valid JSON" in rejected[1]["error"]


def test_a_leader_that_loses_its_lease_stands_by_then_leads_again(store: ScheduleStore) -> None:
    store.add(every("fast", 0.1))
    dispatcher = Recording()
    runner = ScheduleRunner(store, {"test": dispatcher}, lease=1.0, owner="first", idle=0.05)
    with running(runner):
        wait_until(lambda: len(dispatcher.runs) >= 3, 30, "the first runs")
        # Another scheduler's token replaces this one (as after a Redis failover that lost the
        # key and a standby that won it): the next claim is refused, and nothing is sent while
        # the other holds the lease, however overdue the entry gets.
        store.client.set(store.leader_key, "999:intruder")
        wait_until(lambda: runner.lease.token is None, 10, "the leader to step down")
        seen = len(dispatcher.runs)
        wait_until(lambda: overdue(store, "fast") > 0.5, 10, "the entry to be overdue")
        assert len(dispatcher.runs) <= seen + 1  # at most a send already under way
        store.client.delete(store.leader_key)  # the other scheduler stops
        wait_until(lambda: runner.lease.token is not None, 10, "the runner to lead again")
        wait_until(lambda: len(dispatcher.runs) >= seen + 30, 30, "runs after leading again")
    slots = slots_of(dispatcher, "fast")
    assert slots == list(range(slots[0], slots[-1] + 1, 100))  # each slot once, none skipped


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("cron", "zone", "start", "expected"),
    [
        (
            "15 * * * *",
            "America/New_York",
            datetime(2026, 11, 1, 4, 0, tzinfo=timezone.utc),  # 00:00 EDT
            ["00:15-04:00", "01:15-04:00", "01:15-05:00", "02:15-05:00", "03:15-05:00"],
        ),
        (
            "30 1 * * *",
            "America/New_York",
            datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc),
            ["2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"],
        ),
        (
            "30 2 * * *",
            "Europe/Berlin",
            datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc),
            ["2026-03-29T03:00+02:00", "2026-03-30T02:30+02:00"],
        ),
        (
            "30 2 * * *",
            "Europe/Berlin",
            datetime(2026, 10, 24, 12, 0, tzinfo=timezone.utc),
            ["2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"],
        ),
    ],
)
def test_daylight_saving_time_with_an_injected_clock(
    store: ScheduleStore, cron: str, zone: str, start: datetime, expected: list[str]
) -> None:
    clock = Clock(start)
    schedule = Crontab(cron=cron, zone=zone)
    store.add(
        Entry(
            name="dst",
            target=Target(framework="test", name="x"),
            schedule=schedule,
            missed=MissedRuns(max_lateness=600),
        ),
        now=clock.now,
    )
    dispatcher = Recording()
    runner = ScheduleRunner(store, {"test": dispatcher}, lease=30, clock=clock)
    assert runner.lease.acquire()
    end = clock.now + (len(expected) * 86_400 if "T" in expected[0] else 5 * 3600)
    while clock.now < end:  # time passes five minutes per tick
        runner.tick()
        clock.now += 300
    runner.lease.release()
    times = [
        from_millis(run.slot, schedule.tz).isoformat(timespec="minutes") for run in dispatcher.runs
    ]
    if "T" not in expected[0]:
        times = [t[11:] for t in times]
    assert times[: len(expected)] == expected
    assert not any(run.late for run in dispatcher.runs)
