"""Send messages for a few seconds, wait until they ran, report: ``python producer.py [N] [RATE]``.

It prints one line, ``sent 300, done 300, lost 0, duplicated 0``, and exits with status 1
unless every message ran exactly once.
"""

import sys
import time
from collections import Counter

from tasks import RUNS, broker, record

DEADLINE = 60.0  # seconds to wait for the last messages to run once every one is sent


def runs() -> Counter[bytes]:
    """How many times each message ran, by number."""
    return Counter(broker.client.hvals(RUNS))


def main(messages: int = 300, rate: int = 50) -> int:
    """Send ``messages`` messages at ``rate`` a second, wait until they ran, print the report."""
    broker.client.delete(RUNS)
    started = time.monotonic()
    for number in range(messages):
        record.send(number)  # waits through a failover instead of raising
        time.sleep(max(started + (number + 1) / rate - time.monotonic(), 0))
    deadline = time.monotonic() + DEADLINE
    while len(ran := runs()) < messages and time.monotonic() < deadline:
        time.sleep(0.1)
    done, duplicated = len(ran), sum(ran.values()) - len(ran)
    print(f"sent {messages}, done {done}, lost {messages - done}, duplicated {duplicated}")
    return 0 if done == messages and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main(*(int(argument) for argument in sys.argv[1:3])))
