"""The jobs the RQ tests, benchmark and demo enqueue, run by real ``rq worker`` processes.

Enqueued by name (`vedette_harness.rq_commands.JOB` is ``vedette_harness.rq_jobs.record``).
"""

from __future__ import annotations

import os
import threading
import time

from rq import get_current_job

from vedette_harness.execution_log import record_execution


def record(number: int) -> int:
    """Note the run in the execution log; the result is the number."""
    record_execution(number)
    return number


def record_slowly(number: int, seconds: float) -> int:
    """Take ``seconds`` (a job that is running when the fault lands), then note the run.

    It marks itself running in its meta first: RQ marks a job started before its work horse
    takes it, and worker commands reach only a job that a work horse runs.
    """
    job = get_current_job()
    if job is not None:
        job.meta["running"] = True
        job.save_meta()
    time.sleep(seconds)
    record_execution(number)
    return number


def tick() -> None:
    """A cron job: note the run (always as number 0; the tests count them by time)."""
    record_execution(0)


def vedette_threads() -> tuple[int, list[str]]:
    """The work horse's process id and the names of its Vedette threads."""
    names = sorted(t.name for t in threading.enumerate() if t.name.startswith("vedette-"))
    return os.getpid(), names
