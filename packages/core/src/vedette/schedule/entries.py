"""An entry of the schedule: what to run, when, and what to do about missed runs.

`Target` says what to run, a schedule (`vedette.schedule.timing`) when, `MissedRuns` what to do
about runs that were missed; an `Entry` is read from and written as the JSON document of
docs/schedule-schema.md.

Every check happens when an entry is built; a bad value raises `ConfigurationError` naming the
field as the JSON document spells it (``schedule.cron``, ``target.kwargs``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from vedette.errors import ConfigurationError
from vedette.schedule import _limits
from vedette.schedule.timing import Crontab, Interval, Once, Schedule

__all__ = [
    "FRAMEWORK_NAME",
    "Entry",
    "MissedRuns",
    "Target",
    "entry_from_document",
    "entry_to_document",
    "parse_document",
]

FRAMEWORK_NAME = re.compile(r"[a-z][a-z0-9_]*")
"""What a framework's name looks like (``celery``, ``rq``)."""
_NAME_LIMIT = 200


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """What a run starts: a Celery task, a Dramatiq actor or an RQ function, with its arguments."""

    framework: str
    """The dispatcher that sends it: ``"celery"``, ``"dramatiq"``, ``"rq"``, or another one
    registered in the ``vedette.dispatchers`` entry-point group."""

    name: str
    """The task name (Celery), the actor name (Dramatiq) or the function's dotted path (RQ)."""

    queue: str | None = None
    """The queue to send it to; the framework's default if None."""

    args: list[Any] = field(default_factory=list)
    """Positional arguments, as JSON data."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments, as JSON data."""

    options: dict[str, Any] = field(default_factory=dict)
    """Framework options passed through to the dispatcher (Celery's ``apply_async`` options,
    Dramatiq's message options, RQ's ``enqueue`` options), as JSON data."""

    def __post_init__(self) -> None:
        if not isinstance(self.framework, str) or not FRAMEWORK_NAME.fullmatch(self.framework):
            raise ConfigurationError(
                "target.framework",
                f"must be a lower-case name like 'celery', not {_limits.short(self.framework)}",
            )
        _limits.text("target.name", self.name)
        if self.queue is not None:
            _limits.text("target.queue", self.queue, "a non-empty string or null")
        for setting, value, kind in (
            ("target.args", self.args, list),
            ("target.kwargs", self.kwargs, dict),
            ("target.options", self.options, dict),
        ):
            if not isinstance(value, kind):
                raise ConfigurationError(setting, f"must be a JSON {kind.__name__}")
        size = sum(
            len(_limits.json_bytes(setting, value))
            for setting, value in (
                ("target.args", self.args),
                ("target.kwargs", self.kwargs),
                ("target.options", self.options),
            )
            if value  # [] and {}: the common case, and plainly JSON
        )
        if size > _limits.MAX_DOCUMENT_BYTES:
            raise ConfigurationError(
                "target",
                f"its args, kwargs and options are {size:,} bytes as JSON; "
                f"the limit is {_limits.MAX_DOCUMENT_BYTES:,}",
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class MissedRuns:
    """What to do with runs the scheduler could not dispatch on time (it was down, say).

    A run dispatched within ``max_lateness`` seconds of its time is on time: every such run is
    dispatched, however many there are. Older runs are missed, and ``policy`` decides:
    ``"skip"`` dispatches none; ``"once"`` dispatches the first missed run and skips the rest;
    ``"catch_up"`` dispatches the first ``limit`` missed runs and skips the rest. Then the entry
    carries on with its first run that is on time.
    """

    policy: Literal["skip", "once", "catch_up"] = "once"
    """``"skip"``, ``"once"`` or ``"catch_up"``."""

    limit: int = 1
    """How many missed runs ``"catch_up"`` dispatches (1 for the other policies; at most
    1,000,000)."""

    max_lateness: float = 60.0
    """Seconds after its time within which a run is still on time (0 to 366 days)."""

    def __post_init__(self) -> None:
        if self.policy not in ("skip", "once", "catch_up"):
            raise ConfigurationError(
                "missed.policy", f"must be 'skip', 'once' or 'catch_up', not {self.policy!r}"
            )
        if not isinstance(self.limit, int):
            raise ConfigurationError(
                "missed.limit", f"must be an integer, not {_limits.short(self.limit)}"
            )
        _limits.number(
            "missed.limit", self.limit, 1, _limits.MAX_CATCH_UP, f"1 to {_limits.MAX_CATCH_UP:,}"
        )
        if self.policy != "catch_up" and self.limit != 1:
            raise ConfigurationError("missed.limit", "is only for the 'catch_up' policy")
        _limits.number(
            "missed.max_lateness",
            self.max_lateness,
            0,
            _limits.MAX_LATENESS,
            f"0 to {_limits.MAX_LATENESS:,} seconds (366 days)",
        )

    @property
    def allowed(self) -> int:
        """How many missed runs in a row are dispatched: 0, 1 or ``limit``."""
        return {"skip": 0, "once": 1, "catch_up": self.limit}[self.policy]


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """One periodic (or one-off) job of the schedule."""

    name: str
    """Unique within the store; at most 200 characters."""

    target: Target
    """What each run starts."""

    schedule: Schedule
    """When it runs: `Interval`, `Crontab` or `Once`."""

    enabled: bool = True
    """False pauses the entry: it keeps its place and history but does not run."""

    missed: MissedRuns = field(default_factory=MissedRuns)
    """What to do with runs that could not be dispatched on time."""

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or not self.name
            or len(self.name) > _NAME_LIMIT
            or not self.name.isprintable()  # a lone surrogate is not printable either
        ):
            raise ConfigurationError(
                "name",
                f"must be 1-{_NAME_LIMIT} printable characters, not {_limits.short(self.name)}",
            )
        if not isinstance(self.target, Target):
            raise ConfigurationError("target", "must be a Target")
        if not isinstance(self.schedule, Interval | Crontab | Once):
            raise ConfigurationError("schedule", "must be an Interval, a Crontab or a Once")
        if not isinstance(self.enabled, bool):
            raise ConfigurationError("enabled", "must be true or false")
        if not isinstance(self.missed, MissedRuns):
            raise ConfigurationError("missed", "must be a MissedRuns")


