"""The ``vedette`` command against real clusters."""

import json
import subprocess
import sys
import threading
from pathlib import Path

from click.testing import CliRunner

import vedette
from vedette.cli import main
from vedette.testing import ClusterFactory, SentinelCluster, unresponsive_address


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
