"""The Celery app of the ``celery beat -S vedette`` tests, configured from the environment.

``VEDETTE_BROKER_URL`` is the broker; ``VEDETTE_SCHEDULE_PREFIX`` the store's prefix;
``VEDETTE_LEASE`` its lease. ``beat_schedule`` has one entry, ``every-half-second``, sending
``record(21)`` (the task of vedette_harness/celery_app.py) every 0.5 s.
"""

import os

from celery import Celery

app = Celery("vedette_beat_tests")
app.conf.update(
    broker_url=os.environ["VEDETTE_BROKER_URL"],
    result_backend=os.environ["VEDETTE_BROKER_URL"],
    broker_connection_retry_on_startup=True,
    timezone="Europe/Berlin",
    vedette_schedule_prefix=os.environ["VEDETTE_SCHEDULE_PREFIX"],
    vedette_schedule_lease=float(os.environ.get("VEDETTE_LEASE", "2")),
    beat_schedule={
        "every-half-second": {"task": "record", "schedule": 0.5, "args": (21,)},
    },
)
