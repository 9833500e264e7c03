"""`Scheduler`: RQ's scheduler (``--with-scheduler``, ``enqueue_at``/``enqueue_in``), for failovers.

RQ's scheduler runs in a process the worker forks. Its loop quits on the first Redis error it
is handed, and RQ's worker starts it again only in its maintenance, every 10 minutes: after a
failover that outlasted the client's retries, jobs scheduled meanwhile wait up to 10 minutes.
This one's loop waits a failover out (`vedette_rq.patience`) and carries on as soon as a master
is back; a `vedette_rq.Worker` also restarts it at once if it ever dies.

Its lock (one per queue, ``rq:scheduler-lock:<queue>``) is refreshed on the master every tick, so
it is on the new master after a failover: with rq 3, RQ's heartbeat takes it again if the new
master lacks it (written in the last moment before a kill, and not yet replicated); rq 2 only
refreshes a lock it still finds there.

RQ scores scheduled jobs in whole seconds and looks for due ones every ``interval`` (1 s). This
scheduler looks just after each whole second, so a job runs within one second of its time (not
up to two).
"""

from __future__ import annotations

import logging
import time

from rq.scheduler import RQScheduler

from vedette_rq.patience import patiently, tolerated

__all__ = ["Scheduler"]

logger = logging.getLogger(__name__)

# How long after a whole second a tick runs: jobs due at that second are on the server by then.
_AFTER_THE_SECOND = 0.005


class Scheduler(RQScheduler):
    """RQ's scheduler, that a failover only pauses; see the module."""

    def work(self) -> None:
        """RQ's scheduling loop: locks, a heartbeat, due jobs enqueued; a failover waited out."""
        self._install_signal_handlers()
        register_birth = getattr(self, "register_birth", None)  # rq >= 3 records its schedulers
        if register_birth is not None:
            patiently(register_birth)
        while not self._stop_requested:
            with tolerated(logger, "a scheduler tick"):
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
            time.sleep(self._until_next_tick())
        with tolerated(logger, "stopping the scheduler"):
            self.stop()

    def _until_next_tick(self) -> float:
        """Seconds to the next multiple of ``interval``, just after the whole second."""
        interval = float(self.interval)
        return interval - (time.time() % interval) + _AFTER_THE_SECOND
