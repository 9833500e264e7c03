"""``celery beat -S vedette``: Celery's ``beat_schedule`` as static entries of the store, and real
``celery beat`` processes leading it, one standing by, sending to a real ``celery worker``."""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.schedules import crontab, schedule

from vedette import ConfigurationError
from vedette.schedule import Crontab, Entry, Interval, ScheduleStore, Target
from vedette.testing import SentinelCluster, wait_until
from vedette_celery.beat import Scheduler
from vedette_harness.celery_producer import celery_url
from vedette_harness.execution_log import read_execution_log
from vedette_harness.workers import WorkerProcess, running

LEASE = 2.0
ROOT = Path(__file__).resolve().parents[2]


def app_for(cluster: SentinelCluster, prefix: str, beat_schedule: dict[str, Any]) -> Celery:
    app = Celery("vedette_beat_sync_tests", set_as_current=False)
    app.conf.update(
        broker_url=celery_url(cluster),
        timezone="Europe/Berlin",
        vedette_schedule_prefix=prefix,
        beat_schedule=beat_schedule,
    )
    return app


@pytest.fixture
def plain_store(cluster: SentinelCluster, prefix: str) -> ScheduleStore:
    return ScheduleStore(cluster.client(), prefix=prefix)


def start_beat(app: Celery) -> Scheduler:
    return Scheduler(app=app)  # writes beat_schedule, as `celery beat` does when it starts


def by_hand(name: str) -> Entry:
    return Entry(
        name=name, target=Target(framework="celery", name="x"), schedule=Interval(every=60)
    )


def test_beat_schedule_becomes_the_static_entries(
    cluster: SentinelCluster, prefix: str, plain_store: ScheduleStore
) -> None:
    plain_store.add(by_hand("added-by-hand"))
    plain_store.replace_statics("celery", [by_hand("dropped-from-beat-schedule")])
    beat_schedule = {
        "every-thirty-seconds": {"task": "app.ping", "schedule": 30.0},
        "nightly": {
            "task": "app.report",
            "schedule": crontab(minute=30, hour=1, day_of_week="mon-fri"),
            "args": ("daily",),
            "kwargs": {"full": True},
        },
        "five-minutes": {
            "task": "app.sweep",
            "schedule": schedule(timedelta(minutes=5)),
            "options": {"queue": "maintenance", "priority": 3},
        },
    }
    start_beat(app_for(cluster, prefix, beat_schedule)).close()
    assert sorted(plain_store.names()) == [
        "added-by-hand",
        "every-thirty-seconds",
        "five-minutes",
        "nightly",
    ]
    nightly = plain_store.get("nightly")
    assert nightly is not None
    assert nightly.entry is not None
    assert nightly.entry.schedule == Crontab(cron="30 1 * * mon-fri", zone="Europe/Berlin")
    assert nightly.entry.target == Target(
        framework="celery", name="app.report", args=["daily"], kwargs={"full": True}
    )
    sweep = plain_store.get("five-minutes")
    assert sweep is not None
    assert sweep.entry is not None
    assert sweep.entry.schedule == Interval(every=300)
    assert sweep.entry.target.queue == "maintenance"
    assert sweep.entry.target.options == {"priority": 3}

    # A second start with fewer entries: the dropped one goes, the kept one keeps its next run.
    before = plain_store.get("every-thirty-seconds")
    start_beat(
        app_for(cluster, prefix, {"every-thirty-seconds": beat_schedule["every-thirty-seconds"]})
    ).close()
    assert sorted(plain_store.names()) == ["added-by-hand", "every-thirty-seconds"]
    after = plain_store.get("every-thirty-seconds")
    assert before is not None
    assert after is not None
    assert after.next_run == before.next_run


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"task": "t", "schedule": "*/5 * * * *"},  # a cron line: crontab(...) is needed
            "beat_schedule['bad']['schedule']: str is not supported by the store",
        ),
        ({"task": "t", "schedule": 10, "args": (object(),)}, "beat_schedule['bad']['args']"),
        ({"task": "t", "schedule": 10, "relative": True}, "beat_schedule['bad']['relative']"),
        ({"schedule": 10}, "beat_schedule['bad']['task']: is required"),
        ({"task": "t", "schedule": 10, "every": 5}, "beat_schedule['bad']['every']"),
    ],
)
def test_a_bad_beat_schedule_entry_stops_beat_naming_it_and_writes_nothing(
    cluster: SentinelCluster,
    prefix: str,
    plain_store: ScheduleStore,
    entry: dict[str, Any],
    message: str,
) -> None:
    app = app_for(cluster, prefix, {"good": {"task": "t", "schedule": 10}, "bad": entry})
    with pytest.raises(ConfigurationError) as raised:
        start_beat(app)
    assert message in str(raised.value)
    assert plain_store.names() == []


def beat_process(cluster: SentinelCluster, prefix: str, tmp_path: Path, name: str) -> WorkerProcess:
    return WorkerProcess(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.schedule.celery_beat_app",
            "beat",
            "-S",
            "vedette",
            "--loglevel",
            "info",
            "--schedule",
            str(tmp_path / f"{name}.db"),  # unused by the store; kept out of the working tree
        ],
        log=tmp_path / "executions.log",
        output=tmp_path / f"{name}.out",
        environment={
            "VEDETTE_BROKER_URL": celery_url(cluster),
            "VEDETTE_SCHEDULE_PREFIX": prefix,
            "VEDETTE_LEASE": str(LEASE),
        },
        cwd=ROOT,  # `python -m celery` finds tests.schedule.celery_beat_app from there
    )


def test_celery_beat_leads_the_store_and_a_standby_takes_over_after_kill_9(
    cluster: SentinelCluster, prefix: str, plain_store: ScheduleStore, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vedette_harness.celery_app",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
        ],
        log=tmp_path / "executions.log",
        output=tmp_path / "worker.out",
        environment={"VEDETTE_BROKER_URL": celery_url(cluster)},
    )
    log = tmp_path / "executions.log"
    beats = [beat_process(cluster, prefix, tmp_path, name) for name in ("first", "second")]

    def runs() -> int:
        return sum(1 for number, _ in read_execution_log(log) if number == 21)

    with running(worker), running(beats[0]), running(beats[1]):
        wait_until(lambda: runs() >= 4, 60, "four runs of the beat_schedule entry")
        token = plain_store.client.get(plain_store.leader_key)
        assert token is not None
        leader_pid = int(token.decode().split(":", 1)[1].split("/")[1])
        leading = next(beat for beat in beats if beat.process and beat.process.pid == leader_pid)
        os.kill(leader_pid, signal.SIGKILL)
        killed = time.monotonic()
        ran = runs()
        wait_until(
            lambda: (
                (token_now := plain_store.client.get(plain_store.leader_key)) is not None
                and token_now != token
            ),
            LEASE + 5,
            "the standby to lead",
        )
        took_over = time.monotonic() - killed
        wait_until(lambda: runs() >= ran + 4, 30, "four runs sent by the standby")
        assert leading.process is not None
        leading.process.wait(10)
    assert took_over < LEASE + 1.0
    stored = plain_store.get("every-half-second")
    assert stored is not None
    assert stored.last_error is None
    assert stored.runs >= 8
