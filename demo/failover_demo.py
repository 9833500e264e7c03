"""The Vedette demo: a real Sentinel cluster under write load, through two kinds of failover.

Run it with ``./nox -s demo``. It starts a master, two replicas and three Sentinels on loopback
and writes 0, 1, 2 ... to a list through ``vedette.connect()`` (with ``wait_replicas=1``: each
write is confirmed by a replica). Then it kills the master with SIGKILL, and later asks the
Sentinels for a planned failover. For each it reports when the Sentinels switched, when the
first write succeeded after that, how long writes paused, and how many acknowledged writes the
new master does not have.

Then a real Celery worker (``redis-sentinel://`` broker), a real Dramatiq worker
(``SentinelBroker``) and a real RQ worker (``vedette_rq.Worker``) each go through a kill -9 of the
master while jobs stream in (demo/worker_streams.py). Last, one schedule store feeds the three
of them, led by two `vedette beat` processes, through a kill -9 of the leader and then of the
master (demo/schedule_demo.py).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from functools import partial

import schedule_demo
import worker_streams

import vedette
from vedette.testing import SentinelCluster, SwitchClock, WriteLoop

KEY = "demo:log"


def run(acks_after: int) -> None:
    faults: list[tuple[str, Callable[[SentinelCluster], vedette.Address]]] = [
        ("kill -9 of the master", SentinelCluster.kill_master),
        ("planned failover (SENTINEL FAILOVER)", SentinelCluster.failover),
    ]
    for title, fault in faults:
        print(f"\n{title}: a fresh local cluster (1 master, 2 replicas, 3 Sentinels) ...")
        with SentinelCluster(service_name="demo", replicas=2) as cluster:
            print(f"  URL              {cluster.url}")
            print(f"  redis-server     {cluster.binary}")
            client = vedette.connect(cluster.url + "?wait_replicas=1")
            with SwitchClock(cluster) as clock, WriteLoop(partial(client.rpush, KEY)) as loop:
                loop.wait_for_acks(acks_after, after=0)
                old = fault(cluster)
                fault_at = loop.acked[-1][1]
                switched = clock.wait(60)
                loop.wait_for_acks(acks_after, after=switched)
            client.close()
            new = cluster.master_address()
            report = loop.report(int(n) for n in cluster.client(new).lrange(KEY, 0, -1))
        first = loop.first_ack_after(switched)
        assert first is not None
        print(f"  master           {old} -> {new}")
        print(f"  +switch-master   {switched - fault_at:6.3f} s after the fault")
        print(
            f"  first write      {first - fault_at:6.3f} s after the fault, "
            f"{(first - switched) * 1000:.1f} ms after +switch-master"
        )
        print(f"  longest pause    {report.longest_pause:6.3f} s")
        print(
            f"  writes           {report.acknowledged} acknowledged, "
            f"{len(report.lost)} of them lost, {len(report.duplicated)} duplicated, "
            f"{len(report.errors)} errors seen by the writer"
        )
    print(
        "\nvedette.connect() held the writes during each failover and sent them to the new"
        "\nmaster as soon as the Sentinels announced it; WAIT confirmed each on a replica."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--acks", type=int, default=1000, help="acknowledged writes before and after each fault"
    )
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in each framework's stream")
    parser.add_argument("--rq-jobs", type=int, default=300, help="jobs in RQ's stream (at 20/s)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="  (log) %(name)s: %(message)s")
    run(arguments.acks)
    worker_streams.celery(arguments.jobs)
    worker_streams.dramatiq(arguments.jobs)
    worker_streams.rq(arguments.rq_jobs)
    schedule_demo.run()


if __name__ == "__main__":
    main()
