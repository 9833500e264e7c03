"""``vedette status --check`` and ``--json``: the health and its exit codes, on real clusters.

The commands run as a monitoring job runs them, in a process of their own: stdout and stderr
apart, the exit status as the shell sees it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from click.testing import CliRunner

from vedette.address import Address
from vedette.cli import main
from vedette.testing import ClusterFactory, SentinelCluster, unresponsive_address, wait_until

COMMAND_TIMEOUT = 30.0
HEALTHY, DEGRADED, FAILING, UNKNOWN = 0, 1, 2, 3


def vedette(*args: str) -> tuple[int, str, str]:
    """``python -m vedette ARGS``: the exit status, stdout and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "vedette", *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    return done.returncode, done.stdout, done.stderr


def check(url: str) -> tuple[int, str]:
    """``status URL --check``: its exit status and its one line, with nothing on stderr."""
    code, out, err = vedette("status", url, "--check")
    assert err == ""  # no traceback, no warning
    assert len(out.splitlines()) == 1, out
    return code, out.strip()


def status_json(url: str, *options: str) -> tuple[int, dict[str, Any]]:
    """``status URL --json [OPTIONS]``: its exit status and its object, the whole of stdout."""
    code, out, err = vedette("status", url, "--json", *options)
    assert err == ""
    return code, json.loads(out)


def test_healthy_then_a_sentinel_stopped_then_too_few_to_fail_over(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(password="s3cret")
    master, replica = cluster.master_address(), cluster.redis_addresses[1]
    code, line = check(cluster.url)
    assert code == HEALTHY, line
    assert (
        line == f"HEALTHY: service 'vedette', master {master}: 3 Sentinels agree, 1 replica in sync"
    )
    code, shown = status_json(cluster.url, "--check")
    assert code == HEALTHY
    assert shown["service"] == "vedette"
    assert shown["master"] == {
        "address": str(master),
        "config_epoch": 0,
        "agreeing": 3,
        "asked": 3,
        "failover_in_progress": False,
    }
    assert [s["address"] for s in shown["sentinels"]] == list(map(str, cluster.sentinel_addresses))
    for sentinel in shown["sentinels"]:
        assert sentinel["reachable"]
        assert sentinel["error"] is None
        assert (sentinel["master"], sentinel["epoch"], sentinel["flags"]) == (
            str(master),
            0,
            ["master"],
        )
        assert sentinel["other_sentinels"] == 2
    ((listed,),) = [shown["replicas"]]
    assert listed["address"] == str(replica)
    assert (listed["flags"], listed["link"], listed["error"]) == (["slave"], "up", None)
    assert isinstance(listed["lag_bytes"], int)
    assert isinstance(listed["last_io_seconds"], int)
    assert (shown["health"], shown["problems"]) == ("healthy", [])

    # Credentials refused: the check could not run (3), in one line, naming no password.
    code, out, err = vedette("status", cluster.url.replace(":s3cret@", ":wr0ng@"), "--check")
    assert code == UNKNOWN, err
    assert out == ""
    assert err.startswith("Error: AuthenticationError: authentication failed for Redis ")
    assert len(err.splitlines()) == 1
    assert "s3cret" not in err
    assert "wr0ng" not in err

    stopped = cluster.stop_sentinel(2)
    code, line = check(cluster.url)
    assert code == DEGRADED, line
    assert line.startswith(f"DEGRADED: service 'vedette', master {master}: Sentinel {stopped} ")
    code, shown = status_json(cluster.url)  # without --check: 0, a master was found
    assert code == 0
    assert shown["health"] == "degraded"
    (down,) = [s for s in shown["sentinels"] if s["address"] == str(stopped)]
    assert not down["reachable"]
    assert down["error"].startswith("unreachable")
    assert shown["problems"] == [f"Sentinel {stopped} {down['error']}"]

    cluster.stop_sentinel(1)  # the one left names the master, which works: no failover could
    code, line = check(cluster.url)
    assert code == DEGRADED, line
    assert f"only 1 of 3 Sentinels name master {master}: too few to elect a failover" in line
    assert "s3cret" not in line


def test_a_replica_stopped_is_degraded(sentinel_cluster: SentinelCluster) -> None:
    replica = sentinel_cluster.redis_addresses[1]
    sentinel_cluster.client(replica).shutdown(nosave=True)
    code, line = check(sentinel_cluster.url)  # this command cannot reach it: at once
    assert code == DEGRADED, line
    assert f"replica {replica} unreachable" in line

    # After down-after-milliseconds (1 s) the Sentinels flag it too.
    wait_until(lambda: "s_down" in replica_flags(sentinel_cluster, replica), 10, "s_down")
    code, shown = status_json(sentinel_cluster.url, "--check")
    assert code == DEGRADED
    (listed,) = shown["replicas"]
    assert "s_down" in listed["flags"]
    assert listed["link"] is None
    assert listed["error"].startswith("unreachable")
    assert any(f"replica {replica} flagged s_down" in problem for problem in shown["problems"])


def replica_flags(cluster: SentinelCluster, replica: Address) -> list[str]:
    """The flags the first Sentinel has for ``replica``."""
    for entry in cluster.sentinel(0).execute_command("SENTINEL", "REPLICAS", "vedette"):
        fields = dict(zip(entry[::2], entry[1::2], strict=True))
        if (fields["ip"], int(fields["port"])) == replica:
            return str(fields["flags"]).split(",")
    return []


def test_the_master_down_with_no_replica_is_failing(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(replicas=0)
    code, line = check(cluster.url)
    assert code == DEGRADED, line
    assert line.endswith("has no replica: a failover could promote none")

    master = cluster.kill_master()
    code, line = check(cluster.url)
    assert code == FAILING, line
    assert line.startswith(
        f"FAILING: service 'vedette': the Sentinels name a master for 'vedette' that is not "
        f"usable: {master} unreachable"
    )
    code, shown = status_json(cluster.url, "--check")
    assert code == FAILING
    assert (shown["master"], shown["replicas"], shown["health"]) == (None, [], "failing")
    assert {s["master"] for s in shown["sentinels"]} == {str(master)}
    code, shown = status_json(cluster.url)  # without --check: no master is status 1
    assert (code, shown["health"]) == (1, "failing")


def test_no_sentinel_reachable_is_failing() -> None:
    with unresponsive_address() as address:
        url = f"redis+sentinel://{address}/svc?sentinel_connect_timeout=0.2"
        code, line = check(url)
        code_json, shown = status_json(url, "--check")
    assert code == FAILING, line
    assert line.startswith("FAILING: service 'svc': no Sentinel of 'svc' could be reached")
    assert code_json == FAILING
    assert shown["master"] is None
    ((sentinel,),) = [shown["sentinels"]]
    assert not sentinel["reachable"]
    assert sentinel["error"].startswith("timed out")


def test_a_usage_error_of_a_check_is_unknown_not_failing() -> None:
    url = "redis+sentinel://127.0.0.1/svc?socket_timeout=soon"
    checked = CliRunner().invoke(main, ["status", url, "--check"])
    assert checked.exit_code == UNKNOWN
    assert "socket_timeout" in checked.output
    assert CliRunner().invoke(main, ["status", url]).exit_code == 2  # click's, without --check
    unset = {"VEDETTE_URL": None}
    assert CliRunner().invoke(main, ["status", "--check"], env=unset).exit_code == UNKNOWN  # no URL
