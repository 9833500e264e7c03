"""RQ's cron configuration for the tests' ``rq cron`` process: a tick every second."""

from rq import cron

from tests.rq_adapter.jobs import tick

cron.register(tick, queue_name="default", interval=1)
