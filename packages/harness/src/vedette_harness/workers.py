"""Worker processes, started as the frameworks' users start them, and the factory behind fixtures.

`WorkerProcess` is one command line (``celery worker``, ``dramatiq``, ``rq worker`` ...) run in
its own session, with the execution log set (`vedette_harness.execution_log`). `WorkerFactory`
starts any number of them sharing one execution log, waits until each is ready, and stops them
all at the end: every adapter's worker fixture is one, RQ's as it is (its tests pass RQ's
command lines), Celery's and Dramatiq's behind `CeleryWorkers` and `DramatiqWorkers`, which
build their command lines from typed options::

    @pytest.fixture
    def celery_worker_factory(tmp_path: Path) -> Iterator[CeleryWorkers]:
        with WorkerFactory(tmp_path, marker=CeleryWorkers.MARKER) as factory:
            yield CeleryWorkers(factory)

Nothing here imports a framework: the commands name their apps by module path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from vedette.testing import SentinelCluster, wait_until
from vedette_harness.execution_log import EXECUTION_LOG_VARIABLE

__all__ = ["CeleryWorkers", "DramatiqWorkers", "WorkerFactory", "WorkerProcess", "running"]


class WorkerProcess:
    """A framework's worker, started as its users start it, with the execution log set.

    ``cwd`` is the working directory (by default this process's); ``python -m`` puts it on the
    worker's ``sys.path``, which is how a command reaches a module of tests/ (run from the
    repository's root).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        log: Path,
        output: Path,
        environment: Mapping[str, str] = {},
        cwd: Path | None = None,
    ) -> None:
        self.command = list(command)
        self.output = output
        self.cwd = cwd
        env = dict(os.environ)
        env.update(environment)
        env[EXECUTION_LOG_VARIABLE] = str(log)
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start the command, its output (stdout and stderr) going to ``output``."""
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                self.command,
                env=self._env,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def wait_ready(self, marker: str, count: int = 1, timeout: float = 60.0) -> WorkerProcess:
        """Wait until ``marker`` shows ``count`` times in the output; the worker must still run."""
        wait_until(
            lambda: self.text().count(marker) >= count or not self.alive, timeout, "the worker"
        )
        assert self.alive, self.text()
        return self

    @property
    def alive(self) -> bool:
        """Started and not exited."""
        return self.process is not None and self.process.poll() is None

    def text(self) -> str:
        """Everything the worker printed so far."""
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a warm shutdown), then SIGKILL if it lingers; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # with its children
                self.process.wait(10)
        return self.process.returncode


@contextmanager
def running(worker: WorkerProcess) -> Iterator[WorkerProcess]:
    """Start ``worker``; stop it afterwards whatever happens."""
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


class WorkerFactory:
    """Starts worker processes sharing ``directory``'s execution log; stops them all on exit.

    Each worker is named ``worker0``, ``worker1`` ... in start order, and prints to
    ``<name>.out`` in ``directory``; it is ready once its output shows ``marker`` (``Listening
    on`` for RQ).
    """

    def __init__(self, directory: Path, *, marker: str) -> None:
        self.directory = directory
        self.marker = marker
        self.workers: list[WorkerProcess] = []

    @property
    def log(self) -> Path:
        """The execution log every worker of this factory writes to."""
        return self.directory / "executions.log"

    @property
    def next_name(self) -> str:
        """The name of the next worker started (Celery's ``--hostname`` carries it)."""
        return f"worker{len(self.workers)}"

    def __call__(
        self,
        command: Sequence[str],
        *,
        ready: int = 1,
        environment: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> WorkerProcess:
        """Start ``command``; return once ``marker`` shows ``ready`` times (0: at once).

        ``environment`` is added to this process's; ``cwd`` is `WorkerProcess`'s.
        """
        worker = WorkerProcess(
            command,
            log=self.log,
            output=self.directory / f"{self.next_name}.out",
            environment=environment or {},
            cwd=cwd,
        )
        self.workers.append(worker.start())
        return worker.wait_ready(self.marker, ready)

    def stop(self) -> None:
        """Stop every worker started, in start order."""
        for worker in self.workers:
            worker.stop()

    def __enter__(self) -> WorkerFactory:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class CeleryWorkers:
    """``celery worker`` processes on `vedette_harness.celery_app`, from a `WorkerFactory`.

    The worker's settings reach the app through its environment (``VEDETTE_BROKER_URL`` ...).
    """

    MARKER = " ready."
    """What ``celery worker`` prints once it consumes."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.factory = factory

    def __call__(
        self,
        broker_url: str,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        result_backend: str = "",
        options: Mapping[str, object] | None = None,
        acks_late: bool = False,
        events: bool = False,
        loglevel: str = "info",
    ) -> WorkerProcess:
        """Start a worker named ``workerN@<host>``; return once it is ready.

        ``options`` are the broker's (and the result backend's) transport options; ``events``
        turns on task events (``--task-events``).
        """
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vedette_harness.celery_app",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            loglevel,
            "--hostname",
            f"{self.factory.next_name}@%h",
            "--without-mingle",
            "--without-gossip",
            *(["--task-events"] if events else []),
        ]
        environment = {
            "VEDETTE_BROKER_URL": broker_url,
            "VEDETTE_RESULT_BACKEND": result_backend,
            "VEDETTE_BROKER_OPTIONS": json.dumps(dict(options or {})),
            "VEDETTE_ACKS_LATE": "1" if acks_late else "0",
        }
        return self.factory(command, environment=environment)


class DramatiqWorkers:
    """``dramatiq`` processes on `vedette_harness.dramatiq_app`, from a `WorkerFactory`.

    ``mode`` is the app's ``VEDETTE_DRAMATIQ_MODE`` (``broker``, ``middleware`` ...).
    """

    MARKER = "is ready for action"
    """What each ``dramatiq`` worker process prints once it consumes."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.factory = factory

    def __call__(
        self,
        cluster: SentinelCluster,
        *,
        mode: str = "broker",
        processes: int = 1,
        threads: int = 4,
    ) -> WorkerProcess:
        """Start ``dramatiq`` on ``cluster``; return once each of its processes is ready."""
        command = [
            sys.executable,
            "-m",
            "dramatiq",
            "vedette_harness.dramatiq_app",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        environment = {"VEDETTE_URL": cluster.url, "VEDETTE_DRAMATIQ_MODE": mode}
        return self.factory(command, ready=processes, environment=environment)
