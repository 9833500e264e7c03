"""RedBeat's entries (celery-redbeat), read as store entries: ``vedette schedule import-redbeat``.

RedBeat keeps an entry in a hash ``<key_prefix><name>`` whose ``definition`` field is a JSON
object: ``name``, ``task``, ``args``, ``kwargs``, ``options``, ``enabled`` and a ``schedule``
tagged by ``__type__``: ``interval`` (``every`` seconds) or ``crontab`` (Celery's five fields,
in the Celery app's time zone, which RedBeat does not record). Its sorted set
``<key_prefix>:schedule`` lists the hashes; the set ``<key_prefix>:statics`` names the entries
that came from ``beat_schedule``.

Plain JSON is read here, so neither Celery nor RedBeat need be installed. Run history
(``meta``) is not carried over: an imported entry runs from its next time on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vedette.errors import ConfigurationError
from vedette.schedule import _limits
from vedette.schedule.entries import Entry, Target
from vedette.schedule.timing import Crontab, Interval, Schedule

__all__ = ["DEFAULT_REDBEAT_PREFIX", "RedBeatEntries", "read_redbeat"]

DEFAULT_REDBEAT_PREFIX = "redbeat:"
"""RedBeat's default ``redbeat_key_prefix``."""

_CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


@dataclass(frozen=True, slots=True)
class RedBeatEntries:
    """What a RedBeat schedule holds, sorted for an import."""

    entries: list[Entry] = field(default_factory=list)
    """Its dynamic entries, as store entries (framework ``celery``)."""

    statics: list[str] = field(default_factory=list)
    """Names of the entries from ``beat_schedule``: ``celery beat -S vedette`` writes those."""

    refused: dict[str, str] = field(default_factory=dict)
    """Entries that cannot be stored, with the reason (an ``rrule`` schedule, say)."""


def read_redbeat(
    client: Any, *, key_prefix: str = DEFAULT_REDBEAT_PREFIX, zone: str = "UTC"
) -> RedBeatEntries:
    """Read RedBeat's schedule under ``key_prefix`` through a redis-py ``client``.

    Args:
        client: A client of the Redis that RedBeat uses (``redbeat_redis_url``).
        key_prefix: RedBeat's ``redbeat_key_prefix``.
        zone: The Celery app's time zone (IANA), for crontab entries.
    """
    keys = [_text(key) for key in client.zrange(f"{key_prefix}:schedule", 0, -1)]
    statics = {_text(name) for name in client.smembers(f"{key_prefix}:statics")}
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hget(key, "definition")
    result = RedBeatEntries()
    for key, definition in zip(keys, pipe.execute(), strict=True):
        name = key.removeprefix(key_prefix)
        if name in statics:
            result.statics.append(name)
            continue
        try:
            if definition is None:
                raise ConfigurationError("definition", "is missing")
            result.entries.append(entry_from_redbeat(name, _text(definition), zone))
        except ConfigurationError as error:
            result.refused[name] = str(error)
    return result


def entry_from_redbeat(name: str, definition: str, zone: str) -> Entry:
    """A store entry from a RedBeat ``definition``.

    Raises:
        ConfigurationError: The definition cannot be stored; the message names the field.
    """
    value = _limits.parse_json("definition", definition)
    if not isinstance(value, Mapping) or not isinstance(value.get("task"), str):
        raise ConfigurationError("definition", "has no task")
    try:
        options = dict(value.get("options") or {})
        return Entry(
            name=name,
            target=Target(
                framework="celery",
                name=value["task"],
                queue=options.pop("queue", None),
                args=list(value.get("args") or []),
                kwargs=dict(value.get("kwargs") or {}),
                options=options,
            ),
            schedule=_schedule(value.get("schedule"), zone),
            enabled=bool(value.get("enabled", True)),
        )
    except (KeyError, TypeError, ValueError) as error:  # a field of the wrong shape
        if isinstance(error, ConfigurationError):
            raise
        raise ConfigurationError(
            "definition", f"cannot be read: {type(error).__name__}: {_limits.short(error)}"
        ) from None


def _schedule(value: Any, zone: str) -> Schedule:
    kind = value.get("__type__") if isinstance(value, Mapping) else None
    if kind == "interval":
        if value.get("relative"):
            raise ConfigurationError("schedule.relative", "is not supported by the store")
        return Interval(every=value["every"])
    if kind == "crontab":
        return Crontab(
            cron=" ".join(_cron_field(value.get(f, "*")) for f in _CRON_FIELDS), zone=zone
        )
    raise ConfigurationError(
        "schedule", f"a {kind or 'missing'} schedule is not supported: only interval and crontab"
    )


def _cron_field(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(part) for part in sorted(value))
    return str(value).strip() or "*"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
