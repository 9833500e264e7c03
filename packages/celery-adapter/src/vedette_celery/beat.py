"""``celery beat -S vedette``: Celery's beat on Vedette's schedule store, with standbys.

Start ``celery -A proj beat -S vedette`` on several hosts: one leads the store and sends each
due run once (the store's lease, `vedette.schedule.ScheduleRunner`), the others take over within
the lease when it stops. Every beat writes the app's ``beat_schedule`` to the store as *static*
entries when it starts: entries dropped from ``beat_schedule`` are deleted, entries added
otherwise (``vedette schedule add``, the inbox, `vedette.schedule.ScheduleStore.add`) are left
alone. Celery entries run through this app (its routing, its serializer); the entries of the
other frameworks in the store run through their installed adapters, as with ``vedette beat``.

Settings (``app.conf``):

- ``vedette_schedule_url``: the service holding the store, ``redis-sentinel://`` or the core's
  ``redis+sentinel://``; default ``broker_url`` (with ``broker_transport_options``).
- ``vedette_schedule_prefix``: the store's key prefix; default ``"vedette:schedule"``.
- ``vedette_schedule_lease``: seconds of the leader's lease; default 10.

``beat_schedule`` entries take a number of seconds, a ``timedelta``, ``schedule(...)`` or
``crontab(...)`` (in the app's ``timezone``, an IANA name). Celery's ``solar`` schedules and
``relative`` are not supported; a bad entry stops the beat at start-up, naming it, before
anything is written.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Mapping
from datetime import timedelta, timezone
from typing import Any

import celery.beat
import redis
from celery import Celery
from celery.schedules import crontab
from celery.schedules import schedule as every

import vedette
from vedette import ConfigurationError, SentinelConfig
from vedette.schedule import (
    DEFAULT_LEASE,
    DEFAULT_PREFIX,
    Crontab,
    Entry,
    Interval,
    Schedule,
    ScheduleRunner,
    ScheduleStore,
    Target,
    installed_dispatchers,
)
from vedette_celery.dispatch import CeleryDispatcher
from vedette_celery.settings import SCHEMES, core_url, split

__all__ = ["Scheduler", "static_entries"]

logger = logging.getLogger(__name__)

_FIELDS = frozenset({"task", "schedule", "args", "kwargs", "options", "relative"})
# A store entry's field, as beat_schedule names it.
_FIELD_OF = {"target.name": "task", "target.queue": "options"}


class Scheduler(celery.beat.Scheduler):  # type: ignore[misc]  # Celery is untyped
    """Celery beat's scheduler on the schedule store (``-S vedette``)."""

    def __init__(self, app: Celery, *args: Any, **kwargs: Any) -> None:
        """As Celery's; the store is opened by `setup_schedule` (not for a ``lazy`` one)."""
        self._runner: ScheduleRunner | None = None
        self._client: redis.Redis | None = None
        super().__init__(app, *args, **kwargs)

    def setup_schedule(self) -> None:
        """Check ``beat_schedule``, write it to the store as static entries, get ready to lead."""
        conf = self.app.conf
        statics = static_entries(conf.beat_schedule or {}, self.app)  # nothing written if bad
        url, config = _store_service(self.app)
        prefix = conf.get("vedette_schedule_prefix") or DEFAULT_PREFIX
        lease = conf.get("vedette_schedule_lease") or DEFAULT_LEASE
        dispatchers = installed_dispatchers(url, leave_out=("celery",))
        dispatchers["celery"] = CeleryDispatcher(self.app)
        self._client = vedette.connect(config)
        store = ScheduleStore(self._client, prefix=prefix)
        removed = store.replace_statics("celery", statics)
        logger.info(
            "beat_schedule: %d static entries in store %r%s",
            len(statics),
            prefix,
            f"; removed {', '.join(removed)}" if removed else "",
        )
        self._runner = ScheduleRunner(store, dispatchers, lease=float(lease))
        self.data: dict[str, Any] = {}

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Stand by, or lead and send what is due; the seconds until the next tick."""
        assert self._runner is not None, "setup_schedule has not run"
        return self._runner.step()

    def sync(self) -> None:
        """Nothing to do: every run is recorded in the store as it is sent."""

    def close(self) -> None:
        """Give the lease up, so a standby takes over at once, and close the connections."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def info(self) -> str:
        """What ``celery beat`` shows at start-up."""
        conf = self.app.conf
        prefix = conf.get("vedette_schedule_prefix") or DEFAULT_PREFIX
        lease = conf.get("vedette_schedule_lease") or DEFAULT_LEASE
        return f"vedette schedule store {prefix!r}, lease {float(lease):g} s"


