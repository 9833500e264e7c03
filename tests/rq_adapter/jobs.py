"""The job the RQ tests enqueue, run by real ``rq worker`` processes."""

from tests.survives_failover import record_execution


def record(number: int) -> int:
    """Note the run in the execution log; the result is the number."""
    record_execution(number)
    return number
