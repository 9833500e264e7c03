"""`vedette beat --metrics-port`: what two schedulers serve, through the leader's kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from vedette.schedule import Entry, Interval, ScheduleStore, Target
from vedette.testing import SentinelCluster, wait_until

PREFIX = "beat"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Beat:
    """A ``vedette beat`` process serving its metrics on a port of its own."""

    def __init__(self, cluster: SentinelCluster, output: Path) -> None:
        self.port = free_port()
        self.output = output
        command = [
            *(sys.executable, "-m", "vedette", "beat", cluster.url),
            *("--prefix", PREFIX, "--lease", "2", "--framework", "rq"),
            *("--metrics-port", str(self.port), "--metrics-address", "127.0.0.1"),
        ]
        with output.open("w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def serving(self) -> bool:
        return self.scrape() is not None

    def scrape(self) -> dict[str, float] | None:
        """The beat's schedule metrics, summed over labels (but ``outcome``); None if down.

        `value` reads a metric without a sample as 0.
        """
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith("vedette_schedule_"):
                    key = sample.name + "".join(
                        f"{{{k}={v}}}" for k, v in sorted(sample.labels.items()) if k == "outcome"
                    )
                    found[key] = found.get(key, 0.0) + sample.value
        return found

    def value(self, name: str) -> float:
        return (self.scrape() or {}).get(name, 0.0)

    def leading(self) -> bool:
        return self.value("vedette_schedule_leading") == 1

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)


@contextmanager
def beats(cluster: SentinelCluster, directory: Path) -> Iterator[tuple[Beat, Beat]]:
    started = (Beat(cluster, directory / "beat0.out"), Beat(cluster, directory / "beat1.out"))
    try:
        yield started
    finally:
        for beat in started:
            beat.stop()


def test_a_leader_kill_shows_one_leader_change(
    sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    store = ScheduleStore(sentinel_cluster.client(), prefix=PREFIX)
    target = Target(framework="rq", name="vedette_harness.rq_jobs.record", args=[1])
    store.add(Entry(name="often", target=target, schedule=Interval(every=0.2)))
    with beats(sentinel_cluster, tmp_path) as pair:
        wait_until(
            lambda: (
                sum(beat.leading() for beat in pair) == 1 and all(beat.serving() for beat in pair)
            ),
            60,
            "one leader, both serving metrics",
        )
        leader, standby = pair if pair[0].leading() else pair[::-1]
        wait_until(
            lambda: leader.value("vedette_schedule_dispatched_total") >= 3,
            30,
            "three runs dispatched",
        )
        assert leader.value("vedette_schedule_leader_changes_total") == 1
        assert standby.value("vedette_schedule_leader_changes_total") == 0
        os.kill(leader.process.pid, signal.SIGKILL)
        leader.process.wait(10)
        wait_until(standby.leading, 30, "the standby to lead")
        wait_until(
            lambda: standby.value("vedette_schedule_dispatched_total") >= 3,
            30,
            "three runs dispatched by the new leader",
        )
        after = standby.scrape()
    assert after is not None
    # One leader change through the kill: the standby's first, and only, turn.
    assert after["vedette_schedule_leader_changes_total"] == 1
    assert after["vedette_schedule_leases_lost_total"] == 0
    assert after["vedette_schedule_ticks_total{outcome=ok}"] > 0
    assert after["vedette_schedule_lateness_seconds_count"] >= 3
    # One line each: the standby says once that it leads.
    assert (tmp_path / "beat1.out").read_text().count("leading as") + (
        tmp_path / "beat0.out"
    ).read_text().count("leading as") == 2
