"""The ``vedette`` command against real clusters."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

import vedette
from vedette.cli import main
from vedette.testing import ClusterFactory, SentinelCluster, unresponsive_address, wait_until


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def test_status_shows_master_replicas_and_sentinels(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(replicas=2, password="s3cret")
    cluster.client().set("k", "v")
    code, output = run("status", cluster.url)
    assert code == 0, output
    master = cluster.master_address()
    assert f"service 'vedette': master {master}" in output
    assert "3 of 3 Sentinels asked agree" in output
    lines = output.splitlines()
    for sentinel in cluster.sentinel_addresses:
        (row,) = [line for line in lines if line.startswith(str(sentinel))]
        assert row.split()[1:4] == [str(master), "0", "master"]
    for replica in cluster.redis_addresses[1:]:
        (row,) = [line for line in lines if line.startswith(str(replica))]
        assert row.split()[1:3] == ["slave", "up"]
        assert row.split()[3].isdigit()  # lag in bytes
    assert "s3cret" not in output


def test_status_with_a_bad_url_names_the_setting() -> None:
    code, output = run("status", "redis+sentinel://127.0.0.1/svc?socket_timeout=soon")
    assert code == 2
    assert "socket_timeout" in output


def test_status_without_sentinels_fails_in_one_line() -> None:
    with unresponsive_address() as address:
        url = f"redis+sentinel://{address}/svc?sentinel_connect_timeout=0.2"
        code, output = run("status", url)
    assert code == 1
    assert output.startswith("Error: SentinelsUnreachableError: no Sentinel of 'svc'")


def test_watch_prints_one_line_per_event(sentinel_cluster: SentinelCluster) -> None:
    threading.Timer(1.0, sentinel_cluster.failover).start()
    code, output = run("watch", sentinel_cluster.url, "--count", "3", "--timeout", "30")
    assert code == 0, output
    header, *events = output.splitlines()
    assert header.startswith(
        f"watching service 'vedette': master {sentinel_cluster.redis_addresses[0]}"
    )
    assert [line.split("Z  ", 1)[1].split()[0:2] for line in events] == [
        ["failover", "of"],
        ["promoting", "replica"],
        ["master", "switched"],
    ]


def test_failover_drill_reports_the_pause(sentinel_cluster: SentinelCluster) -> None:
    old = sentinel_cluster.master_address()
    code, output = run("failover", sentinel_cluster.url, input="y\n")
    assert code == 0, output
    new = sentinel_cluster.master_address()
    assert new != old
    assert f"master {old} -> {new}: switch announced" in output
    assert "longest write pause" in output
    assert ", 0 lost, " in output
    assert not sentinel_cluster.client().keys("vedette:drill:*")  # the scratch list is gone


def test_failover_drill_can_be_declined(sentinel_cluster: SentinelCluster) -> None:
    old = sentinel_cluster.master_address()
    code, output = run("failover", sentinel_cluster.url, input="n\n")
    assert code == 1
    assert "Aborted" in output
    assert sentinel_cluster.master_address() == old


def test_watch_and_the_drill_print_json(sentinel_cluster: SentinelCluster, tmp_path: Path) -> None:
    old = sentinel_cluster.master_address()
    command = [sys.executable, "-m", "vedette"]
    events = tmp_path / "events.jsonl"
    with events.open("wb") as sink:
        watching = subprocess.Popen(
            [*command, "watch", sentinel_cluster.url, "--json", "--count", "3", "--timeout", "30"],
            stdout=sink,
            start_new_session=True,
        )
    try:
        # Its watcher listens once every Sentinel has a pattern subscriber: no event is missed.
        wait_until(
            lambda: all(listened_to(sentinel_cluster, index) for index in range(3)),
            30,
            "the watcher's subscriptions",
        )
        drill = subprocess.run(
            [*command, "failover", sentinel_cluster.url, "--yes", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert watching.wait(30) == 0
    finally:
        if watching.poll() is None:
            os.killpg(watching.pid, signal.SIGKILL)
            watching.wait(10)
    assert drill.returncode == 0, drill.stderr
    new = sentinel_cluster.master_address()
    report = json.loads(drill.stdout)  # the whole of stdout: the progress went to stderr
    assert (report["service"], report["old"], report["new"]) == ("vedette", str(old), str(new))
    assert 0 < report["switch_seconds"] < 60
    assert report["first_write_after_switch_ms"] >= 0
    assert report["longest_pause_ms"] > 0
    assert report["attempted"] >= report["acknowledged"] >= 100  # 50 before, 50 after
    assert (report["lost"], report["duplicated"]) == (0, 0)
    assert report["failed"] >= len(report["errors"])
    # Each step with the seconds since the request (a log line may come between).
    said = re.findall(r"^ *\d+\.\d\d s  (.*)$", drill.stderr, re.MULTILINE)
    first = sentinel_cluster.sentinel_addresses[0]
    assert said[0] == f"asking Sentinel {first} for a failover of master {old}"
    assert said.index(f"master switched from {old} to {new} (via event)") < said.index(
        f"writes resumed on {new}"
    )

    started, promoting, switched = map(json.loads, events.read_text().splitlines())
    assert started == {
        "type": "FailoverStarted",
        "service": "vedette",
        "at": started["at"],
        "master": str(old),
    }
    assert promoting["type"] == "PromotionStarted"
    assert (promoting["master"], promoting["replica"]) == (str(old), str(new))
    assert switched["type"] == "MasterSwitched"
    assert (switched["old"], switched["new"], switched["via"]) == (str(old), str(new), "event")
    for event in (started, promoting, switched):
        at = datetime.strptime(event["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=2)
        assert len(event["at"]) == len("2026-11-21T11:40:02.512Z")


def listened_to(cluster: SentinelCluster, index: int) -> bool:
    """Whether a client of Sentinel ``index`` has a pattern subscription (``watch``'s)."""
    return any(int(client["psub"]) for client in cluster.sentinel(index).client_list())


def test_dev_up_outlives_the_command_until_down(tmp_path: Path) -> None:
    state = tmp_path / "state"

    def vedette_command(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "vedette", "dev", *args, "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    url = vedette_command("up", "--replicas", "1")
    pids = json.loads((state / "cluster.json").read_text())["pids"]
    try:
        assert url.startswith("redis+sentinel://127.0.0.1:")
        with vedette.connect(url) as client:  # the command has exited; the cluster has not
            assert client.set("k", "v")
        assert vedette_command("up") == url  # already up: the same cluster
    finally:
        assert vedette_command("down") == f"stopped {url}"
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"zombie" in Path(f"/proc/{pid}/status").read_bytes().lower()
        )
    assert not (state / "cluster.json").exists()
