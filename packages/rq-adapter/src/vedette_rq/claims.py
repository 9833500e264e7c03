"""Claims: every job a queue hands out runs once, on one worker, through any failover.

RQ's worker pops a job id and runs it. A failover breaks that in two ways:

- **A pop whose reply was lost** (`vedette.OutcomeUnknownError`: the master was killed, or frozen,
  as it handed the job over), or a pop that a master switch cut and the client repeated on the
  new master after the old one had run it. With one queue, RQ pops into the queue's intermediate
  list (``BLMOVE``), so the job is not gone: it waits there until RQ's maintenance marks it
  *failed*, minutes later, without running it. (With several queues RQ pops with ``BLPOP`` and
  keeps no such list: a job whose pop reply was lost is gone; see docs/rq.md.)
- **A push that ran twice**: a producer's enqueue whose reply was lost is sent again (a write is
  retried at least once), so the id may be in the queue twice, and RQ would run the job twice.

So a Vedette worker *claims* each job it pops, in one server-side script (`CLAIM`), which also
returns the job's hash (the fetch RQ does next, in the same round trip):

- a job waiting to run (``queued``: RQ sets it so with every push) becomes ``started`` by this
  worker (RQ's own ``status`` and ``worker_name`` fields, which RQ sets the same way a moment
  later) and is this worker's to run;
- a job ``started`` by this worker is its to run (a claim whose reply was lost: the script may
  run twice, so a claim is retried like any idempotent call);
- a job started by another worker is left to it (its work horse takes the entry off the list);
- any other job (it ended, it waits for a retry's time or a dependency, it is gone) is a stale
  copy: its entry is dropped from the intermediate list, and nothing runs.

After a lost pop reply, or a pop during which the master switched, the worker looks in its
queue's intermediate list for jobs nobody claimed (`Claims.recover`) and claims them: any worker
may, and the script lets exactly one. RQ's maintenance is replaced by `Claims.tidy`, which puts a
job back at the head of its queue (instead of failing it) when it was left unclaimed for RQ's
minute, or claimed by a worker that died before it ran, and drops stale copies.

All workers of a queue must claim for this to hold: mix Vedette workers with stock RQ workers on
one queue only while migrating.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import vedette
import vedette.metrics
from vedette_rq.patience import patiently

if TYPE_CHECKING:
    from redis.commands.core import Script
    from rq.job import Job
    from rq.queue import Queue
    from rq.worker import BaseWorker

__all__ = ["CLAIM", "SETTLE", "Claims"]

logger = logging.getLogger(__name__)

CLAIM = """
-- KEYS: the job's hash; the queue's intermediate list, if jobs are popped into one.
-- ARGV: the job's id, this worker's name. Returns the job's hash if it is this worker's to run.
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
    redis.call('HSET', KEYS[1], 'status', 'started', 'worker_name', ARGV[2])
    return redis.call('HGETALL', KEYS[1])
end
if status == 'started' then
    if redis.call('HGET', KEYS[1], 'worker_name') == ARGV[2] then
        return redis.call('HGETALL', KEYS[1])
    end
    return false
end
if #KEYS == 2 then
    redis.call('LREM', KEYS[2], 1, ARGV[1])
end
return false
"""

SETTLE = """
-- KEYS: the job's hash, the queue's intermediate list, the queue.
-- ARGV: the job's id; the status and claimer it was seen with ('' for none); 'requeue' or 'drop'.
-- Puts the job back at the head of its queue, or drops its entry from the list, unless the job
-- moved on since it was looked at.
local fields = redis.call('HMGET', KEYS[1], 'status', 'worker_name')
if (fields[1] or '') ~= ARGV[2] or (ARGV[3] ~= '' and fields[2] ~= ARGV[3]) then
    return 0
end
if redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 or ARGV[4] == 'drop' then
    return 0
