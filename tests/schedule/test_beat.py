"""`vedette beat` end to end: one scheduler process sends one entry per framework to real Celery,
Dramatiq and RQ workers, each run under its run id."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rq.job import Job

from vedette.schedule import Entry, Interval, ScheduleStore, Target, run_id
from vedette.schedule.timing import to_millis
from vedette.testing import SentinelCluster, wait_until
from vedette_harness.celery_producer import celery_url
from vedette_harness.execution_log import read_execution_log
from vedette_harness.rq_commands import rq_worker
from vedette_harness.workers import WorkerProcess, running

# The number each framework's entry passes to its `record` job, task or actor.
NUMBERS = {"celery": 1, "dramatiq": 2, "rq": 3}
TARGETS = {
    "celery": Target(framework="celery", name="record", args=[1]),
    "dramatiq": Target(framework="dramatiq", name="record", queue="default", args=[2]),
    "rq": Target(framework="rq", name="vedette_harness.rq_jobs.record", args=[3]),
}


def worker(command: list[str], tmp_path: Path, name: str, **environment: str) -> WorkerProcess:
    return WorkerProcess(
        command,
        log=tmp_path / "executions.log",
        output=tmp_path / f"{name}.out",
        environment=environment,
    )


def test_one_beat_sends_each_framework_s_entry_to_its_workers(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    store = ScheduleStore(cluster.client(), prefix="beat")
    for framework, target in TARGETS.items():
        store.add(
            Entry(name=f"every-second-{framework}", target=target, schedule=Interval(every=1))
        )
    celery = worker(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vedette_harness.celery_app",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "info",
        ],
        tmp_path,
        "celery",
        VEDETTE_BROKER_URL=celery_url(cluster),
    )
    dramatiq = worker(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "vedette_harness.dramatiq_app",
            "--processes",
            "1",
            "--threads",
            "2",
        ],
        tmp_path,
        "dramatiq",
        VEDETTE_URL=cluster.url,
    )
    rq = worker(rq_worker(cluster.url), tmp_path, "rq")
    beat = worker(
        [sys.executable, "-m", "vedette", "beat", cluster.url, "--prefix", "beat", "--lease", "3"],
        tmp_path,
        "beat",
    )
    log = tmp_path / "executions.log"
    with running(celery), running(dramatiq), running(rq), running(beat):
        celery.wait_ready("ready.")
        dramatiq.wait_ready("is ready for action")
        rq.wait_ready("Listening on")
        wait_until(
            lambda: all(
                Counter(n for n, _ in read_execution_log(log))[number] >= 3
                for number in NUMBERS.values()
            ),
            60,
            "three runs of each framework's entry",
        )
    assert "dispatching celery, dramatiq, rq" in beat.text()
    for framework in TARGETS:
        stored = store.get(f"every-second-{framework}")
        assert stored is not None
        assert stored.runs >= 3
        assert stored.last_error is None
    # RQ's job of the last run carries the run's id.
    rq_entry = store.get("every-second-rq")
    assert rq_entry is not None
    assert rq_entry.last_run is not None
    last = run_id("beat", "every-second-rq", to_millis(rq_entry.last_run))
    assert Job.exists(last, connection=cluster.client())
