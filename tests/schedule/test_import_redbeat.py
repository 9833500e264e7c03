"""``vedette schedule import-redbeat``: entries written by RedBeat itself, copied into the store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from celery import Celery
from celery.schedules import crontab, schedule
from click.testing import CliRunner

from vedette.cli import main
from vedette.schedule import Crontab, Interval, ScheduleStore, Target
from vedette.testing import SentinelCluster

redbeat = pytest.importorskip("redbeat.schedulers", reason="celery-redbeat writes the entries")
rrule = pytest.importorskip("redbeat.schedules").rrule


def test_redbeat_s_dynamic_entries_are_imported_and_its_keys_left_alone(
    cluster: SentinelCluster,
) -> None:
    master = cluster.master_address()
    app = Celery("redbeat-source", set_as_current=False)
    app.conf.update(
        broker_url=f"redis://{master.host}:{master.port}/0",
        redbeat_redis_url=f"redis://{master.host}:{master.port}/0",
        redbeat_key_prefix="rb:",
        timezone="Europe/Berlin",
    )

    def save(name: str, task: str, every: object, **fields: object) -> None:
        redbeat.RedBeatSchedulerEntry(name, task, every, app=app, **fields).save()

    save("every-minute", "app.ping", schedule(timedelta(minutes=1)), args=[1])
    save(
        "nightly",
        "app.report",
        crontab(minute=30, hour=1, day_of_week="mon-fri"),
        kwargs={"full": True},
        options={"queue": "reports", "priority": 5},
    )
    save("paused", "app.ping", schedule(timedelta(seconds=30)), enabled=False)
    start = datetime(2027, 1, 1, tzinfo=timezone.utc)
    save("yearly", "app.audit", rrule("YEARLY", dtstart=start, app=app))
    save("from-config", "app.ping", schedule(timedelta(seconds=10)))
    client = cluster.client()
    client.sadd("rb::statics", "from-config")
    before = {key: client.type(key) for key in client.keys("rb:*")}

    result = CliRunner().invoke(
        main,
        [
            "schedule",
            "import-redbeat",
            cluster.url,
            "--prefix",
            "imported",
            "--key-prefix",
            "rb:",
            "--zone",
            "Europe/Berlin",
        ],
    )

    assert result.exit_code == 1  # one entry could not be imported: it is named
    assert "refused yearly: schedule: a rrule schedule is not supported" in result.output
    assert "skipped from-config: from beat_schedule" in result.output
    assert "1 RedBeat entries could not be imported" in result.output
    store = ScheduleStore(client, prefix="imported")
    assert sorted(store.names()) == ["every-minute", "nightly", "paused"]
    nightly = store.get("nightly")
    assert nightly is not None
    assert nightly.entry is not None
    assert nightly.entry.schedule == Crontab(cron="30 1 * * mon-fri", zone="Europe/Berlin")
    assert nightly.entry.target == Target(
        framework="celery",
        name="app.report",
        queue="reports",
        kwargs={"full": True},
        options={"priority": 5},
    )
    minute = store.get("every-minute")
    assert minute is not None
    assert minute.entry is not None
    assert minute.entry.schedule == Interval(every=60)
    assert minute.entry.target.args == [1]
    paused = store.get("paused")
    assert paused is not None
    assert paused.entry is not None
    assert not paused.entry.enabled
    assert paused.next_run is None
    assert {key: client.type(key) for key in client.keys("rb:*")} == before


def test_a_dry_run_writes_nothing(cluster: SentinelCluster) -> None:
    client = cluster.client()
    definition = '{"name": "x", "task": "t", "schedule": {"__type__": "interval", "every": 5}}'
    client.hset("dry:x", "definition", definition)
    client.zadd("dry::schedule", {"dry:x": 0})
    result = CliRunner().invoke(
        main,
        [
            "schedule",
            "import-redbeat",
            cluster.url,
            "--prefix",
            "dry",
            "--key-prefix",
            "dry:",
            "--dry-run",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "would import x"
    assert ScheduleStore(client, prefix="dry").names() == []