end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('LPUSH', KEYS[3], ARGV[1])
return 1
"""


class Claims:
    """A worker's claims on the jobs it pops; see the module.

    Args:
        worker: The worker (its name, connection, job class, serializer and queues).
    """

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self._claim: Script = worker.connection.register_script(CLAIM)
        self._settle: Script = worker.connection.register_script(SETTLE)
        config = vedette.config_of(worker.connection)
        self._service = "" if config is None else config.service_name  # the metrics' label
        self.recovering = False
        """A pop may have moved a job that no claim took: look in the intermediate lists."""

    def claim(self, queue: Queue, job_id: str, *, intermediate: bool) -> Job | None:
        """The job ``job_id`` popped from ``queue``, if it is this worker's to run.

        Retried through failovers for as long as it takes, a lost reply included: the worker
        holds the job meanwhile, and nothing else can run it.
        """
        worker = self.worker
        keys = [worker.job_class.key_for(job_id)]
        if intermediate:
            keys.append(queue.intermediate_queue_key)
        fields: list[bytes] | None = patiently(self._claim, keys, [job_id, worker.name])
        if not fields:
            logger.debug("job %s: not this worker's to run (a copy, or another's)", job_id)
            return None
        job = worker.job_class(job_id, connection=worker.connection, serializer=worker.serializer)
        job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
        return job

    def recover(self) -> tuple[Job, Queue] | None:
        """A job left unclaimed in an intermediate list (a lost pop), now claimed; or None."""
        for queue in self.intermediate_queues():
            for raw in self.worker.connection.lrange(queue.intermediate_queue_key, 0, -1):
                job_id = _text(raw)
                job = self.claim(queue, job_id, intermediate=True)
                if job is not None:
                    vedette.metrics.RQ_CLAIMS_RECOVERED.add(service=self._service, queue=queue.name)
                    logger.warning(
                        "job %s: found unclaimed in %s after a failover; running it",
                        job_id,
                        queue.intermediate_queue_key,
                    )
                    return job, queue
        self.recovering = False
        return None

    def intermediate_queues(self) -> list[Queue]:
        """The queues this worker pops into an intermediate list (RQ does with exactly one)."""
        worker = self.worker
        if len(worker.queues) == 1 and worker.get_redis_server_version() >= (6, 2, 0):
            return list(worker.queues)
        return []

    def tidy(self, queue: Queue) -> None:
        """Put back what is stuck in ``queue``'s intermediate list; drop stale copies.

        Replaces RQ's cleanup of the list, which marks a stuck job failed: a job still in the
        list never started (its work horse takes it off first).
        """
        connection = self.worker.connection
        stuck = queue.intermediate_queue
        for raw in connection.lrange(stuck.key, 0, -1):
            job_id = _text(raw)
            key = self.worker.job_class.key_for(job_id)
            status, claimer = (
                _text(value) for value in connection.hmget(key, "status", "worker_name")
            )
            if status == "queued":  # popped, never claimed: put back after RQ's minute
                if not stuck.set_first_seen(job_id) and stuck.should_be_cleaned_up(job_id):
                    self._settle_entry(queue, job_id, status, "", "requeue")
            elif status == "started":  # claimed: put back if its worker died before it ran
                if self._abandoned(claimer, job_id, queue):
                    self._settle_entry(queue, job_id, status, claimer, "requeue")
            else:
                self._settle_entry(queue, job_id, status, "", "drop")  # a stale copy

    def _abandoned(self, claimer: str, job_id: str, queue: Queue) -> bool:
        """A job claimed by a worker that is gone, before it ran (no execution recorded)."""
        worker = self.worker
        connection = worker.connection
        if connection.exists(worker.redis_worker_namespace_prefix + claimer):
            return False
        # The started registry holds the job's id (rq 2) or "id:execution" (rq 3).
        started = queue.started_job_registry.key
        if connection.zscore(started, job_id) is not None:
            return False
        return not any(connection.zscan_iter(started, match=f"{job_id}:*"))

    def _settle_entry(self, queue: Queue, job_id: str, status: str, claimer: str, how: str) -> None:
        keys = [self.worker.job_class.key_for(job_id), queue.intermediate_queue_key, queue.key]
        if self._settle(keys, [job_id, status, claimer, how]):
            if how == "requeue":
                vedette.metrics.RQ_CLAIMS_RECOVERED.add(service=self._service, queue=queue.name)
            logger.warning(
                "job %s: put back at the head of %s (it was left in %s)",
                job_id,
                queue.name,
                queue.intermediate_queue_key,
            )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
