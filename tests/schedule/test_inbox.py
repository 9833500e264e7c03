"""Whatever is pushed to the inbox of a running leader, or written by hand into the store, every
other entry keeps its every run: a bad document is refused with the reason, a bad
stored entry is parked and reported once, and no tick fails."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vedette
from tests.schedule.documents import FRAMEWORK, ISSUE_DOCUMENTS, derandomized, nested, pushed, valid
from tests.schedule.recording import Recording, running, slots_of
from vedette.errors import ConfigurationError
from vedette.schedule import (
    Entry,
    Interval,
    ScheduleRunner,
    ScheduleStore,
    Target,
    entry_from_document,
)
from vedette.testing import SentinelCluster, wait_until

BASELINE = "baseline"
EVERY = 0.25  # seconds between the baseline entry's runs
REFUSED = "inbox document refused"


@contextmanager
def leading(store: ScheduleStore) -> Iterator[Recording]:
    """A runner leading ``store``, with a baseline entry it has already sent twice.

    Afterwards: the baseline entry was sent every one of its slots, each once, up to the last
    one before the block ended.
    """
    store.add(
        Entry(
            name=BASELINE,
            target=Target(framework=FRAMEWORK, name="app.jobs.tick"),
            schedule=Interval(every=EVERY),
        )
    )
    dispatcher = Recording()
    runner = ScheduleRunner(store, {FRAMEWORK: dispatcher}, lease=5.0, idle=0.05)
    with running(runner):
        wait_until(lambda: len(slots_of(dispatcher, BASELINE)) >= 2, 30, "the baseline's runs")
        yield dispatcher
        end = int(time.time() * 1000)
        wait_until(
            lambda: slots_of(dispatcher, BASELINE)[-1] >= end - EVERY * 1000,
            30,
            "the baseline's run of the last slot",
        )
    slots = slots_of(dispatcher, BASELINE)
    assert slots == list(range(slots[0], slots[-1] + 1, int(EVERY * 1000)))


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if REFUSED in r.getMessage()]


def assert_no_tick_failed(caplog: pytest.LogCaptureFixture) -> None:
    failed = [r for r in caplog.records if "tick failed" in r.getMessage()]
    assert not failed, failed[0].exc_text


def test_the_issue_s_documents_are_refused_and_the_next_one_is_taken(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vedette.schedule")
    after = valid("after")
    with leading(store) as dispatcher:
        store.client.rpush(store.inbox_key, *ISSUE_DOCUMENTS.values(), json.dumps(after))
        wait_until(lambda: store.get("after") is not None, 10, "the document pushed after them")
        wait_until(lambda: len(slots_of(dispatcher, "after")) >= 2, 10, "its runs")
    assert_no_tick_failed(caplog)
    assert store.get("bad") is None  # nothing refused was written
    rejected = store.rejected()[::-1]  # oldest first, as pushed
    errors = [record["error"] for record in rejected]
    assert errors == [
        "entry: is not UTF-8 text (byte 0xe9 at 12)",
        "schedule.every: must be 0.001 to 31,622,400 seconds (366 days), not 1e+308",
        "schedule.every: must be 0.001 to 31,622,400 seconds (366 days), not 1e+20",
        "schedule.at: must be from 1970-01-01 to before 3000-01-01 (UTC), "
        "not 0001-01-01T00:00:00+01:00",
        "schedule.at: must be from 1970-01-01 to before 3000-01-01 (UTC), "
        "not 9999-12-31T23:59:59-01:00",
        f"entry: is {len(ISSUE_DOCUMENTS['args 100,000 deep']):,} bytes; the limit is 65,536",
        "entry: nests deeper than 100 levels",
        "target.args: holds a string that is not text (a lone surrogate)",
        f"entry: is {len(ISSUE_DOCUMENTS['1 MB of args']):,} bytes; the limit is 65,536",
    ]
    assert rejected[0]["document"] == '{"name":"caf\\xe9","target":{"framework":"test"}}'
    assert rejected[-1]["document"].endswith(
        f"xxx... ({len(ISSUE_DOCUMENTS['1 MB of args']):,} bytes)"
    )
    assert len(rejected[-1]["document"]) < 1100  # its start only
    logged = refusals(caplog)
    assert [line.split(REFUSED + ": ")[1] for line in logged] == errors  # one line each


def accepts(data: bytes) -> Entry | None:
    """What the runner must make of a pushed document: its entry, or None (refused)."""
    try:
        entry = entry_from_document(data)
    except ConfigurationError:
        return None
    return entry if entry.target.framework == FRAMEWORK else None


def name_in(data: bytes) -> Any:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return document.get("name") if isinstance(document, dict) else None


def test_any_bytes_pushed_leave_every_other_entry_running(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vedette.schedule")
    taken: set[str] = set()
    counts = {"batches": 0, "documents": 0, "refused": 0}

    # Hypothesis runs inside the test (not as its decorator): one runner and one baseline
    # entry for every example, and function-scoped fixtures used once.
    @derandomized(60)
    @given(st.lists(pushed(st.sampled_from(["pushed-a", "pushed-b"])), min_size=10, max_size=40))
    def push(batch: list[bytes]) -> None:
        counts["batches"] += 1
        marker = f"marker-{counts['batches']}"
        store.client.delete(store.rejected_key)
        store.client.rpush(store.inbox_key, *batch, json.dumps(valid(marker, every=3600)))
        wait_until(lambda: store.get(marker) is not None, 15, "the batch to be taken")
        expected = [accepts(data) for data in batch]
        refused = [data for data, entry in zip(batch, expected, strict=True) if entry is None]
        assert len(store.rejected()) == len(refused)
        last = {entry.name: entry for entry in expected if entry is not None}
        for name, entry in last.items():
            stored = store.get(name)
            assert stored is not None
            assert stored.entry == entry
        taken.update(last)
        for data in refused:
            name = name_in(data)
            if isinstance(name, str) and name not in last:
                assert store.get(name) is None, f"refused, yet written: {data!r}"
        for stored in store.entries():
            assert stored.problem is None, stored  # only valid entries were written
        for name in [*last, marker]:  # a 1 ms interval would keep the leader busy
            store.remove(name)
        counts["documents"] += len(batch)
        counts["refused"] += len(refused)

    with leading(store):
        push()
    assert_no_tick_failed(caplog)
    assert len(refusals(caplog)) == counts["refused"]
    assert counts["documents"] > counts["refused"] > 0
    assert taken  # valid documents were among them


def test_entries_written_by_hand_are_parked_and_reported_once(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vedette.schedule")
    client, bad = store.client, ["every", "at", "args", "utf8", "runs", "minus-inf"]
    for name in bad:
        store.add(
            Entry(
                name=name,
                target=Target(framework=FRAMEWORK, name="x"),
                schedule=Interval(every=0.1),
            )
        )
    client.hset(store.entry_key("every"), "s", '{"every": 1e308}')
    client.hset(store.entry_key("at"), "s", '{"at": "0001-01-01T00:00:00+01:00"}')
    client.hset(store.entry_key("args"), "a", nested(100_000))
    client.hset(store.entry_key("utf8"), "fn", b"\xff\xfe")
    client.hset(store.entry_key("runs"), "n", "many")
    client.zadd(store.due_key, {"minus-inf": float("-inf")})
    client.zadd(store.due_key, {"not-a-hash": 0})  # its key will be a string
    client.zadd(store.due_key, {b"\xff": 0})  # a name that is not UTF-8
    client.set(store.entry_key("not-a-hash"), "x")
    client.hset(store.entry_prefix.encode() + b"\xff", mapping={"fw": FRAMEWORK, "fn": "x"})
    every = [*bad, "not-a-hash", "\udcff"]
    with leading(store) as dispatcher:
        wait_until(
            lambda: all(
                client.zscore(store.due_key, name.encode(errors="surrogateescape")) == float("inf")
                for name in every
            ),
            10,
            "every bad entry to be parked",
        )
        seen = len(slots_of(dispatcher, BASELINE))
        wait_until(lambda: len(slots_of(dispatcher, BASELINE)) >= seen + 4, 10, "more runs")
    assert_no_tick_failed(caplog)
    assert not [run for run in dispatcher.runs if run.entry.name in every]
    reports = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert sorted(line.split("entry ")[1].split(" ")[0] for line in reports) == sorted(
        repr(name) for name in [*bad, "\udcff"]
    )  # each once; the key that is not a hash is reported apart
    assert sum("is not a hash" in r.getMessage() for r in caplog.records) == 1
    stored = store.get("every")
    assert stored is not None
    assert stored.problem is not None
    assert stored.problem.startswith("schedule.every: must be 0.001 to 31,622,400 seconds")
    assert stored.last_error is not None
    assert stored.last_error.startswith("cannot be read: schedule.every")


def test_a_client_that_decodes_replies_takes_bytes_that_are_not_utf8_too(
    cluster: SentinelCluster, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vedette.schedule")
    client = vedette.connect(cluster.url, decode_responses=True)
    store = ScheduleStore(client, prefix=prefix)
    try:
        with leading(store):
            client.rpush(store.inbox_key, b"\xff\xfe", json.dumps(valid("after")))
            wait_until(lambda: store.get("after") is not None, 10, "the document after it")
    finally:
        client.close()
    assert_no_tick_failed(caplog)
    assert refusals(caplog) == [
        f"schedule {store.prefix}: {REFUSED}: entry: is not UTF-8 text (byte 0xff at 0)"
    ]
