"""The task, counting its runs so that the producer can tell a lost task from a duplicated one."""

import uuid

from celery import shared_task

from proj.celery import app

RUNS = "examples:celery:runs"
"""A Redis hash with one field per run: a new run id, set to the number run."""


@shared_task  # type: ignore[untyped-decorator]  # Celery ships no type hints
def record(number: int) -> int:
    """Note this run of task ``number`` and return ``number``."""
    # A new field per run: a write retried through a failover sets the same one again.
    app.backend.client.hset(RUNS, uuid.uuid4().hex, number)
    return number
