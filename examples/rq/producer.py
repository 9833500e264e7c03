"""Enqueue jobs for a few seconds, wait until they ran, report: ``python producer.py [N] [RATE]``.

It prints one line, ``sent 120, done 120, lost 0, duplicated 0``, and exits with status 1
unless every job ran exactly once.
"""

import os
import sys
import time
from collections import Counter

from jobs import RUNS, record
from redis import Redis
from rq import Queue

import vedette_rq

DEADLINE = 60.0  # seconds to wait for the last jobs to run once every one is enqueued


def runs(connection: Redis) -> Counter[bytes | str]:
    """How many times each job ran, by number."""
    return Counter(connection.hvals(RUNS))


def main(jobs: int = 120, rate: int = 20) -> int:
    """Enqueue ``jobs`` jobs at ``rate`` a second, wait until they ran, print the report."""
    connection = vedette_rq.connect(os.environ["VEDETTE_URL"])
    queue = Queue("default", connection=connection)
    connection.delete(RUNS)
    started = time.monotonic()
    for number in range(jobs):
        queue.enqueue(record, number)  # waits through a failover instead of raising
        time.sleep(max(started + (number + 1) / rate - time.monotonic(), 0))
    deadline = time.monotonic() + DEADLINE
    while len(ran := runs(connection)) < jobs and time.monotonic() < deadline:
        time.sleep(0.1)
    done, duplicated = len(ran), sum(ran.values()) - len(ran)
    print(f"sent {jobs}, done {done}, lost {jobs - done}, duplicated {duplicated}")
    return 0 if done == jobs and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main(*(int(argument) for argument in sys.argv[1:3])))
