"""Entries as JSON documents (docs/schedule-schema.md), their checks, and the missed-run policy."""

import json
import uuid
from datetime import datetime, timezone

import pytest

import vedette
from vedette.schedule import (
    Crontab,
    Entry,
    Interval,
    MissedRuns,
    Once,
    Target,
    decide,
    entry_from_document,
    entry_to_document,
)
from vedette.schedule.dispatch import RUN_IDS, run_id

NIGHTLY = {
    "name": "nightly-report",
    "target": {
        "framework": "celery",
        "name": "reports.nightly",
        "queue": "reports",
        "args": [1, "two"],
        "kwargs": {"full": True},
        "options": {"priority": 5},
    },
    "schedule": {"cron": "30 1 * * *", "zone": "America/New_York"},
    "enabled": False,
    "missed": {"policy": "catch_up", "limit": 3, "max_lateness": 120},
}


def test_a_document_round_trips() -> None:
    entry = entry_from_document(json.dumps(NIGHTLY))
    assert entry.schedule == Crontab(cron="30 1 * * *", zone="America/New_York")
    assert entry.missed == MissedRuns(policy="catch_up", limit=3, max_lateness=120)
    assert entry_to_document(entry) == NIGHTLY
    minimal = {
        "name": "tick",
        "target": {"framework": "rq", "name": "app.jobs.tick"},
        "schedule": {"every": 30},
    }
    assert entry_to_document(entry_from_document(minimal)) == minimal
    once = {**minimal, "schedule": {"at": "2027-01-01T00:00:00+01:00"}}
    assert entry_from_document(once).schedule == Once(
        at=datetime(2026, 12, 31, 23, tzinfo=timezone.utc)
    )


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"target": {"framework": "Celery!", "name": "x"}}, "target.framework"),
        ({"target": {"framework": "rq"}}, "target.name"),
        ({"target": {"framework": "rq", "name": "x", "args": {"a": 1}}}, "target.args"),
        (
            {"target": {"framework": "rq", "name": "x", "kwargs": {"at": float("nan")}}},
            "target.kwargs",
        ),
        ({"target": {"framework": "rq", "name": "x", "priority": 1}}, "target.priority"),
        ({"schedule": {"cron": "61 * * * *"}}, "schedule.cron"),
        ({"schedule": {"cron": "0 * * * *", "zone": "Nowhere/Else"}}, "schedule.zone"),
        ({"schedule": {"every": 5, "cron": "* * * * *"}}, "schedule"),
        ({"schedule": {"at": "2027-01-01T00:00:00"}}, "schedule.at"),
        ({"missed": {"policy": "sometimes"}}, "missed.policy"),
        ({"missed": {"policy": "once", "limit": 2}}, "missed.limit"),
        ({"missed": {"max_lateness": -1}}, "missed.max_lateness"),
        ({"enabled": "yes"}, "enabled"),
        ({"name": ""}, "name"),
        ({"color": "blue"}, "color"),
    ],
)
def test_a_bad_document_is_refused_naming_the_field(
    change: dict[str, object], setting: str
) -> None:
    with pytest.raises(vedette.ConfigurationError) as caught:
        entry_from_document({**NIGHTLY, **change})
    assert caught.value.setting == setting


def test_malformed_json_is_refused() -> None:
    with pytest.raises(vedette.ConfigurationError, match="not valid JSON"):
        entry_from_document('{"name": ')


def every_minute(missed: MissedRuns) -> Entry:
    return Entry(
        name="e",
        target=Target(framework="rq", name="f"),
        schedule=Interval(every=60),
        missed=missed,
    )


MINUTE = 60_000


def test_a_run_on_time_is_sent_and_the_next_follows() -> None:
    step = decide(every_minute(MissedRuns()), 10 * MINUTE, 10 * MINUTE + 59_000, 0)
    assert (step.dispatch, step.late, step.next_run, step.streak) == (True, False, 11 * MINUTE, 0)


@pytest.mark.parametrize(
    ("missed", "sent"),
    [
        (MissedRuns(policy="skip"), []),
        (MissedRuns(policy="once"), [0]),
        (MissedRuns(policy="catch_up", limit=3), [0, 1, 2]),
        (MissedRuns(policy="catch_up", limit=50), list(range(10))),
    ],
)
def test_missed_runs_follow_the_policy_then_the_first_run_on_time(
    missed: MissedRuns, sent: list[int]
) -> None:
    # Down from minute 0 to 10.5 with a lateness of 60 s: slots 0-9 are missed, 10 is on time.
    entry = every_minute(missed)
    now, slot, streak, dispatched = 10 * MINUTE + 30_000, 0, 0, []
    while slot <= now:
        step = decide(entry, slot, now, streak)
        if step.dispatch:
            dispatched.append((slot // MINUTE, step.late))
        assert step.next_run is not None
        slot, streak = step.next_run, step.streak
    assert dispatched == [(n, True) for n in sent] + [(10, False)]
    assert slot == 11 * MINUTE


def test_a_run_id_is_the_uuid5_of_the_store_entry_and_slot() -> None:
    for prefix, name, slot in [("p", "n", 0), ("vedette:schedule", "nightly é", 1767225600000)]:
        expected = uuid.uuid5(RUN_IDS, f"{prefix}\0{name}\0{slot}")
        assert run_id(prefix, name, slot) == str(expected)
