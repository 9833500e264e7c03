"""Scheduler takeover: Vedette's store against celery-redbeat, through kill -9 of the leader.

Vedette: a 1 s entry led by two scheduler processes (`vedette_harness.scheduler_process`: the
store's `ScheduleRunner`, each run noted in a file), for over 200 slots. The leader is killed
(kill -9) a third of the way, the Redis master two thirds of the way; every slot must be sent
once, none skipped. RedBeat: the same entry in ``beat_schedule``, two ``celery beat -S
redbeat.RedBeatScheduler`` processes on the master, the leader killed (kill -9); its sends are
counted in the broker's queue (no worker consumes them).

Both hold a 10 s lease (Vedette's default ``lease``, RedBeat's ``redbeat_lock_timeout`` set to
it: its default is 5 x ``beat_max_loop_interval``, 25 min). Takeover is the time from the kill to
the first run sent by the standby.

Run: ``./nox -s benchmark -- schedule_takeover [--slots 220] [--lease 10]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

import vedette
from vedette.schedule import Entry, Interval, ScheduleStore, Target
from vedette.testing import SentinelCluster, wait_until
from vedette_harness.dispatch_log import read_log

REDBEAT_APP = """
import os
from celery import Celery
app = Celery("takeover", broker=os.environ["BROKER"])
app.conf.update(
    redbeat_redis_url=os.environ["BROKER"],
    redbeat_lock_timeout=float(os.environ["LEASE"]),
    beat_max_loop_interval=1,
    beat_schedule={"tick": {"task": "tick", "schedule": 1.0}},
)
"""


def vedette_run(slots: int, lease: float) -> dict[str, float]:
    """Two schedulers, kill -9 of the leader, then of the Redis master; what was sent."""
    with SentinelCluster() as cluster, tempfile.TemporaryDirectory() as name:
        log = Path(name) / "runs.jsonl"
        client = vedette.connect(cluster.url)
        store = ScheduleStore(client, prefix="takeover")
        target = Target(framework="test", name="tick")
        store.add(Entry(name="tick", target=target, schedule=Interval(every=1)))
        processes = {
            owner: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vedette_harness.scheduler_process",
                    cluster.url,
                    "takeover",
                    str(log),
                    owner,
                    "--lease",
                    str(lease),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for owner in ("first", "second")
        }
        try:

            def sent() -> int:
                return len(read_log(log))

            wait_until(lambda: sent() >= slots // 3, slots, "a third of the runs")
            token = client.get(store.leader_key)
            assert isinstance(token, bytes)
            leader = token.decode().split(":", 1)[1]  # <counter>:<owner>
            os.kill(processes[leader].pid, signal.SIGKILL)
            killed = time.time()
            wait_until(
                lambda: any(r["owner"] != leader for r in read_log(log)), lease * 3, "takeover"
            )
            first = next(r for r in read_log(log) if r["owner"] != leader)
            takeover = float(str(first["at"])) - killed
            wait_until(lambda: sent() >= 2 * slots // 3, slots, "two thirds of the runs")
            cluster.kill_master()
            cluster.wait_for_switch(30)
            wait_until(lambda: sent() >= slots, slots, "every run")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
                    process.wait(15)
            client.close()
        runs = [int(str(r["slot"])) for r in read_log(log)]
    ordered = sorted(set(runs))
    expected = (ordered[-1] - ordered[0]) // 1000 + 1
    return {
        "takeover": takeover,
        "slots": expected,
        "sent": len(runs),
        "twice": len(runs) - len(set(runs)),
        "skipped": expected - len(set(runs)),
    }


def redbeat_run(lease: float) -> dict[str, float]:
    """Two ``celery beat`` with RedBeat, kill -9 of the leader; when the standby sends."""
    with SentinelCluster(replicas=0, sentinels=1) as cluster, tempfile.TemporaryDirectory() as name:
        master = cluster.master_address()
        broker = f"redis://{master.host}:{master.port}/5"
        Path(name, "takeover_app.py").write_text(REDBEAT_APP)
        environment = {**os.environ, "BROKER": broker, "LEASE": str(lease), "PYTHONPATH": name}
        client = redis.Redis.from_url(broker)
        command = [sys.executable, "-m", "celery", "-A", "takeover_app", "beat"]
        options = ["-S", "redbeat.RedBeatScheduler", "--loglevel", "warning"]
        processes = [
            subprocess.Popen(
                [*command, *options, "--schedule", str(Path(name, f"beat{n}"))],
                cwd=name,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n in range(2)
        ]
        try:
            wait_until(lambda: client.llen("celery") >= 5, 60, "RedBeat's first runs")
            leading = _redbeat_leader(client, processes)  # its lock does not say which it is
            leading.send_signal(signal.SIGKILL)
            killed = time.time()
            count = client.llen("celery")
            wait_until(lambda: client.llen("celery") > count, lease * 5, "RedBeat's takeover")
            takeover = time.time() - killed
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
                    process.wait(15)
            client.close()
    return {"takeover": takeover}


def _redbeat_leader(
    client: redis.Redis, processes: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """The process whose SIGSTOP stops the sends: the one that holds RedBeat's lock."""
    for process in processes:
        process.send_signal(signal.SIGSTOP)
        count = client.llen("celery")
        time.sleep(2.5)  # a 1 s entry: over two runs if this one is not the leader
        stalled = client.llen("celery") == count
        process.send_signal(signal.SIGCONT)
        if stalled:
            return process
    raise RuntimeError("no RedBeat process stopped the sends")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slots", type=int, default=220)
    parser.add_argument("--lease", type=float, default=10.0)
    options = parser.parse_args()
    redbeat = redbeat_run(options.lease)
    ours = vedette_run(options.slots, options.lease)
    print(f"| kill -9 of the leading scheduler, {options.lease:g} s lease | RedBeat | Vedette |")
    print("|---|---:|---:|")
    print(f"| takeover (s) | {redbeat['takeover']:.1f} | {ours['takeover']:.1f} |")
    print()
    print(
        f"Vedette, a 1 s entry across the takeover and a Redis master kill: {ours['slots']:.0f} "
        f"slots, {ours['sent']:.0f} sent, {ours['twice']:.0f} sent twice, "
        f"{ours['skipped']:.0f} skipped."
    )


if __name__ == "__main__":
    main()
