"""RQ's command lines as the adapter's users type them, and the job the tests enqueue.

Plain strings, no RQ import: the tests' fixtures, the demo and the benchmark build them here.
"""

from __future__ import annotations

import sys

__all__ = ["JOB", "rq_command", "rq_worker"]

JOB = "vedette_harness.rq_jobs.record"


def rq_command(*arguments: str) -> list[str]:
    """RQ's command line (``rq ...``) in this interpreter."""
    return [sys.executable, "-m", "rq.cli", *arguments]


def rq_worker(
    url: str,
    *options: str,
    worker_class: str = "vedette_rq.Worker",
    queues: tuple[str, ...] = ("default",),
) -> list[str]:
    """The command line the adapter's users run, with ``options`` and ``queues``."""
    return rq_command(
        "worker",
        "-w",
        worker_class,
        "--connection-class",
        "vedette_rq.Redis",
        "-u",
        url,
        *options,
        *queues,
    )