def static_entries(beat_schedule: Mapping[str, Any], app: Celery) -> list[Entry]:
    """The store entries of Celery's ``beat_schedule``.

    Raises:
        ConfigurationError: An entry cannot be stored; the message names it
            (``beat_schedule['name'].schedule``).
    """
    return [_entry(name, spec, app) for name, spec in beat_schedule.items()]


def _entry(name: str, spec: Any, app: Celery) -> Entry:
    setting = f"beat_schedule[{name!r}]"
    if not isinstance(spec, Mapping):
        raise ConfigurationError(setting, "must be a dict with 'task' and 'schedule'")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise ConfigurationError(f"{setting}[{unknown[0]!r}]", "is not a beat_schedule field")
    for required in ("task", "schedule"):
        if required not in spec:
            raise ConfigurationError(f"{setting}[{required!r}]", "is required")
    if spec.get("relative"):
        raise ConfigurationError(f"{setting}['relative']", "is not supported by the store")
    options = dict(spec.get("options") or {})
    try:
        target = Target(
            framework="celery",
            name=spec["task"],
            queue=options.pop("queue", None),
            args=list(spec.get("args") or ()),
            kwargs=dict(spec.get("kwargs") or {}),
            options=options,
        )
        return Entry(name=name, target=target, schedule=_schedule(spec["schedule"], app))
    except ConfigurationError as error:
        field = _FIELD_OF.get(error.setting, error.setting.removeprefix("target."))
        raise ConfigurationError(f"{setting}[{field!r}]", error.problem) from None
    except (TypeError, ValueError) as error:
        raise ConfigurationError(setting, str(error)) from None


def _schedule(value: Any, app: Celery) -> Schedule:
    if isinstance(value, crontab):
        return Crontab(cron=cron_expression(value), zone=_zone(app))
    if isinstance(value, every):
        value = value.run_every
    if isinstance(value, timedelta):
        return Interval(every=value.total_seconds())
    if isinstance(value, bool):
        raise ConfigurationError("schedule", "must be a schedule, not a boolean")
    if isinstance(value, numbers.Real):
        return Interval(every=float(value))
    raise ConfigurationError(
        "schedule",
        f"{type(value).__name__} is not supported by the store: use seconds, a timedelta, "
        "schedule() or crontab()",
    )


def cron_expression(value: crontab) -> str:
    """The five-field cron expression of a Celery ``crontab``."""
    fields = (
        value._orig_minute,
        value._orig_hour,
        value._orig_day_of_month,
        value._orig_month_of_year,
        value._orig_day_of_week,
    )
    return " ".join(_cron_field(field) for field in fields)


def _cron_field(field: Any) -> str:
    if isinstance(field, str):
        return field.strip() or "*"
    if isinstance(field, int):
        return str(field)
    if isinstance(field, Iterable):
        return ",".join(str(part) for part in sorted(field))
    raise ConfigurationError("schedule", f"cannot read the crontab field {field!r}")


def _zone(app: Celery) -> str:
    zone = app.timezone
    if zone is timezone.utc:
        return "UTC"
    key = getattr(zone, "key", None)
    if not isinstance(key, str):
        raise ConfigurationError(
            "timezone", f"must name an IANA zone ('Europe/Berlin') for crontab entries: {zone!r}"
        )
    return key


def _store_service(app: Celery) -> tuple[str, SentinelConfig]:
    """The store's service: a ``redis+sentinel://`` URL (for the other dispatchers) and config."""
    conf = app.conf
    url = conf.get("vedette_schedule_url")
    if url:
        scheme = url.partition("://")[0].lower()
        core = core_url(url, setting="vedette_schedule_url") if scheme in SCHEMES else url
        return core, SentinelConfig.from_url(core)
    broker = conf.broker_url
    if not isinstance(broker, str) or broker.partition("://")[0].lower() not in SCHEMES:
        raise ConfigurationError(
            "vedette_schedule_url",
            "is needed when broker_url is not a redis-sentinel:// URL",
        )
    settings = split(broker, conf.broker_transport_options or {})
    return core_url(broker, setting="broker_url"), settings.config