_DEFAULT_MISSED = MissedRuns()


# --- The JSON document (docs/schedule-schema.md) -----------------------------------------------


def _mapping(setting: str, value: object, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(setting or "entry", "must be a JSON object")
    unknown = sorted(set(value) - allowed, key=str)
    if unknown:
        prefix = f"{setting}." if setting else ""
        field = unknown[0] if isinstance(unknown[0], str) else _limits.short(unknown[0])
        raise ConfigurationError(f"{prefix}{_limits.printable(field)}", "is not a known field")
    return value


def _datetime(setting: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise ConfigurationError(setting, "must be an ISO 8601 string with an offset")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            setting, f"is not an ISO 8601 date-time: {_limits.short(value)}"
        ) from None
    if moment.utcoffset() is None:
        raise ConfigurationError(setting, f"needs an offset (Z or +01:00): {_limits.short(value)}")
    return moment


def schedule_from_document(document: object) -> Schedule:
    """A schedule from its JSON form.

    That is ``{"every": 30}``, ``{"cron": ..., "zone": ...}`` or ``{"at": "2027-01-01T00:00:00Z"}``.
    """
    value = _mapping("schedule", document, {"every", "start", "cron", "zone", "at"})
    kinds = [kind for kind in ("every", "cron", "at") if kind in value]
    if len(kinds) != 1:
        raise ConfigurationError("schedule", "must have exactly one of 'every', 'cron' or 'at'")
    if "every" in value:
        _mapping("schedule", value, {"every", "start"})
        start = value.get("start")
        return Interval(
            every=value["every"],
            start=None if start is None else _datetime("schedule.start", start),
        )
    if "cron" in value:
        _mapping("schedule", value, {"cron", "zone"})
        return Crontab(cron=value["cron"], zone=value.get("zone", "UTC"))
    _mapping("schedule", value, {"at"})
    return Once(at=_datetime("schedule.at", value["at"]))


def schedule_to_document(schedule: Schedule) -> dict[str, Any]:
    """The JSON form of a schedule (defaults left out)."""
    if isinstance(schedule, Interval):
        every = int(schedule.every) if float(schedule.every).is_integer() else schedule.every
        interval: dict[str, Any] = {"every": every}
        if schedule.start is not None:
            interval["start"] = schedule.start.isoformat()
        return interval
    if isinstance(schedule, Crontab):
        return {"cron": schedule.cron, "zone": schedule.zone}
    return {"at": schedule.at.isoformat()}


def entry_from_document(document: object) -> Entry:
    """An `Entry` from its JSON document: already parsed, or as JSON text or UTF-8 bytes.

    Every rule of docs/schedule-schema.md is checked, its limits included, whatever the input:
    the document is refused as a whole, and nothing computed from an entry it returns (its
    runs, their times, its hash fields) can fail.

    Raises:
        ConfigurationError: The document breaks a rule; the error names the field.
    """
    raw = isinstance(document, str | bytes)
    if isinstance(document, str | bytes):
        document = parse_document(document)
    value = _mapping("", document, {"name", "target", "schedule", "enabled", "missed"})
    for required in ("name", "target", "schedule"):
        if required not in value:
            raise ConfigurationError(required, "is required")
    target = _mapping(
        "target", value["target"], {"framework", "name", "queue", "args", "kwargs", "options"}
    )
    for required in ("framework", "name"):
        if required not in target:
            raise ConfigurationError(f"target.{required}", "is required")
    entry = Entry(
        name=value["name"],
        target=Target(**target),
        schedule=schedule_from_document(value["schedule"]),
        enabled=value.get("enabled", True),
        missed=missed_from_document(value.get("missed", {})),
    )
    if not raw:  # the text's size was checked; a parsed document's is its compact JSON's
        _limits.document_size("entry", entry_to_document(entry))
    return entry


def parse_document(document: str | bytes) -> Any:
    """A document's JSON text (or UTF-8 bytes) parsed, within the size and depth limits.

    Raises:
        ConfigurationError: Too large, not UTF-8, not JSON, or nested too deep.
    """
    if isinstance(document, str):
        if not _limits.is_text(document):
            raise ConfigurationError("entry", "is not text (it holds a lone surrogate)")
        size = len(document.encode())
    else:
        size = len(document)
    if size > _limits.MAX_DOCUMENT_BYTES:
        raise ConfigurationError(
            "entry", f"is {size:,} bytes; the limit is {_limits.MAX_DOCUMENT_BYTES:,}"
        )
    return _limits.parse_json("entry", document)


def missed_from_document(document: object) -> MissedRuns:
    """A missed-run policy from its JSON form, ``{"policy": ..., "limit": ..., ...}``."""
    return MissedRuns(**_mapping("missed", document, {"policy", "limit", "max_lateness"}))


def entry_to_document(entry: Entry) -> dict[str, Any]:
    """The JSON document of an entry (optional fields at their defaults left out)."""
    target: dict[str, Any] = {"framework": entry.target.framework, "name": entry.target.name}
    for name in ("queue", "args", "kwargs", "options"):
        if getattr(entry.target, name):
            target[name] = getattr(entry.target, name)
    document: dict[str, Any] = {
        "name": entry.name,
        "target": target,
        "schedule": schedule_to_document(entry.schedule),
    }
    if not entry.enabled:
        document["enabled"] = False
    if entry.missed != _DEFAULT_MISSED:
        missed: dict[str, Any] = {"policy": entry.missed.policy}
        if entry.missed.policy == "catch_up":
            missed["limit"] = entry.missed.limit
        missed["max_lateness"] = entry.missed.max_lateness
        document["missed"] = missed
    return document
