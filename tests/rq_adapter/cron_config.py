"""RQ's cron configuration for the tests' ``rq cron`` process: a tick every second."""

from rq import cron

from vedette_harness.rq_jobs import tick

cron.register(tick, queue_name="default", interval=1)
