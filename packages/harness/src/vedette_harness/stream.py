"""The shared "survives failover" stream: a steady stream of work, a fault mid-stream, counts.

Every adapter's failover tests (and the benchmarks, and the demo) run the same experiment on a
real cluster with real worker processes, and differ only in how work is sent and where it may be
stranded:

1. start the framework's worker processes (`vedette_harness.workers.WorkerProcess`);
2. send ``count`` numbered jobs at ``rate`` per second (`run_stream`), injecting the fault
   (`FAULTS`) half-way; the producer records which sends returned and which raised; afterwards
   a batch of canaries must run (`run_canaries`);
3. each job, when it runs, appends its number and the time to an execution log
   (`vedette_harness.execution_log.record_execution`, called by the framework's job function in
   the worker);
4. wait until every acknowledged job has run, then count (`StreamReport`): producer errors,
   lost (acknowledged, never run), duplicated (run more than once), stranded (left in a queue or
   an unacknowledged set, as the adapter counts them: ``left_over``), how long after Sentinel's
   ``+switch-master`` the first job ran (consumption resuming), and, in a planned failover,
   every write the old master ran after the replica was promoted (`ServerWrites`: writes there
   are discarded when the old master becomes a replica).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import redis

from vedette import Address
from vedette.testing import ClusterFactory, SentinelCluster, SwitchClock, wait_until
from vedette_harness.execution_log import read_execution_log

__all__ = [
    "FAULTS",
    "FAULT_TABLE_HEADER",
    "Fault",
    "ServerWrites",
    "StreamReport",
    "assert_survived",
    "fault_table_row",
    "least_privileged_cluster",
    "promoted_at",
    "run_canaries",
    "run_stream",
]

Fault = Literal["kill", "failover", "freeze"]
FAULTS: tuple[Fault, ...] = ("kill", "failover", "freeze")


def least_privileged_cluster(factory: ClusterFactory, *, grant: str = "") -> SentinelCluster:
    """A cluster whose application user may run no ``@dangerous`` or ``@admin`` command.

    No ``ROLE``, ``INFO``, ``KEYS``, ``CLIENT KILL`` ... on any node, as many production users
    (tests/chaos/test_least_privilege.py); ``grant`` adds ACL rules (``"+client|list"``).
    """
    rules = f"+@all -@dangerous -@admin {grant}".strip()
    return factory(username="app", password="app-pw", user_rules=rules)


@dataclass
class StreamReport:
    """What a stream with a fault in the middle came to."""

    fault: Fault
    sent: list[int] = field(default_factory=list)
    """Jobs whose send returned (acknowledged by the broker)."""
    producer_errors: list[str] = field(default_factory=list)
    """Sends that raised, as ``number: Type: message``."""
    runs: list[tuple[int, float]] = field(default_factory=list)
    """(job number, monotonic time) of every run in the execution log."""
    switched_at: float | None = None
    """Monotonic time of the first ``+switch-master`` after the fault."""
    stranded: int = 0
    """Jobs left in queues or unacknowledged sets after the drain (the adapter's test counts)."""
    written_to_old_master: list[str] = field(default_factory=list)
    """In a planned failover: write commands the old master ran after the promotion."""

    @property
    def lost(self) -> list[int]:
        """Jobs acknowledged and never run."""
        ran = {number for number, _ in self.runs}
        return [number for number in self.sent if number not in ran]

    @property
    def duplicated(self) -> list[int]:
        """Jobs run more than once."""
        return sorted(n for n, times in Counter(n for n, _ in self.runs).items() if times > 1)

    @property
    def resumed_after_switch(self) -> float | None:
        """Seconds from ``+switch-master`` to the first job run after it."""
        if self.switched_at is None:
            return None
        after = [at for _, at in self.runs if at >= self.switched_at]
        return min(after) - self.switched_at if after else None

    def summary(self) -> str:
        """One line of counts, as the tests print it."""
        resumed = self.resumed_after_switch
        old_master = (
            f", {len(self.written_to_old_master)} writes to the old master after the promotion"
            if self.fault == "failover"
            else ""
        )
        return (
            f"{self.fault}: sent {len(self.sent)}, producer errors {len(self.producer_errors)}, "
            f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, stranded {self.stranded}, "
            f"resumed {'-' if resumed is None else f'{resumed * 1000:.0f} ms'} after the switch"
            f"{old_master}"
        )


def assert_survived(report: StreamReport, *, resume_within: float | None = None) -> None:
    """Nothing lost, repeated, stranded or written to the old master; no producer error."""
    print(report.summary())
    assert report.producer_errors == [], report.producer_errors[:10]
    assert report.lost == [], f"lost {report.lost}"
    assert report.duplicated == [], f"duplicated {report.duplicated}"
    assert report.stranded == 0
    assert report.written_to_old_master == []
    if resume_within is not None:
        assert report.resumed_after_switch is not None
        assert report.resumed_after_switch < resume_within


FAULT_TABLE_HEADER = (
    "| fault | peer | producer errors | ran again after switch | lost | duplicated | stranded "
    "| wrong results | writes to the old master after promotion |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
)
_FAULT_NAMES = {"kill": "kill -9", "failover": "planned failover", "freeze": "frozen master"}


def fault_table_row(report: StreamReport, peer: str, wrong_results: int) -> str:
    """A benchmark's row of `FAULT_TABLE_HEADER` for one peer through one fault."""
    resumed = report.resumed_after_switch
    shown = "never" if resumed is None else f"{resumed * 1000:.0f} ms"
    old = len(report.written_to_old_master) if report.fault == "failover" else "-"
    return (
        f"| {_FAULT_NAMES[report.fault]} | {peer} | {len(report.producer_errors)} | {shown} | "
        f"{len(report.lost)} | {len(report.duplicated)} | {report.stranded} | {wrong_results} "
        f"| {old} |"
    )


def run_stream(
    cluster: SentinelCluster,
    send: Callable[[int], object],
    *,
    fault: Fault,
    log: Path,
    count: int = 2000,
    rate: float = 100.0,
    thaw_after: float = 15.0,
    drain_timeout: float = 90.0,
    left_over: Callable[[], int] | None = None,
) -> StreamReport:
    """Send ``count`` jobs at ``rate`` per second with ``fault`` half-way; wait for them to run.

    ``send(n)`` sends job ``n`` (returning means acknowledged). A frozen master is thawed
    ``thaw_after`` seconds after it was frozen (after the switch, so it comes back as a stale
    master). Returns once every acknowledged job ran, or ``drain_timeout`` passed after the last
    send, and ``left_over()`` (the adapter's count of what is left in queues and unacknowledged
    sets) reached 0 or stayed above for 10 s: that is the report's ``stranded``, and its runs are
    read again (a job delivered twice has run by then). The caller asserts on the report.
    """
    report = StreamReport(fault=fault)
    with ServerWrites(cluster, cluster.master_address()) as old_master:
        with SwitchClock(cluster) as clock:
            fault_at = _send(cluster, send, report, count, rate, thaw_after, old_master)
            switched = [at for at in clock.switched_at.values() if at >= fault_at]
            report.switched_at = min(switched) if switched else None
        expected = set(report.sent)

        def drained() -> bool:
            return expected <= {number for number, _ in read_execution_log(log)}

        with suppress(TimeoutError):  # what did not run is reported as lost
            wait_until(drained, drain_timeout, "every acknowledged job to run")
        if left_over is not None:
            with suppress(TimeoutError):  # what is left is reported as stranded
                wait_until(lambda: left_over() == 0, 10, "the queues to empty")
            report.stranded = left_over()
        report.runs = read_execution_log(log)
        if fault == "failover":
            new_master = cluster.wait_for_switch(60)
            promoted = promoted_at(cluster, new_master)
            report.written_to_old_master = [
                f"{at - promoted:+.3f} s {command}"
                for at, command in old_master.writes(cluster.client(new_master))
                if at > promoted + 0.001  # the log's clock has milliseconds
            ]
    return report


def _send(
    cluster: SentinelCluster,
    send: Callable[[int], object],
    report: StreamReport,
    count: int,
    rate: float,
    thaw_after: float,
    old_master: ServerWrites,
) -> float:
    """The stream itself, with the fault half-way; the monotonic time of the fault.

    A frozen master is thawed by a timer, not between sends: a client without a socket timeout
    (kombu's ``sentinel://``) blocks in a send until the master answers.
    """
    fault_at = float("inf")
    thaw = threading.Timer(thaw_after, cluster.thaw)
    started = time.monotonic()
    try:
        for number in range(count):
            if number == count // 2:
                if report.fault == "failover":
                    old_master.start()
                _inject(cluster, report.fault)
                fault_at = time.monotonic()
                if report.fault == "freeze":
                    thaw.start()
            try:
                send(number)
            except Exception as error:
                report.producer_errors.append(f"{number}: {type(error).__name__}: {error}")
            else:
                report.sent.append(number)
            # A steady pace from the start, not from the last send: a send that blocked through
            # the failover is followed by the jobs that were due meanwhile.
            time.sleep(max(0.0, started + (number + 1) * (1.0 / rate) - time.monotonic()))
    finally:
        if thaw.is_alive():
            thaw.join()  # the stream ended before the thaw: the master comes back all the same
    return fault_at


def run_canaries(send: Callable[[int], object], log: Path, count: int = 20) -> None:
    """Send ``count`` jobs after the failover (numbered from 10,000); wait for all to run."""
    canaries = set(range(10_000, 10_000 + count))
    for number in canaries:
        send(number)
    wait_until(
        lambda: canaries <= {number for number, _ in read_execution_log(log)}, 30, "the canaries"
    )


class ServerWrites:
    """The commands one Redis server runs, seen through ``MONITOR``, with the server's clock.

    `start` subscribes; the monitor ends when the context exits or when the server drops it
    (Sentinel's ``CLIENT KILL TYPE normal`` as it turns an old master into a replica: from then
    on the server refuses writes anyway).
    """

    def __init__(self, cluster: SentinelCluster, address: Address) -> None:
        pool = cluster.client(address).connection_pool
        options = {**pool.connection_kwargs, "socket_timeout": None, "protocol": 2}
        self._client = redis.Redis(
            connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **options)
        )
        self._commands: list[tuple[float, str]] = []
        self._monitor: Any = None
        self._thread = threading.Thread(target=self._read, daemon=True, name="monitor")
        self._subscribed = threading.Event()

    def start(self) -> None:
        """Start monitoring (on a daemon thread); returns once subscribed, or after 10 s."""
        self._thread.start()
        self._subscribed.wait(10)

    def _read(self) -> None:
        try:
            with self._client.monitor() as monitor:
                self._monitor = monitor
                self._subscribed.set()
                while True:
                    entry = monitor.next_command()
                    self._commands.append((float(entry["time"]), str(entry["command"])))
        except (redis.RedisError, OSError, ValueError, AttributeError):
            pass  # dropped by the server, or closed by __exit__
        finally:
            self._subscribed.set()

    def writes(self, reference: redis.Redis) -> list[tuple[float, str]]:
        """(server time, command) of every command ``reference`` flags as a write."""
        names = {command.split(" ", 1)[0].lower() for _, command in self._commands}
        table: dict[str, Any] = reference.command() if names else {}  # name -> its flags ...
        writing = {name for name in names if "write" in _flags(table.get(name))}
        return [(at, c[:80]) for at, c in self._commands if c.split(" ", 1)[0].lower() in writing]

    def __enter__(self) -> ServerWrites:
        return self

    def __exit__(self, *_: object) -> None:
        if self._monitor is not None:
            with suppress(Exception):
                self._monitor.connection.disconnect()
        if self._thread.is_alive():
            self._thread.join(10)
        self._client.close()


