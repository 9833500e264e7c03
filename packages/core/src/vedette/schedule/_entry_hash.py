"""An entry as the fields of its Redis hash, and back: the definition and the history.

Definition fields: ``fw`` framework, ``fn`` target name, ``q`` queue, ``a`` args, ``kw``
kwargs, ``o`` options, ``s`` schedule, ``m`` missed-run policy, ``off`` paused (JSON where
structured, defaults left out: short values keep Redis's compact encoding for the hash).
History fields, written by the store's scripts: ``last`` (the slot of the last run sent), ``n``
(runs sent), ``late`` (missed runs sent in a row), ``err``.

A hash may have been written by hand, with anything in it: reading one checks every field as a
document's (`vedette.schedule.entries`), and raises `ConfigurationError` naming the field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from vedette.errors import ConfigurationError
from vedette.schedule import _limits, _scripts
from vedette.schedule.entries import (
    Entry,
    MissedRuns,
    Target,
    entry_to_document,
    missed_from_document,
    schedule_from_document,
    schedule_to_document,
)
from vedette.schedule.timing import Schedule

__all__ = ["compact", "decode", "encode", "history", "slot_field"]

_DEFAULT_MISSED = MissedRuns()
# The hash fields holding JSON, and the document's name for each (errors name the latter).
_JSON_FIELDS = {"a": "target.args", "kw": "target.kwargs", "o": "target.options"}


def compact(value: Any) -> str:
    """``value`` as compact JSON text (non-ASCII characters as they are)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode(entry: Entry) -> dict[str, str]:
    """The hash fields of an entry's definition."""
    target = entry.target
    fields = {"fw": target.framework, "fn": target.name}
    if target.queue is not None:
        fields["q"] = target.queue
    for field, value in (("a", target.args), ("kw", target.kwargs), ("o", target.options)):
        if value:
            fields[field] = compact(value)
    fields["s"] = compact(schedule_to_document(entry.schedule))
    if entry.missed != _DEFAULT_MISSED:
        fields["m"] = compact(entry_to_document(entry)["missed"])
    if not entry.enabled:
        fields["off"] = "1"
    return fields


def decode(name: str, fields: Mapping[str, str]) -> Entry:
    """An entry from its hash fields (checked as a document is: written by hand, it may be bad).

    The same definition is decoded once: a scheduler sees the same entries tick after tick. The
    entries returned are shared, and must not be changed (their ``target.args`` included).

    Raises:
        ConfigurationError: The fields do not make a valid entry.
    """
    return _decode(name, tuple(map(fields.get, _scripts.DEFINITION_FIELDS)))


@functools.lru_cache(maxsize=16384)
def _decode(name: str, definition: tuple[str | None, ...]) -> Entry:
    fields = {
        field: value
        for field, value in zip(_scripts.DEFINITION_FIELDS, definition, strict=True)
        if value is not None
    }
    for required in ("fw", "fn", "s"):
        if required not in fields:
            raise ConfigurationError(required, "is missing from the entry's hash")
    values = {
        field: _limits.parse_json(setting, fields[field], depth=_limits.MAX_DEPTH)
        for field, setting in _JSON_FIELDS.items()
        if field in fields
    }
    target = Target(
        framework=fields["fw"],
        name=fields["fn"],
        queue=fields.get("q"),
        args=values.get("a", []),
        kwargs=values.get("kw", {}),
        options=values.get("o", {}),
    )
    return Entry(
        name=name,
        target=target,
        schedule=_schedule(fields["s"]),
        enabled="off" not in fields,
        missed=_missed(fields["m"]) if "m" in fields else _DEFAULT_MISSED,
    )


# Entries share few schedules and policies: each distinct one is parsed and checked once.
@functools.lru_cache(maxsize=4096)
def _schedule(text: str) -> Schedule:
    return schedule_from_document(_limits.parse_json("schedule", text))


@functools.lru_cache(maxsize=256)
def _missed(text: str) -> MissedRuns:
    return missed_from_document(_limits.parse_json("missed", text))


def history(fields: Mapping[str, str]) -> tuple[int | None, int, int]:
    """An entry's history from its hash: the last slot sent, the runs sent, the late streak.

    The store's scripts write these; one written by hand is checked like the definition.

    Raises:
        ConfigurationError: A field is not what the scripts write; the error names it.
    """
    last = fields.get("last")
    return (
        None if last is None else slot_field("last", last),
        _count("n", fields.get("n", "0")),
        _count("late", fields.get("late", "0")),
    )


def slot_field(field: str, text: str) -> int:
    """A slot (ms) the store wrote, as text: a number from 0 to year 9000.

    Raises:
        ConfigurationError: It is not.
    """
    try:
        value = float(text) if len(text) <= 32 else None  # longer is not a score Redis wrote
    except ValueError:
        value = None
    millis = None if value is None else _limits.slot(value)
    if millis is None:
        raise ConfigurationError(field, f"is not a run time: {_limits.short(text)}")
    return millis


def _count(field: str, text: str) -> int:
    # Digits only, and few: int() of a long string is slow (and refused from 4,300 digits).
    if not (0 < len(text) <= 18 and text.isascii() and text.isdigit()):
        raise ConfigurationError(field, f"is not a count: {_limits.short(text)}")
    return int(text)
