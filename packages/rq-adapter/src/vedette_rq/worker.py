r"""RQ's workers, for a master that fails over: `Worker`, `SimpleWorker`, `SpawnWorker`.

Each is RQ's class of the same name with `FollowingWorker` mixed in, which changes what a
failover does to it:

- **It never exits because of one.** RQ's work loop quits on a ``redis.TimeoutError`` or any
  error it did not expect, leaving its work horse and its jobs behind. Here what the loop must do
  (heartbeats, the worker's state, checking for suspension, preparing a job's execution) waits a
  failover out for as long as it takes, and what it may skip (a monitoring heartbeat, a
  maintenance pass) is logged and done next time (`vedette_rq.patience`).
- **Every job it pops is claimed** (`vedette_rq.claims`): a job whose pop reply a failover lost
  is found and run, and a job whose enqueue was sent twice runs once.
- **Its work horse follows the master too**, and records the job's outcome on the new master:
  preparing the job and recording its success wait a failover out. (A forked horse follows the
  worker's watcher through shared memory; the spawn worker's horse gets a client of its own.)
- **Its scheduler** (``--with-scheduler``) is a `vedette_rq.Scheduler`, which a failover only
  pauses, and which the worker starts again at once should it die, instead of after RQ's
  10-minute maintenance.
- **It takes RQ's ``SENTINEL`` settings** (``rq worker -c settings``): handed the redis-py
  ``Sentinel`` client RQ's command line builds from them, it follows that service instead.
- **It leaves a Vedette client's timeouts alone.** RQ raises ``socket_timeout`` above its pop's
  block time; a Vedette client already waits for a blocking command as long as it blocks, and
  keeps noticing a frozen master meanwhile.

Usage::

    rq worker -w vedette_rq.Worker --connection-class vedette_rq.Redis --with-scheduler \
        -u redis+sentinel://10.0.0.1,10.0.0.2,10.0.0.3/mymaster default
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import redis
import rq.worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import DequeueTimeout
from rq.logutils import blue, green
from rq.registry import clean_registries
from rq.utils import as_text, now
from rq.version import VERSION
from rq.worker_registration import clean_worker_registry

import vedette
import vedette.metrics
from vedette_rq.claims import Claims
from vedette_rq.patience import patiently, tolerated
from vedette_rq.scheduler import Scheduler
from vedette_rq.settings import following_sentinel_client
from vedette_rq.spawn import sentinel_config, spawn_work_horse

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

__all__ = ["FollowingWorker", "SimpleWorker", "SpawnWorker", "Worker"]

logger = logging.getLogger(__name__)

# With a scheduler to look after, a pop blocks at most this long: the worker checks between pops
# that its scheduler runs, and starts it again if it died.
_SCHEDULER_CHECK = 10


class FollowingWorker(rq.worker.BaseWorker):
    """What makes an RQ worker class survive failovers; see the module.

    Mix it in before RQ's class: ``class MyWorker(FollowingWorker, rq.Worker)``.
    """

    def __init__(self, queues: Any, *args: Any, **kwargs: Any) -> None:
        connection = kwargs.get("connection") or _connection_of(queues)
        following = None if connection is None else following_sentinel_client(connection)
        if following is not None:  # RQ's SENTINEL settings: follow that service instead
            kwargs["connection"] = following
            for queue in _queue_objects(queues):
                queue.connection = following
        super().__init__(queues, *args, **kwargs)
        self._watcher = vedette.watcher_of(self.connection)
        self._claims = Claims(self)
        self._resume: vedette.metrics.ResumeClock | None = None
        if self._watcher is not None:
            self._resume = vedette.metrics.ResumeClock(self._watcher, "rq")

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """RQ's; then Vedette's warnings go where RQ's worker prints, unless the app says where.

        RQ sets up its own loggers only, and Vedette's have a ``NullHandler``: without this, a
        worker would print nothing of a failover (the master switch, a claim recovered).
        """
        super().bootstrap(*args, **kwargs)
        if logging.getLogger().handlers:
            return  # the application configured logging: Vedette's records propagate there
        for name in ("vedette", "vedette_rq"):
            package = logging.getLogger(name)
            if all(isinstance(handler, logging.NullHandler) for handler in package.handlers):
                for handler in self.log.handlers:
                    package.addHandler(handler)

    def _set_connection(self, connection: redis.Redis) -> redis.Redis:
        """RQ's, except that a Vedette client's ``socket_timeout`` is left as it is."""
        if vedette.watcher_of(connection) is not None:
            return connection
        return super()._set_connection(connection)

    # --- what the work loop must do: patiently -------------------------------------------------

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, waiting a failover out (in a pipeline, queued as RQ does)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
        else:
            patiently(super().heartbeat, timeout)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's, waiting a failover out (in a pipeline, queued as RQ does)."""
        if pipeline is not None:
            super().set_state(state, pipeline=pipeline)
        else:
            patiently(super().set_state, state)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's, waiting a failover out."""
        patiently(super().check_for_suspension, burst)

    def prepare_execution(self, job: Job) -> Any:
        """RQ's, waiting a failover out: the job is claimed, nobody else will run it."""
        prepare = super().prepare_execution
        executions: Any = getattr(self, "executions", None)  # rq >= 3: the worker's running ones
        before = dict(executions) if isinstance(executions, dict) else None

        def attempt() -> Any:
            if before is not None:  # an attempt that failed leaves no execution behind
                executions.clear()
                executions.update(before)
            return prepare(job)

        return patiently(attempt)

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """RQ's (in the work horse), waiting a failover out."""
        patiently(super().prepare_job_execution, job, remove_from_intermediate_queue)

    def handle_execution_ended(self, *args: Any, **kwargs: Any) -> None:
        """RQ's (in the work horse), waiting a failover out: the job's end is noted."""
        patiently(super().handle_execution_ended, *args, **kwargs)

    def handle_job_success(self, job: Job, *args: Any, **kwargs: Any) -> None:
        """RQ's (in the work horse), waiting a failover out: the job ran, it is recorded so.

        RQ's recording is one transaction; an attempt is made again only while the job still
        shows as started on the master (a transaction whose reply was lost may have gone
        through), and with the job's repeat count as it was before the first.
        """
        record = super().handle_job_success
        repeats = (getattr(job, "repeats_left", None), getattr(job, "repeat_intervals", None))
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 1 and job.get_status(refresh=True) != "started":
                return  # recorded by an earlier attempt (it finished, or it is to repeat)
            if hasattr(job, "repeats_left"):  # rq >= 3 counts repeats down while recording
                job.repeats_left, job.repeat_intervals = repeats
            record(job, *args, **kwargs)

        patiently(attempt)

    # --- what it may skip: tolerated -----------------------------------------------------------

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance; cut short by a failover, it runs again on the next loop."""
        with tolerated(self.log, f"Worker {self.name}: maintenance"):
            super().run_maintenance_tasks()

    def maintain_heartbeats(self, *args: Any, **kwargs: Any) -> None:
        """RQ's heartbeats while a job runs; one a failover cut short is sent next time."""
        with tolerated(self.log, f"Worker {self.name}: a heartbeat"):
            super().maintain_heartbeats(*args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """RQ's; a failover after the work horse finished is logged, and the loop goes on."""
        with tolerated(self.log, f"Worker {self.name}: job {job.id}"):
            super().execute_job(job, queue)

    def clean_registries(self) -> None:
        """RQ's maintenance of each queue's registries, with `Claims.tidy` for the stuck jobs."""
        for queue in self.queues:
            if not queue.acquire_maintenance_lock():
                continue
            try:
                self.log.info("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                clean_worker_registry(queue)
                self._claims.tidy(queue)  # instead of RQ's, which fails what is stuck
            finally:  # cut short by a failover: the next pass need not wait for the lock to expire
                with tolerated(self.log, f"Worker {self.name}: releasing the maintenance lock"):
                    queue.release_maintenance_lock()
        self.last_cleaned_at = now()  # type: ignore[assignment]  # RQ declares it None

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        """Keep the command channel through any failover's error (RQ's: connection errors only)."""
        if not vedette.is_failover(exc):
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)
            return
        self.log.warning(
            "Worker %s: the command channel was cut by a failover (%s); subscribing again",
            self.name,
            exc,
        )
        time.sleep(0.5)  # the next attempt waits for a master anyway: this only paces the loop

    def unsubscribe(self) -> None:
        """Leave the command channel promptly, as rq 3 does (rq 2 waited up to 60 s for it)."""
        pubsub, thread = self.pubsub, cast(Any, self.pubsub_thread)  # RQ types it None
        if pubsub is None or thread is None:
            return
        self.log.info(
            "Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name
        )
        with tolerated(self.log, f"Worker {self.name}: unsubscribing"):
            pubsub.unsubscribe()
        thread.stop()
        thread.join(timeout=1)
        pubsub.close()

    # --- popping and claiming ------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's dequeue loop, every job claimed, a failover waited out instead of slept off."""
        result: tuple[Job, Queue] | None = None
        names = ",".join(self.queue_names())
        self.set_state(rq.worker.WorkerStatus.IDLE)
        self.procline("Listening on " + names)
        self.log.debug("Worker %s: *** Listening on %s...", self.name, green(names))
        idle_since = now()
        idle_time_left = max_idle_time
        while True:
            self.heartbeat()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            self._keep_scheduler_running()
            block = timeout
            if block is not None and idle_time_left is not None:
                block = min(block, idle_time_left)
            if block is not None and self.scheduler is not None:
                block = min(block, _SCHEDULER_CHECK)
            try:
                result = self._dequeue(block)
            except DequeueTimeout:
                if max_idle_time is not None:
                    idle_for = (now() - idle_since).total_seconds()
                    idle_time_left = math.ceil(max_idle_time - idle_for)
                    if idle_time_left <= 0:
                        break
                continue
            except Exception as error:
                if not vedette.is_failover(error):
                    raise
                self._claims.recovering = True  # what that pop took, if anything, is found
                self.log.warning(
                    "Worker %s: a failover cut a pop short (%s: %s); popping again once a "
                    "master is back",
                    self.name,
                    type(error).__name__,
                    error,
                )
                continue
            if result is not None:
                if self._resume is not None:
                    self._resume.received()
                job, queue = result
                self.reorder_queues(reference_queue=queue)
                job.redis_server_version = self.get_redis_server_version()
                self.log.info(
                    "Worker %s: %s: %s (%s)",
                    self.name,
                    green(queue.name),
                    blue(job.description) if self.log_job_description else "",
                    job.id,
                )
            break
        self.heartbeat()
        return result

    def _dequeue(self, timeout: int | None) -> tuple[Job, Queue] | None:
        """The next job this worker claimed, as RQ pops (``BLMOVE`` with one queue, or ``BLPOP``).

        Raises:
            DequeueTimeout: Nothing came within ``timeout`` seconds.
        """
        claims = self._claims
        while True:
            if claims.recovering:
                found = claims.recover()
                if found is not None:
                    return found
            intermediate = bool(claims.intermediate_queues())
            switches = self._switches()
            try:
                if intermediate:
                    key = self._ordered_queues[0].key
                    popped = self.queue_class.lmove(self.connection, key, timeout)
                else:
                    keys = [queue.key for queue in self._ordered_queues]
                    popped = self.queue_class.lpop(keys, timeout, connection=self.connection)
            finally:
                if self._switches() != switches:  # a pop cut on the old master ran again here
                    claims.recovering = True
            if popped is None:
                return None
            queue_key, job_id = (as_text(part) for part in popped)
            queue = next(queue for queue in self.queues if queue.key == queue_key)
            job = claims.claim(queue, job_id, intermediate=intermediate)
            if job is not None:
                return job, queue

    def _switches(self) -> int:
        return 0 if self._watcher is None else self._watcher.switches

    # --- the scheduler -------------------------------------------------------------------------

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's, with a `vedette_rq.Scheduler`."""
        self.scheduler = Scheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        patiently(self.scheduler.acquire_locks)
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        # rq >= 3 records its schedulers (register_birth / register_death); rq 2 does not.
        birth = getattr(self.scheduler, "register_birth", None)
        death = getattr(self.scheduler, "register_death", None)
        try:
            if birth is not None:
                birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            if death is not None:
                death()

    def _keep_scheduler_running(self) -> None:
        """Start this worker's scheduler again if it died (RQ would wait for its maintenance)."""
        scheduler = self.scheduler
        process: Any = None if scheduler is None else scheduler._process
        if scheduler is None or process is None or process.is_alive() or self._stop_requested:
            return
        self.log.warning("Worker %s: its scheduler died; starting it again", self.name)
        with tolerated(self.log, f"Worker {self.name}: restarting the scheduler"):
            scheduler.acquire_locks(auto_start=True)
        if scheduler._process is process:  # another scheduler holds the lock now
            scheduler._process = None  # RQ's maintenance tries for it again, every 10 minutes


class Worker(FollowingWorker, rq.worker.Worker):
    """RQ's `Worker` (a work horse forked per job), for a master that fails over."""


class SimpleWorker(FollowingWorker, rq.worker.SimpleWorker):
    """RQ's `SimpleWorker` (jobs run in the worker's process), for a master that fails over."""


# RQ has a SpawnWorker from 2.2 on; before, vedette_rq.SpawnWorker refuses to start, by name.
_SpawnBase: type[rq.worker.Worker] = getattr(rq.worker, "SpawnWorker", rq.worker.Worker)


class SpawnWorker(FollowingWorker, _SpawnBase):  # type: ignore[misc,valid-type]
    """RQ's `SpawnWorker` (a new interpreter per job, rq >= 2.2), for a master that fails over.

    RQ's writes a plain client to the master of the moment into its work horse's source code
    (password included, on its command line): that horse would keep writing to an old master.
    This one's horse connects through the Sentinels (`vedette_rq.spawn`).
    """

    def __init__(self, queues: Any, *args: Any, **kwargs: Any) -> None:
        if _SpawnBase is rq.worker.Worker:
            raise vedette.ConfigurationError(
                "worker_class",
                f"vedette_rq.SpawnWorker needs rq >= 2.2 (RQ's SpawnWorker); rq {VERSION} is "
                "installed",
            )
        super().__init__(queues, *args, **kwargs)
        sentinel_config(self.connection)  # at start-up: its horses connect through the Sentinels

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Start the work horse for ``job`` in a new interpreter."""
        pid = spawn_work_horse(self, job, queue)
        self._horse_pid = pid
        self.procline(f"Spawned {pid}")


def _connection_of(queues: Any) -> redis.Redis | None:
    for queue in _queue_objects(queues):
        return queue.connection
    return None


def _queue_objects(queues: Any) -> list[Queue]:
    items: Sequence[Any] = queues if isinstance(queues, list | tuple) else [queues]
    return [item for item in items if hasattr(item, "connection")]