def _flags(info: Any) -> set[str]:
    flags = (info or {}).get("flags", [])
    return {flag.decode() if isinstance(flag, bytes) else str(flag) for flag in flags}


_LOG_LINE = re.compile(r"^\d+:\w (?P<at>\d+ \w+ \d+ [\d:.]+) [*#.-] (?P<message>.*)$")
# What a node logs as it becomes master: Redis, and Valkey 8 (which says "primary").
_PROMOTED = ("MASTER MODE enabled", "PRIMARY MODE enabled")


def promoted_at(cluster: SentinelCluster, address: Address) -> float:
    """Unix time at which the Redis node at ``address`` was last made a master, from its log."""
    promoted = [
        datetime.strptime(match["at"], "%d %b %Y %H:%M:%S.%f").timestamp()  # local time
        for line in cluster.log_file(address).read_text(errors="replace").splitlines()
        if (match := _LOG_LINE.match(line)) and match["message"].startswith(_PROMOTED)
    ]
    if not promoted:
        raise AssertionError(f"{address}'s log does not show its promotion")
    return promoted[-1]


def _inject(cluster: SentinelCluster, fault: Fault) -> None:
    if fault == "kill":
        cluster.kill_master()
    elif fault == "failover":
        cluster.failover()
    else:
        cluster.freeze_master()
