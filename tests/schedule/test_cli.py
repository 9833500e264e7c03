"""`vedette schedule ...` against a real cluster: the commands users script the store with."""

from __future__ import annotations

import json

from click.testing import CliRunner

from vedette.cli import main
from vedette.testing import SentinelCluster

ENTRY = {
    "name": "nightly",
    "target": {"framework": "rq", "name": "app.jobs.nightly"},
    "schedule": {"cron": "30 1 * * *", "zone": "America/New_York"},
}


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
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
