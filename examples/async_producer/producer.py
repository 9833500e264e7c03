"""Enqueue RQ jobs from asyncio code through a failover, report: ``python producer.py [N] [RATE]``.

Each job is enqueued as an async web app's request handler would: RQ's ``enqueue``, which is
synchronous and waits a failover out in its thread, in a thread of an executor of its own, then
the job's id noted with the async client, `vedette.asyncio.connect`, which waits a failover out
without holding the event loop. A coroutine measures how late the loop ever was. It prints one
line, ``sent 120, done 120, lost 0, duplicated 0; longest event loop stall 4 ms``, and exits
with status 1 unless every job ran exactly once.
"""

import asyncio
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio
from jobs import RUNS, record
from rq import Queue

import vedette.asyncio
import vedette_rq

ENQUEUED = "examples:async:enqueued"  # a Redis hash: number -> RQ job id
DEADLINE = 60.0  # seconds to wait for the last jobs to run once every one is enqueued
TICK = 0.01  # seconds between two looks at the event loop's lateness


async def runs(client: redis.asyncio.Redis) -> Counter[bytes | str]:
    """How many times each job ran, by number."""
    return Counter(await client.hvals(RUNS))


async def longest_stall(stop: asyncio.Event) -> float:
    """The most this coroutine woke up late, in seconds, until ``stop`` is set."""
    longest = 0.0
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(TICK)
        longest = max(longest, time.monotonic() - before - TICK)
    return longest


async def main(jobs: int = 120, rate: int = 20) -> int:
    """Enqueue ``jobs`` jobs at ``rate`` a second, wait until they ran, print the report."""
    url = os.environ["VEDETTE_URL"]
    queue = Queue("default", connection=vedette_rq.connect(url))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    ticker = asyncio.create_task(longest_stall(stop))
    async with vedette.asyncio.connect(url, decode_responses=True) as client:
        await client.delete(RUNS, ENQUEUED)
        with ThreadPoolExecutor(4, thread_name_prefix="enqueue") as enqueuers:

            async def handle(number: int) -> None:
                """What a request handler does: enqueue job ``number``, note its id."""
                job = await loop.run_in_executor(enqueuers, queue.enqueue, record, number)
                await client.hset(ENQUEUED, str(number), job.id)

            requests = []
            started = loop.time()
            for number in range(jobs):
                requests.append(asyncio.create_task(handle(number)))
                await asyncio.sleep(max(started + (number + 1) / rate - loop.time(), 0))
            await asyncio.gather(*requests)
        sent = await client.hlen(ENQUEUED)
        deadline = loop.time() + DEADLINE
        while len(ran := await runs(client)) < sent and loop.time() < deadline:
            await asyncio.sleep(0.1)
    stop.set()
    stall = await ticker
    done, duplicated = len(ran), sum(ran.values()) - len(ran)
    print(
        f"sent {sent}, done {done}, lost {sent - done}, duplicated {duplicated}; "
        f"longest event loop stall {stall * 1000:.0f} ms"
    )
    return 0 if sent == done == jobs and not duplicated else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*(int(argument) for argument in sys.argv[1:3]))))
