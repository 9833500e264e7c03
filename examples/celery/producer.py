"""Send tasks for a few seconds, wait for their results, report: ``python producer.py [N] [RATE]``.

It stands for a web process: it imports the app, never ``vedette_celery`` (the settings name the
transport). It prints one line, ``sent 300, done 300, lost 0, duplicated 0``, and exits with
status 1 unless every task ran exactly once.
"""

import sys
import time
from collections import Counter

from celery.exceptions import TimeoutError as ResultTimeout
from proj.celery import app
from proj.tasks import RUNS, record

DEADLINE = 60.0  # seconds to wait for the last results once every task is sent


def main(tasks: int = 300, rate: int = 50) -> int:
    """Send ``tasks`` tasks at ``rate`` a second, wait for their results, print the report."""
    client = app.backend.client  # the result backend's Redis client, which the tasks write to
    client.delete(RUNS)
    results = []
    started = time.monotonic()
    for number in range(tasks):
        results.append(record.delay(number))  # waits through a failover instead of raising
        time.sleep(max(started + (number + 1) / rate - time.monotonic(), 0))
    deadline = time.monotonic() + DEADLINE
    done = 0
    for result in results:
        try:
            result.get(timeout=max(deadline - time.monotonic(), 0.1), propagate=False)
        except ResultTimeout:
            continue
        if result.successful():
            done += 1
    runs = Counter(client.hvals(RUNS))  # how many times each number ran
    duplicated = sum(runs.values()) - len(runs)
    print(f"sent {tasks}, done {done}, lost {tasks - done}, duplicated {duplicated}")
    return 0 if done == tasks and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main(*(int(argument) for argument in sys.argv[1:3])))
