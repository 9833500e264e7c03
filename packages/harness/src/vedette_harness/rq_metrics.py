"""RQ settings that record Vedette's metrics: ``rq worker -c vedette_harness.rq_metrics``.

RQ imports the module named by ``-c`` in the worker process, before it forks any work horse:
the one-line set-up goes there. With ``PROMETHEUS_MULTIPROC_DIR`` set, every work horse records
to its own file in that directory too (docs/operations.md).
"""

import vedette.metrics

vedette.metrics.enable_prometheus()
