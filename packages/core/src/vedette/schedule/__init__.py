"""One Redis schedule for Celery, Dramatiq and RQ.

Periodic and one-off entries, a leader lease with a fencing token, and exactly-once dispatch of
each run.

The store (`ScheduleStore`) works over any redis-py client; `ScheduleRunner` leads it and hands
each due run to the `Dispatcher` of the entry's framework, which the adapters provide. The JSON
document of an entry is described in docs/schedule-schema.md; daylight saving time in
`vedette.schedule.timing`.

Examples:
    >>> import vedette
    >>> from vedette.schedule import Crontab, Entry, ScheduleStore, Target
    >>> store = ScheduleStore(vedette.connect("redis+sentinel://h1,h2,h3/svc"))  # doctest: +SKIP
    >>> store.add(
    ...     Entry(
    ...         name="nightly-report",
    ...         target=Target(framework="rq", name="reports.nightly", queue="reports"),
    ...         schedule=Crontab(cron="30 1 * * *", zone="America/New_York"),
    ...     )
    ... )  # doctest: +SKIP
"""

from vedette.schedule.dispatch import (
    DISPATCHER_GROUP,
    Dispatcher,
    Run,
    installed_dispatchers,
    run_id,
)
from vedette.schedule.entries import (
    Entry,
    MissedRuns,
    Target,
    entry_from_document,
    entry_to_document,
)
from vedette.schedule.lease import DEFAULT_LEASE, Lease
from vedette.schedule.runner import ScheduleRunner, Step, decide
from vedette.schedule.store import DEFAULT_PREFIX, ScheduleStore, StoredEntry
from vedette.schedule.timing import Crontab, Interval, Once, Schedule

__all__ = [
    # Entries
    "Crontab",
    "Entry",
    "Interval",
    "MissedRuns",
    "Once",
    "Schedule",
    "Target",
    "entry_from_document",
    "entry_to_document",
    # The store
    "DEFAULT_PREFIX",
    "ScheduleStore",
    "StoredEntry",
    # Leading and dispatching
    "DEFAULT_LEASE",
    "DISPATCHER_GROUP",
    "Dispatcher",
    "Lease",
    "Run",
    "ScheduleRunner",
    "Step",
    "decide",
    "installed_dispatchers",
    "run_id",
]
