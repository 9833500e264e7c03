"""`vedette schedule ...` against a real cluster: the commands users script the store with, and
what they say, in one line, about what they cannot do."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

import vedette
from tests.schedule.documents import nested
from vedette.cli import main
from vedette.schedule import ScheduleStore
from vedette.testing import SentinelCluster, unresponsive_address

ENTRY = {
    "name": "nightly",
    "target": {"framework": "rq", "name": "app.jobs.nightly"},
    "schedule": {"cron": "30 1 * * *", "zone": "America/New_York"},
}


def run(*args: str, input: str | bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    # A failure is a message and an exit status, never an exception escaping the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_entries_are_added_listed_shown_changed_and_removed(cluster: SentinelCluster) -> None:
    url, prefix = cluster.url, ("--prefix", "cli")
    every = {**ENTRY, "name": "often", "schedule": {"every": 30}}
    code, output = run("schedule", "add", url, "-", *prefix, input=json.dumps([ENTRY, every]))
    assert code == 0, output
    assert "nightly: next run" in output
    code, output = run("schedule", "list", url, *prefix, "--json")
    assert code == 0, output
    listed = [json.loads(line) for line in output.splitlines()]
    assert [entry["name"] for entry in listed] == ["often", "nightly"]
    assert listed[1]["schedule"] == ENTRY["schedule"]
    code, output = run("schedule", "next", url, "nightly", *prefix, "--count", "2")
    assert code == 0, output
    assert all(line.endswith(("-05:00", "-04:00")) for line in output.splitlines())
    assert len(output.splitlines()) == 2
    for verb, said in (("pause", "paused"), ("resume", "resumed"), ("run-now", "due now")):
        code, output = run("schedule", verb, url, "nightly", *prefix)
        assert (code, output.strip()) == (0, f"nightly: {said}")
    code, output = run("schedule", "show", url, "nightly", *prefix)
    assert json.loads(output)["runs"] == 0
    code, output = run("schedule", "remove", url, "nightly", *prefix)
    assert code == 0, output
    code, output = run("schedule", "show", url, "nightly", *prefix)
    assert code == 1
    assert "no entry 'nightly'" in output


def test_a_bad_entry_is_refused_by_name_and_nothing_is_written(cluster: SentinelCluster) -> None:
    bad_zone = {**ENTRY, "name": "elsewhere", "schedule": {"cron": "0 * * * *", "zone": "Mars/X"}}
    code, output = run(
        "schedule", "add", cluster.url, "-", "--prefix", "bad", input=json.dumps([ENTRY, bad_zone])
    )
    assert code == 1
    assert "entry 'elsewhere': schedule.zone: unknown IANA time zone 'Mars/X'" in output
    unknown = {**ENTRY, "target": {"framework": "huey", "name": "x"}}
    code, output = run(
        "schedule", "add", cluster.url, "-", "--prefix", "bad", input=json.dumps(unknown)
    )
    assert code == 1
    assert "no dispatcher installed for 'huey' (installed: celery, dramatiq, rq)" in output
    code, output = run("schedule", "add", cluster.url, "-", "--prefix", "bad", input="{nope")
    assert code == 1
    assert "not valid JSON" in output
    code, output = run("schedule", "list", cluster.url, "--prefix", "bad")
    assert (code, output) == (0, "")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"schedule": {"every": 1e20}}, "schedule.every: must be 0.001 to 31,622,400 seconds"),
        ({"schedule": {"at": "0001-01-01T00:00:00+01:00"}}, "schedule.at: must be from 1970"),
        ({"schedule": {"at": "9999-12-31T23:59:59-01:00"}}, "schedule.at: must be from 1970"),
        (
            {"target": {"framework": "rq", "name": "f", "args": ["x" * 1_000_000]}},
            "target: its args, kwargs and options are 1,000,004 bytes as JSON; the limit is 65,536",
        ),
        (
            {"target": {"framework": "rq", "name": "f", "args": json.loads(nested(40))}},
            "target.args: nests deeper than 32 levels",
        ),
        (
            {"target": {"framework": "rq", "name": "f", "args": ["\ud800"]}},
            "target.args: holds a string that is not text (a lone surrogate)",
        ),
    ],
)
def test_add_refuses_what_the_inbox_refuses_and_writes_nothing(
    cluster: SentinelCluster, change: dict[str, object], said: str
) -> None:
    documents = json.dumps([ENTRY, {**ENTRY, "name": "bad", **change}])
    code, output = run("schedule", "add", cluster.url, "-", "--prefix", "refused", input=documents)
    assert (code, output.count("\n")) == (1, 1), output
    assert f"Error: entry 'bad': {said}" in output
    assert run("schedule", "list", cluster.url, "--prefix", "refused") == (0, "")


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (b"[]", "Error: -: holds an empty list: there is no entry to add"),
        (b'{"name": "caf\xe9"}', "Error: -: is not UTF-8 text (byte 0xe9 at 13)"),
        (nested(100_000).encode(), "Error: -: nests deeper than 100 levels"),
    ],
)
def test_add_without_an_entry_to_add_says_so(
    cluster: SentinelCluster, given: bytes, said: str
) -> None:
    code, output = run("schedule", "add", cluster.url, "-", "--prefix", "empty", input=given)
    assert (code, output.strip()) == (1, said)


def test_entries_written_by_hand_are_listed_shown_and_refused_in_one_line(
    cluster: SentinelCluster,
) -> None:
    client = vedette.connect(cluster.url)
    store = ScheduleStore(client, prefix="by-hand")
    code, output = run(
        "schedule",
        "add",
        cluster.url,
        "-",
        "--prefix",
        "by-hand",
        input=json.dumps([{**ENTRY, "name": name} for name in ("every", "runs", "later")]),
    )
    assert code == 0, output
    client.hset(store.entry_key("every"), "s", '{"every": 1e308}')
    client.hset(store.entry_key("runs"), "n", "many")
    client.zadd(store.due_key, {"later": 1e300, "not-a-hash": 0})
    client.zadd(store.due_key, {b"caf\xe9": 0})
    client.hset(store.entry_prefix.encode() + b"caf\xe9", mapping={"fw": "rq", "fn": "f"})
    client.set(store.entry_key("not-a-hash"), "x")
    client.close()
    code, output = run("schedule", "list", cluster.url, "--prefix", "by-hand")
    assert code == 0, output
    listed = dict(line.split("  UNREADABLE: ") for line in output.splitlines())
    assert listed == {
        "caf\\xe9": "s: is missing from the entry's hash",
        "not-a-hash": "its key cannot be read: WRONGTYPE Operation against a key holding the "
        "wrong kind of value",
        "every": "schedule.every: must be 0.001 to 31,622,400 seconds (366 days), not 1e+308",
        "runs": "n: is not a count: 'many'",
        "later": "score: 1e+300 is not a run time (the entry's score in the due set)",
    }
    code, output = run("schedule", "list", cluster.url, "--prefix", "by-hand", "--json")
    assert code == 0, output
    assert len([json.loads(line)["problem"] for line in output.splitlines()]) == 5
    code, output = run("schedule", "show", cluster.url, "every", "--prefix", "by-hand")
    assert code == 0, output
    assert json.loads(output)["problem"].startswith("schedule.every: must be 0.001")
    for name in ("every", "not-a-hash", "later"):
        code, output = run("schedule", "next", cluster.url, name, "--prefix", "by-hand")
        assert (code, output.count("\n")) == (1, 1), output
        assert output.startswith(f"Error: entry '{name}' cannot be read: ")


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["show", "nightly"],
        ["next", "nightly"],
        ["import-redbeat"],
        ["add", "-"],
        ["remove", "nightly"],
    ],
)
def test_without_a_sentinel_a_command_fails_at_once(command: list[str]) -> None:
    with unresponsive_address() as address:
        url = f"redis+sentinel://{address}/svc"
        started = time.monotonic()
        code, output = run("schedule", command[0], url, *command[1:], input=json.dumps(ENTRY))
        took = time.monotonic() - started
    assert code == 1
    assert output.startswith("Error: SentinelsUnreachableError: no Sentinel of 'svc'"), output
    assert took < 10  # one connect timeout (1 s); it was the retry deadline (60 s)
