"""The limits of an entry document (docs/schedule-schema.md, "Limits"): each refused with the
field it breaks, and nothing a valid entry leads to can fail, whatever the bytes it came from."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import vedette
from tests.schedule.documents import ISSUE_DOCUMENTS, derandomized, nested, pushed, valid
from vedette.schedule import (
    Entry,
    Interval,
    MissedRuns,
    Once,
    Target,
    decide,
    entry_from_document,
    entry_to_document,
)
from vedette.schedule._entry_hash import decode, encode
from vedette.schedule.store import first_run
from vedette.schedule.timing import from_millis

NOW = int(datetime(2026, 12, 4, 12, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize(
    ("case", "setting", "message"),
    [
        ("bytes that are not UTF-8", "entry", "is not UTF-8 text (byte 0xe9 at 12)"),
        ("every 1e308", "schedule.every", "must be 0.001 to 31,622,400 seconds (366 days)"),
        ("every 1e20", "schedule.every", "not 1e+20"),
        ("at in year 0001", "schedule.at", "must be from 1970-01-01 to before 3000-01-01 (UTC)"),
        ("at in year 9999", "schedule.at", "not 9999-12-31T23:59:59-01:00"),
        ("args 100,000 deep", "entry", "bytes; the limit is 65,536"),
        ("args 10,000 deep", "entry", "nests deeper than 100 levels"),
        ("a lone surrogate in args", "target.args", "a lone surrogate"),
        ("1 MB of args", "entry", "bytes; the limit is 65,536"),
    ],
)
def test_the_issue_s_documents_are_refused_naming_the_field(
    case: str, setting: str, message: str
) -> None:
    with pytest.raises(vedette.ConfigurationError) as caught:
        entry_from_document(ISSUE_DOCUMENTS[case])
    assert caught.value.setting == setting
    assert message in caught.value.problem


def document(**changes: Any) -> dict[str, Any]:
    base = valid("edge")
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = base
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return base


@pytest.mark.parametrize(
    ("accepted", "refused", "setting"),
    [
        (document(schedule={"every": 0.001}), document(schedule={"every": 0.0009}), "every"),
        (
            document(schedule={"every": 31_622_400}),
            document(schedule={"every": 31_622_401}),
            "every",
        ),
        (
            document(schedule={"at": "1970-01-01T01:00:00+01:00"}),
            document(schedule={"at": "1970-01-01T00:59:59+01:00"}),
            "at",
        ),
        (
            document(schedule={"at": "2999-12-31T23:59:59.999Z"}),
            document(schedule={"at": "3000-01-01T00:00:00Z"}),
            "at",
        ),
        (
            document(schedule={"every": 60, "start": "2999-12-31T22:59:59-01:00"}),
            document(schedule={"every": 60, "start": "3000-01-01T00:00:00+00:00"}),
            "start",
        ),
        (
            document(missed={"max_lateness": 31_622_400}),
            document(missed={"max_lateness": 31_622_400.5}),
            "max_lateness",
        ),
        (
            document(missed={"policy": "catch_up", "limit": 1_000_000}),
            document(missed={"policy": "catch_up", "limit": 1_000_001}),
            "limit",
        ),
        (
            document(target__args=json.loads(nested(32))),
            document(target__args=json.loads(nested(33))),
            "args",
        ),
        (
            document(target__kwargs={"k": json.loads(nested(31))}),
            document(target__kwargs={"k": json.loads(nested(32))}),
            "kwargs",
        ),
    ],
)
def test_each_limit_is_inclusive_and_refused_one_step_past(
    accepted: dict[str, Any], refused: dict[str, Any], setting: str
) -> None:
    entry_from_document(json.dumps(accepted))
    entry_from_document(accepted)
    for form in (json.dumps(refused), refused):
        with pytest.raises(vedette.ConfigurationError) as caught:
            entry_from_document(form)
        assert caught.value.setting.rsplit(".", 1)[-1] == setting


def test_a_document_may_be_64_kib() -> None:
    filler = 65_536 - len(json.dumps(document(target__args=[""]), separators=(",", ":")))
    largest = json.dumps(document(target__args=["x" * filler]), separators=(",", ":"))
    assert len(largest) == 65_536
    entry_from_document(largest)
    with pytest.raises(vedette.ConfigurationError, match=r"^entry: is 65,537 bytes"):
        entry_from_document(largest.replace('"x', '"xx'))
    # The same, parsed: its compact JSON is measured.
    entry_from_document(json.loads(largest))
    with pytest.raises(vedette.ConfigurationError, match=r"^entry: is 65,537 bytes as JSON"):
        entry_from_document(json.loads(largest.replace('"x', '"xx')))


def test_python_values_are_held_to_the_same_limits() -> None:
    deep: list[Any] = []
    for _ in range(100_000):  # far deeper than json.dumps could recurse
        deep = [deep]
    with pytest.raises(vedette.ConfigurationError, match=r"target\.args: nests deeper than 32"):
        Target(framework="rq", name="f", args=deep)
    with pytest.raises(vedette.ConfigurationError, match=r"target: its args, kwargs and options"):
        Target(framework="rq", name="f", args=["x" * 40_000], kwargs={"k": "y" * 40_000})
    with pytest.raises(vedette.ConfigurationError, match=r"target\.name: is not text"):
        Target(framework="rq", name="f\ud800")
    with pytest.raises(vedette.ConfigurationError, match=r"target\.args: must be JSON data"):
        Target(framework="rq", name="f", args=[(1, 2)])
    with pytest.raises(vedette.ConfigurationError, match=r"schedule\.every"):
        Interval(every=10**400)
    with pytest.raises(vedette.ConfigurationError, match=r"schedule\.at"):
        Once(at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    with pytest.raises(vedette.ConfigurationError, match=r"missed\.max_lateness"):
        MissedRuns(max_lateness=float("inf"))


def every_computation(entry: Entry) -> None:
    """What the store and the runner compute from an entry; none of it may raise."""
    fields = encode(entry)
    assert decode(entry.name, fields) == entry
    assert entry_from_document(json.dumps(entry_to_document(entry))) == entry
    slot = first_run(entry, NOW)
    for _ in range(3):
        if slot is None:
            break
        from_millis(slot)
        for late in (0, 1, 3_600_000, 400 * 86_400_000):
            step = decide(entry, slot, slot + late, streak=late % 3)
            if step.next_run is not None:
                from_millis(step.next_run)
        slot = entry.schedule.next_after(slot)


@derandomized(400)
@given(pushed(st.sampled_from(["a", "b", "nightly report"])))
def test_any_bytes_are_an_entry_or_a_configuration_error(data: bytes) -> None:
    try:
        entry = entry_from_document(data)
    except vedette.ConfigurationError as error:
        refused = error
    else:
        event(f"accepted: {type(entry.schedule).__name__}")
        every_computation(entry)
        return
    event(f"refused: {refused.setting.split('.')[0]}")
    assert "\n" not in str(refused)
    str(refused).encode()  # a message that can be written anywhere (no lone surrogate)
