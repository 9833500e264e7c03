"""The job the worker runs; it counts its runs so that a lost job shows apart from a duplicate."""

import uuid

from rq import get_current_job

RUNS = "examples:rq:runs"
"""A Redis hash with one field per run: a new run id, set to the number run."""


def record(number: int) -> int:
    """Note this run of job ``number`` and return ``number``."""
    job = get_current_job()
    assert job is not None  # only ever run by a worker
    # A new field per run: a write retried through a failover sets the same one again.
    job.connection.hset(RUNS, uuid.uuid4().hex, number)
    return number
