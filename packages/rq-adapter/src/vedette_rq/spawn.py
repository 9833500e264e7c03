"""The spawn worker's work horse: a new interpreter that runs one job, following the master.

RQ's `SpawnWorker` starts ``python -c <source>`` per job, the source holding
``redis.Redis(**kwargs)`` with the keyword arguments of the worker's client: for a Vedette client,
a plain client to the master of the moment, which a failover during the job leaves behind (and
the password, on a command line every user of the machine can read). Here the horse is
``python -c "from vedette_rq.spawn import main; main()"``, and what it needs (the worker's class
and settings, the job, the Sentinel configuration) comes pickled in an environment variable,
which only the worker's user can read. It connects with `vedette.connect`, so it follows the
master through a failover like any Vedette client.
"""

from __future__ import annotations

import base64
import os
import pickle
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

import vedette
from vedette_rq.patience import patiently

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue
    from rq.worker import BaseWorker

__all__ = ["HORSE_ORDERS", "main", "sentinel_config", "spawn_work_horse"]

HORSE_ORDERS = "VEDETTE_RQ_HORSE"
"""The environment variable that carries a spawned work horse's `_Orders`."""


@dataclass(frozen=True)
class _Orders:
    """What a spawned work horse needs to run its job."""

    path: list[str]
    worker: bytes  # RQ's pickled (worker class, settings)
    worker_key: str
    serializer: Any
    config: vedette.SentinelConfig
    job_id: str
    queue_name: str
    execution_id: str | None


def spawn_work_horse(worker: BaseWorker, job: Job, queue: Queue) -> int:
    """Start the work horse for ``job`` in a new interpreter; its pid.

    Raises:
        vedette.ConfigurationError: The worker's client does not follow a Sentinel service.
    """
    config = sentinel_config(worker.connection)
    execution = getattr(worker, "execution", None)
    dump = getattr(worker, "_dump_worker_config", None)  # rq >= 3 says what a horse may keep
    orders = _Orders(
        path=list(sys.path),
        worker=dump() if dump is not None else pickle.dumps((type(worker), {})),
        worker_key=worker.key,
        serializer=getattr(worker, "_serializer_arg", None),
        config=config,
        job_id=job.id,
        queue_name=queue.name,
        execution_id=None if execution is None else execution.id,
    )
    os.environ["RQ_WORKER_ID"] = worker.name  # what RQ's own spawned horses get
    os.environ["RQ_JOB_ID"] = job.id
    if execution is not None:
        os.environ["RQ_EXECUTION_ID"] = execution.id
    environment = {**os.environ, HORSE_ORDERS: base64.b64encode(pickle.dumps(orders)).decode()}
    command = [sys.executable, "-c", "from vedette_rq.spawn import main; main()"]
    # setpgroup=0: the horse leads a process group of its own, as RQ's (the worker kills it so).
    return os.posix_spawn(sys.executable, command, environment, setpgroup=0)


def main() -> None:
    """Run the job the worker spawned this interpreter for (its `_Orders`), then exit."""
    orders: _Orders = pickle.loads(base64.b64decode(os.environ.pop(HORSE_ORDERS)))
    sys.path[:] = orders.path
    connection = vedette.connect(orders.config)
    worker, job, queue = patiently(_prepare, orders, connection)  # a failover only delays it
    if worker is None:  # the worker is gone (its key expired): nothing to report to
        sys.exit(1)
    worker.main_work_horse(job, queue)


def _prepare(orders: _Orders, connection: redis.Redis) -> tuple[Any, Any, Any]:
    """The worker, its job and its queue, read back from the master, as RQ's own horse does."""
    worker_class, settings = pickle.loads(orders.worker)
    worker = worker_class.find_by_key(
        orders.worker_key,
        connection=connection,
        job_class=settings.get("job_class"),
        queue_class=settings.get("queue_class"),
        serializer=orders.serializer,
    )
    if worker is None:
        return None, None, None
    for name, value in settings.items():
        setattr(worker, name, value)
    job = worker.job_class.fetch(orders.job_id, connection=connection, serializer=worker.serializer)
    queue = worker.queue_class(
        orders.queue_name,
        connection=connection,
        job_class=worker.job_class,
        serializer=worker.serializer,
        death_penalty_class=worker.death_penalty_class,
    )
    if orders.execution_id is not None:
        from rq.executions import Execution

        execution = Execution.fetch(orders.execution_id, job.id, connection=connection)
        execution._job = job
        worker.execution = execution
    return worker, job, queue


def sentinel_config(client: redis.Redis) -> vedette.SentinelConfig:
    """The configuration of the Sentinel service ``client`` follows.

    Raises:
        vedette.ConfigurationError: ``client`` does not follow a Sentinel service.
    """
    pool = client.connection_pool
    config = getattr(pool, "config", None) or getattr(pool.connection_class, "config", None)
    if not isinstance(config, vedette.SentinelConfig):
        raise vedette.ConfigurationError(
            "connection",
            "vedette_rq.SpawnWorker needs a client that follows a Sentinel service "
            "(vedette_rq.connect, or --connection-class vedette_rq.Redis with a "
            "redis+sentinel:// URL); use rq's own SpawnWorker otherwise",
        )
    return config
