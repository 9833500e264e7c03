"""The execution log: each job notes that it ran in a file the test, benchmark or demo reads.

A file, not Redis: what is counted must not depend on the system under test. The worker finds
the file in ``VEDETTE_EXECUTION_LOG`` (`WorkerProcess` sets it); the job, wherever it runs,
calls `record_execution`, and the test reads the runs back with `read_execution_log`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["EXECUTION_LOG_VARIABLE", "read_execution_log", "record_execution"]

EXECUTION_LOG_VARIABLE = "VEDETTE_EXECUTION_LOG"


def record_execution(number: int) -> None:
    """Note that job ``number`` ran (call it from the job, in the worker process)."""
    line = f"{number} {time.monotonic():.6f} {os.getpid()}\n"
    # One write() of a short line to a file opened for appending: atomic between processes.
    with Path(os.environ[EXECUTION_LOG_VARIABLE]).open("a") as log:
        log.write(line)


def read_execution_log(path: Path) -> list[tuple[int, float]]:
    """(job number, monotonic time it ran) for every execution recorded in ``path``."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        number, at, _pid = line.split()
        runs.append((int(number), float(at)))
    return runs
