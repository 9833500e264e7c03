"""Run times of each kind of schedule, and the written policy for daylight saving time."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import vedette
from vedette.schedule import Crontab, Interval, Once
from vedette.schedule.timing import Schedule, from_millis, to_millis

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def local_runs(schedule: Crontab, start: datetime, count: int) -> list[str]:
    """The next ``count`` runs after ``start``, as local times with their offsets."""
    runs, after = [], to_millis(start)
    for _ in range(count):
        following = schedule.next_after(after)
        assert following is not None
        runs.append(from_millis(following, schedule.tz).isoformat(timespec="minutes"))
        after = following
    return runs


def test_autumn_hourly_runs_every_real_hour_through_the_repeated_one() -> None:
    # RedBeat skipped 02:15 here; cron runs 01:15 twice (EDT, then EST) and 02:15.
    hourly = Crontab(cron="15 * * * *", zone="America/New_York")
    assert local_runs(hourly, datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK), 5) == [
        "2026-11-01T00:15-04:00",
        "2026-11-01T01:15-04:00",
        "2026-11-01T01:15-05:00",
        "2026-11-01T02:15-05:00",
        "2026-11-01T03:15-05:00",
    ]


def test_autumn_daily_runs_once_at_the_first_of_the_repeated_times() -> None:
    # RedBeat ran this at 02:30 local the next day.
    daily = Crontab(cron="30 1 * * *", zone="America/New_York")
    assert local_runs(daily, datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK), 3) == [
        "2026-11-01T01:30-04:00",
        "2026-11-02T01:30-05:00",
        "2026-11-03T01:30-05:00",
    ]
    berlin = Crontab(cron="30 2 * * *", zone="Europe/Berlin")
    assert local_runs(berlin, datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN), 2) == [
        "2026-10-25T02:30+02:00",
        "2026-10-26T02:30+01:00",
    ]


def test_spring_gap_moves_a_fixed_time_to_just_after_it_and_skips_wildcard_times() -> None:
    daily = Crontab(cron="30 2 * * *", zone="America/New_York")
    assert local_runs(daily, datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK), 2) == [
        "2026-03-08T03:00-04:00",
        "2026-03-09T02:30-04:00",
    ]
    hourly = Crontab(cron="15 * * * *", zone="America/New_York")
    assert local_runs(hourly, datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK), 3) == [
        "2026-03-08T01:15-05:00",
        "2026-03-08T03:15-04:00",  # one real hour after 01:15 EST
        "2026-03-08T04:15-04:00",
    ]
    berlin = Crontab(cron="30 2 * * *", zone="Europe/Berlin")
    assert local_runs(berlin, datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN), 2) == [
        "2026-03-29T03:00+02:00",
        "2026-03-30T02:30+02:00",
    ]


def test_intervals_keep_a_fixed_grid_in_real_time() -> None:
    every_30 = Interval(every=30)
    assert every_30.next_after(0) == 30_000
    assert every_30.next_after(29_999) == 30_000
    assert every_30.next_after(30_000) == 60_000
    anchored = Interval(every=60, start=datetime(2026, 1, 1, 0, 0, 10, tzinfo=timezone.utc))
    start = to_millis(datetime(2026, 1, 1, 0, 0, 10, tzinfo=timezone.utc))
    assert anchored.next_after(start) == start + 60_000
    assert anchored.next_after(start - 1) == start
    assert Interval(every=0.25).next_after(1_000) == 1_250


def test_once_runs_at_its_instant_and_then_never() -> None:
    at = datetime(2027, 1, 1, tzinfo=BERLIN)
    once = Once(at=at)
    assert once.next_after(to_millis(at) - 1) == to_millis(at)
    assert once.next_after(to_millis(at)) is None


@pytest.mark.parametrize(
    ("build", "setting"),
    [
        (lambda: Crontab(cron="61 * * * *"), "schedule.cron"),
        (lambda: Crontab(cron="* * * *"), "schedule.cron"),
        (lambda: Crontab(cron="0 0 31 4 *"), "schedule.cron"),
        (lambda: Crontab(cron="0 0 * * *", zone="Mars/Olympus"), "schedule.zone"),
        (lambda: Interval(every=0), "schedule.every"),
        (lambda: Interval(every=float("nan")), "schedule.every"),
        (lambda: Interval(every=5, start=datetime(2026, 1, 1)), "schedule.start"),
        (lambda: Once(at=datetime(2026, 1, 1)), "schedule.at"),
    ],
)
def test_bad_schedules_name_the_field(build: Callable[[], Schedule], setting: str) -> None:
    with pytest.raises(vedette.ConfigurationError) as caught:
        build()
    assert caught.value.setting == setting


def test_milliseconds_round_trip_in_any_zone() -> None:
    moment = datetime(2026, 11, 1, 1, 15, tzinfo=NEW_YORK, fold=1)
    assert from_millis(to_millis(moment), NEW_YORK) == moment
    assert from_millis(to_millis(moment), NEW_YORK).utcoffset() == timedelta(hours=-5)
