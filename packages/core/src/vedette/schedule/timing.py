"""When an entry runs: `Interval`, `Crontab` and `Once`, and the run after a given instant.

Run times are whole milliseconds since the Unix epoch (UTC), the score of the store's sorted
set. Every schedule answers one question, `next_after`: the first run strictly after an instant.

Daylight saving time (a `Crontab` is read on the wall clock of its own IANA zone). The rules are
Debian cron's, computed by the ``cronsim`` library:

- **The repeated hour** (autumn, clocks go back): an entry that names its hour and minute
  (``30 1 * * *``) runs once, at the first occurrence (01:30 before the change); an entry whose
  hour or minute is a wildcard or a step (``15 * * * *``, ``*/20 1 * * *``) follows the clock
  through both occurrences, so an hourly entry still runs every real hour (01:15 EDT, 01:15 EST,
  02:15 EST).
- **The skipped hour** (spring, clocks go forward): an entry that names its hour and minute and
  falls in the gap runs at the first minute after it (``30 2 * * *`` runs at 03:00 that day); an
  entry with a wildcard or a step hour or minute has no runs in the gap, as those times do not
  exist (an hourly entry runs at 01:15 EST, then 03:15 EDT: one real hour apart).

`Interval` counts real seconds and `Once` names an instant: neither is touched by DST.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from vedette.errors import ConfigurationError
from vedette.schedule import _limits

__all__ = ["Crontab", "Interval", "Once", "Schedule", "from_millis", "to_millis"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_millis(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_millis(millis: int, zone: ZoneInfo | timezone = timezone.utc) -> datetime:
    """Milliseconds since the epoch as an aware datetime in ``zone`` (UTC by default)."""
    return (_EPOCH + timedelta(milliseconds=millis)).astimezone(zone)


@dataclass(frozen=True, kw_only=True, slots=True)
class Interval:
    """Every ``every`` seconds, on a fixed grid: ``start``, ``start + every``, ...

    The grid makes each run time a pure function of the schedule, so every scheduler (and every
    writer, in any language) agrees on it. ``start`` defaults to the epoch: ``every=60`` runs on
    the minute, ``every=3600`` on the hour (UTC).
    """

    every: float
    """Seconds between runs: 0.001 to 31,622,400 (366 days)."""

    start: datetime | None = None
    """An aware datetime on the grid, from 1970 to before 3000; the epoch if not given."""

    def __post_init__(self) -> None:
        _limits.number(
            "schedule.every",
            self.every,
            _limits.MIN_EVERY,
            _limits.MAX_EVERY,
            f"{_limits.MIN_EVERY:g} to {_limits.MAX_EVERY:,} seconds (366 days)",
        )
        if self.start is not None:
            _limits.moment("schedule.start", self.start)

    @property
    def step(self) -> int:
        """The interval in whole milliseconds."""
        return max(1, round(self.every * 1000))

    def next_after(self, millis: int) -> int:
        """The first run strictly after ``millis``."""
        anchor = 0 if self.start is None else to_millis(self.start)
        return anchor + ((millis - anchor) // self.step + 1) * self.step


@dataclass(frozen=True, kw_only=True, slots=True)
class Crontab:
    """A five-field cron expression read on the wall clock of an IANA time zone.

    Fields: minute, hour, day of month, month, day of week (``0``-``7`` or ``SUN``-``SAT``), with
    Debian cron's ``*``, ``,``, ``-`` and ``/``, plus ``L`` (last day) and ``#`` (``MON#2``). An
    expression that can never match (``0 0 31 4 *``) is refused. See the module's docstring for
    daylight saving time.
    """

    cron: str
    """The expression, e.g. ``"*/5 * * * *"``."""

    zone: str = "UTC"
    """The IANA time zone its times are in, e.g. ``"Europe/Berlin"``."""

    def __post_init__(self) -> None:
        if not isinstance(self.cron, str) or len(self.cron.split()) != 5:
            raise ConfigurationError(
                "schedule.cron",
                f"must have 5 fields (minute hour day month weekday): {_limits.short(self.cron)}",
            )
        _limits.text("schedule.cron", self.cron)
        try:
            CronSim(self.cron, datetime(2000, 1, 1, tzinfo=timezone.utc))
        except CronSimError as error:
            raise ConfigurationError(
                "schedule.cron", f"{_limits.short(self.cron)}: {error}"
            ) from None
        self.tz  # noqa: B018  # checks the zone

    @property
    def tz(self) -> ZoneInfo:
        """The zone as a `zoneinfo.ZoneInfo`."""
        try:
            if not isinstance(self.zone, str) or not _limits.is_text(self.zone):
                raise TypeError(self.zone)
            return ZoneInfo(self.zone)
        # OSError: a key naming a file the process may not read, or a name too long for a path.
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise ConfigurationError(
                "schedule.zone", f"unknown IANA time zone {_limits.short(self.zone)}"
            ) from None

    def next_after(self, millis: int) -> int | None:
        """The first run strictly after ``millis``; None if the expression never matches again."""
        return _cron_next(self.cron, self.zone, millis)


@dataclass(frozen=True, kw_only=True, slots=True)
class Once:
    """A single run at an aware datetime."""

    at: datetime
    """When, with its time zone: from 1970 to before 3000."""

    def __post_init__(self) -> None:
        _limits.moment("schedule.at", self.at)

    def next_after(self, millis: int) -> int | None:
        """``at``, if it is after ``millis``; None once it has passed."""
        at = to_millis(self.at)
        return at if at > millis else None


Schedule = Interval | Crontab | Once
"""Any of the three kinds of schedule."""


@functools.lru_cache(maxsize=4096)
def _cron_next(cron: str, zone: str, millis: int) -> int | None:
    """`Crontab.next_after`, remembered.

    Entries that share an expression and a slot (many, as cron expressions go) cost one
    computation per tick.
    """
    moment = from_millis(millis, ZoneInfo(zone))
    try:
        return to_millis(next(CronSim(cron, moment)))
    except StopIteration:  # cronsim gives up on a date far in the future
        return None
