"""The schedule store's dispatcher for Celery: a run becomes a task, its id the run's id.

Registered as ``celery`` in the ``vedette.dispatchers`` entry-point group, so ``vedette beat``
sends entries whose ``target.framework`` is ``"celery"`` here: ``send_task`` with the task name
``target.name``, on ``target.queue`` (the app's default if none), with ``target.options`` as
``apply_async`` options (``priority``, ``expires``, ``headers`` ...). The task need not be
importable where the scheduler runs.
"""

from __future__ import annotations

from celery import Celery

from vedette.schedule import Dispatcher, Run
from vedette_celery.settings import celery_url

__all__ = ["CeleryDispatcher", "dispatcher"]


class CeleryDispatcher(Dispatcher):
    """Sends each run as a Celery task whose ``task_id`` is the run's id."""

    def __init__(self, app: Celery) -> None:
        """Send runs through ``app``'s broker (``redis-sentinel://``, to follow the master)."""
        self.app = app

    def dispatch(self, run: Run) -> None:
        """``send_task`` the run's task with its arguments, under the run's id."""
        target = run.entry.target
        options = dict(target.options)
        if target.queue is not None:
            options["queue"] = target.queue
        self.app.send_task(
            target.name, args=target.args, kwargs=target.kwargs, task_id=run.id, **options
        )

    def dispatched(self, run: Run) -> bool | None:
        """True if the result backend knows the run's task; None if it cannot tell.

        A task the backend has no state for (``PENDING``) may still be queued: Celery's broker
        keeps no record of what it was sent once consumed.
        """
        if self.app.conf.result_backend is None:
            return None
        state = self.app.AsyncResult(run.id).state
        return True if state != "PENDING" else None

    def close(self) -> None:
        """Close the app's connections."""
        self.app.close()


def dispatcher(url: str) -> CeleryDispatcher:
    """The entry point: a dispatcher on the service of a ``redis+sentinel://`` URL.

    The app sends to ``redis-sentinel://`` (the same service) and reads task states from it.
    """
    url = celery_url(url)
    return CeleryDispatcher(Celery("vedette-beat", broker=url, backend=url))
