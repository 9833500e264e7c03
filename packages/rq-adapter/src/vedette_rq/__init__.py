r"""Redis Sentinel failover safety for RQ.

- `connect(url | config | SENTINEL)`: a client that follows the master, for RQ's API;
- `Redis`: a connection class whose ``from_url`` reads ``redis+sentinel://`` URLs, for RQ's
  command line (``--connection-class vedette_rq.Redis``);
- `Worker`, `SimpleWorker`, `SpawnWorker` (rq >= 2.2): RQ's workers, which a failover neither
  stops nor makes lose, repeat or strand a job (``-w vedette_rq.Worker``); `FollowingWorker` to
  make another worker class so;
- `Scheduler`: RQ's scheduler (``--with-scheduler``), which a failover only pauses;
- `RQDispatcher`: sends runs of the schedule store (`vedette.schedule`) as RQ jobs.

Usage::

    rq worker -w vedette_rq.Worker --connection-class vedette_rq.Redis --with-scheduler \
        -u redis+sentinel://10.0.0.1,10.0.0.2,10.0.0.3/mymaster default

See docs/rq.md.
"""

import logging as _logging
from importlib.metadata import version as _version

from vedette_rq.compat import check_rq_version as _check_rq_version

_check_rq_version()  # before RQ's classes are subclassed: a clear error, not an odd one

from vedette_rq.connection import Redis, connect, watcher_of  # noqa: E402
from vedette_rq.dispatch import RQDispatcher  # noqa: E402
from vedette_rq.scheduler import Scheduler  # noqa: E402
from vedette_rq.worker import FollowingWorker, SimpleWorker, SpawnWorker, Worker  # noqa: E402

__version__ = _version("vedette-rq")
"""The installed version of the ``vedette-rq`` distribution."""

# A library logs; the application decides where its records go (docs/operations.md).
_logging.getLogger("vedette_rq").addHandler(_logging.NullHandler())

__all__ = [
    # Connections
    "Redis",
    "connect",
    "watcher_of",
    # Workers
    "FollowingWorker",
    "SimpleWorker",
    "SpawnWorker",
    "Worker",
    # Scheduling
    "RQDispatcher",
    "Scheduler",
    # Metadata
    "__version__",
]
