"""Jobs scheduled across a kill -9 of the master, and how late each ran (tests and benchmark)."""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path

from rq import Queue

from vedette.testing import SentinelCluster, SwitchClock, WaitTimeout, wait_until
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import JOB

__all__ = ["lateness_across_a_kill"]


def lateness_across_a_kill(
    cluster: SentinelCluster, queue: Queue, log: Path, jobs: int = 24
) -> dict[int, list[float]]:
    """Schedule ``jobs`` jobs, two due at each whole second from 2 s on; kill the master 3.3 s in.

    Returns, per job, how late each of its runs was (none: it did not run within 30 s of the
    last one's time): seconds after its time, or, for a job due while there was no master,
    after the ``+switch-master`` (it cannot run sooner). RQ keeps scheduled times in whole
    seconds, hence the whole seconds here.
    """
    start = int(time.time()) + 2
    due = {number: float(start + number // 2) for number in range(jobs)}
    for number, at in due.items():
        queue.enqueue_at(datetime.fromtimestamp(at, timezone.utc), JOB, number)
    offset = time.time() - time.monotonic()  # the execution log keeps monotonic times
    with SwitchClock(cluster) as clock:
        wait_until(lambda: time.time() >= start + 3.3, 10, "the first jobs")
        fault = time.time()
        cluster.kill_master()
        new = cluster.wait_for_switch(30)
        wait_until(lambda: str(new) in clock.switched_at, 10, "the switch to be clocked")
    switched = clock.switched_at[str(new)] + offset

    def all_ran() -> bool:
        return set(due) <= {number for number, _ in read_execution_log(log)}

    with suppress(WaitTimeout):  # what did not run is reported so
        wait_until(all_ran, max(due.values()) - time.time() + 30, "every scheduled job")
    late: dict[int, list[float]] = {number: [] for number in due}
    for number, at in read_execution_log(log):
        reference = switched if fault <= due[number] < switched else due[number]
        late[number].append(at + offset - reference)
    return late
