"""Vedette's own test harness: what tests/, benchmarks/ and demo/ share to break real clusters.

Never published (see this package's README). Each module is imported by its own name, and
nothing is re-exported here, so that importing one needs no framework another one drives:

- `vedette_harness.stream`: the "survives failover" stream (`run_stream`, `StreamReport`,
  `FAULTS`, `assert_survived`, the benchmarks' fault table);
- `vedette_harness.execution_log`: each job notes its run in a file (`record_execution`);
- `vedette_harness.workers`: `WorkerProcess`, `WorkerFactory` (the adapters' worker fixtures),
  `CeleryWorkers`, `DramatiqWorkers`;
- `vedette_harness.subscriber`: a pub/sub `Subscriber` polling on its own thread;
- `vedette_harness.scheduler_process`: a schedule runner process noting its runs in a file
  (`vedette_harness.dispatch_log`);
- Celery (`celery_app`, `celery_producer`), Dramatiq (`dramatiq_app`, `dramatiq_queues`) and RQ
  (`rq_jobs`, `rq_commands`, `rq_queues`, `rq_schedules`, `rq_sentinel_settings`): the apps and
  jobs workers run, their command lines, and what a stream left in the framework's keys.
"""
