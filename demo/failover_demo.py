"""The Vedette demo: a real Sentinel cluster, a continuous write load, kill -9 of the master.

Run it with ``./nox -s demo``. It starts a master, a replica and three Sentinels on loopback,
writes through a client that finds the master with ``vedette.discover`` (and looks again after
any failed write), kills the master with SIGKILL, and reports what happened: who was master,
when the Sentinels switched, when the first write succeeded after that, and how many
acknowledged writes the new master does not have.

The writer here is deliberately the simplest correct one. Later releases replace it with
``vedette.connect()`` (a client that follows the master and can confirm writes with ``WAIT``)
and add Celery, Dramatiq and RQ workers to the demo.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import vedette
from vedette.testing import SentinelCluster

ACKED = "demo:acknowledged"


@dataclass
class WriteLog:
    """What the writer saw, with monotonic timestamps."""

    acknowledged: list[int] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    failed_attempts: int = 0
    masters: list[tuple[float, vedette.Address]] = field(default_factory=list)


def write_continuously(
    config: vedette.SentinelConfig, stop: threading.Event, log: WriteLog
) -> None:
    """Write one numbered entry every millisecond; on any failure, look for the master again."""
    client: redis.Redis | None = None
    number = 0
    while not stop.is_set():
        try:
            if client is None:
                master = vedette.discover(config).master
                log.masters.append((time.monotonic(), master))
                client = redis.Redis(
                    host=master.host,
                    port=master.port,
                    socket_timeout=0.5,
                    socket_connect_timeout=0.5,
                    retry=Retry(NoBackoff(), 0),  # redis-py 8 would retry 10 times on its own
                )
            client.sadd(ACKED, number)
        except (redis.RedisError, vedette.VedetteError):
            log.failed_attempts += 1
            if client is not None:
                client.close()
            client = None
            stop.wait(0.01)
            continue
        log.acknowledged.append(number)
        log.successes.append(time.monotonic())
        number += 1
        stop.wait(0.001)
    if client is not None:
        client.close()


def watch_switch(cluster: SentinelCluster, seen: list[float], ready: threading.Event) -> None:
    """Record when a Sentinel publishes +switch-master."""
    pubsub = cluster.sentinel(0).pubsub()
    pubsub.subscribe("+switch-master")
    ready.set()
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            seen.append(time.monotonic())
    pubsub.close()


def run(load_seconds: float) -> None:
    print("Starting a local Sentinel cluster: 1 master, 1 replica, 3 Sentinels (quorum 2) ...")
    with SentinelCluster(service_name="demo") as cluster:
        config = cluster.config
        print(f"  URL         {cluster.url}")
        print(f"  redis-server {cluster.binary}")

        stop, log = threading.Event(), WriteLog()
        switches: list[float] = []
        subscribed = threading.Event()
        threading.Thread(
            target=watch_switch, args=(cluster, switches, subscribed), daemon=True
        ).start()
        subscribed.wait(5)
        writer = threading.Thread(target=write_continuously, args=(config, stop, log))
        writer.start()
        time.sleep(load_seconds)  # the demo's scenario: a steady load before the fault

        old = cluster.master_address()
        killed_at = time.monotonic()
        cluster.kill_master()
        print(f"\nkill -9 of the master {old} under load ...")
        new = cluster.wait_for_switch(timeout=60)
        deadline = time.monotonic() + 30
        while not any(at > killed_at for at in log.successes) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(load_seconds)
        stop.set()
        writer.join(timeout=10)

        on_new_master = {int(n) for n in cluster.client(new).smembers(ACKED)}
        lost = [n for n in log.acknowledged if n not in on_new_master]
        report(old, new, killed_at, switches, log, lost, config)


def report(
    old: vedette.Address,
    new: vedette.Address,
    killed_at: float,
    switches: list[float],
    log: WriteLog,
    lost: list[int],
    config: vedette.SentinelConfig,
) -> None:
    def since_kill(at: float) -> str:
        return f"{at - killed_at:7.3f} s after the kill"

    def before_kill(at: float) -> str:
        return f"{(killed_at - at) * 1000:7.1f} ms before the kill"

    last_before = max((at for at in log.successes if at < killed_at), default=killed_at)
    first_after = min((at for at in log.successes if at > killed_at), default=None)
    switched = switches[0] if switches else None
    print("\nReport")
    print(f"  master before     {old}")
    print(f"  master after      {new}")
    print(f"  last write        {before_kill(last_before)} (on the old master)")
    if switched is not None:
        print(f"  +switch-master    {since_kill(switched)}")
    if first_after is not None:
        print(f"  first write after {since_kill(first_after)}", end="")
        if switched is not None:
            print(f"  ({(first_after - switched) * 1000:.0f} ms after +switch-master)")
        else:
            print()
    print(
        f"  writes            {len(log.acknowledged)} acknowledged, "
        f"{log.failed_attempts} failed attempts during the outage"
    )
    print(f"  lost              {len(lost)} acknowledged writes are not on the new master")
    if lost:
        print("                    (acknowledged by the old master before it replicated them:")
        print("                    Redis replication is asynchronous; WAIT closes that gap)")
    print(f"\nThe writer found each master with vedette.discover() ({len(log.masters)} lookups).")
    print(f"Configuration used: {config!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-seconds", type=float, default=1.0, help="load before and after")
    run(parser.parse_args().load_seconds)


if __name__ == "__main__":
    main()
