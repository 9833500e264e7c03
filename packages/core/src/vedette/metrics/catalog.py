"""Every metric Vedette records: name, kind, unit, labels and meaning, in one table.

The names are OpenTelemetry's (dotted); `Metric.prometheus_name` is the Prometheus spelling
(``vedette.failover.switches`` is ``vedette_failover_switches_total``). Durations are in seconds.
docs/operations.md lists them, and the dashboard in docs/ uses only these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CATALOG", "Kind", "Metric"]

Kind = Literal["counter", "histogram", "gauge"]
"""What a `Metric` is: a counter, a histogram or a gauge."""

# Buckets (seconds) for pauses a failover makes: tens of milliseconds to a minute.
PAUSE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Buckets (seconds) for one round of questions to the Sentinels.
LOOKUP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Buckets (seconds) for how late a scheduled run was sent.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric as Vedette defines it.

    Attributes:
        name: The OpenTelemetry name, dotted: ``vedette.failover.switches``.
        kind: ``"counter"``, ``"histogram"`` or ``"gauge"``.
        description: What one increment, observation or value means.
        labels: The label (attribute) names every recording gives, in this order.
        unit: ``"s"`` for durations, else ``""`` (a count).
        buckets: A histogram's bucket bounds.
        multiprocess_mode: How `prometheus_client`'s multiprocess mode combines a gauge's values
            from several processes.
    """

    name: str
    kind: Kind
    description: str
    labels: tuple[str, ...]
    unit: str = ""
    buckets: tuple[float, ...] = ()
    multiprocess_mode: str = "livesum"

    @property
    def prometheus_name(self) -> str:
        """The name `prometheus_client` is given (it adds ``_total`` to a counter's samples)."""
        base = self.name.replace(".", "_")
        return f"{base}_seconds" if self.unit == "s" else base

    @property
    def exposed_names(self) -> tuple[str, ...]:
        """The sample names a Prometheus scrape shows for this metric."""
        base = self.prometheus_name
        if self.kind == "counter":
            return (f"{base}_total",)
        if self.kind == "histogram":
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        return (base,)


_SERVICE = ("service",)

CATALOG: tuple[Metric, ...] = (
    # --- the failover, as this process's watcher hears it ---------------------------------------
    Metric(
        "vedette.failover.switches",
        "counter",
        "Master switches this process's watcher saw (via: a Sentinel event or a lookup)",
        ("service", "via"),
    ),
    Metric(
        "vedette.failover.started",
        "counter",
        "Failovers a Sentinel started (+try-failover), as this process's watcher saw them",
        _SERVICE,
    ),
    Metric(
        "vedette.failover.aborted",
        "counter",
        "Failovers the Sentinels gave up (-failover-abort-*): the old master stays",
        _SERVICE,
    ),
    Metric(
        "vedette.sentinels.reachable",
        "gauge",
        "Sentinels this process's watcher is subscribed to now",
        _SERVICE,
        # A forked child's copy reads 0 (it runs no watcher): the watching process's counts.
        multiprocess_mode="livemax",
    ),
    Metric(
        "vedette.discovery.duration",
        "histogram",
        "One lookup of the master: asking the Sentinels and checking the master's role",
        ("service", "outcome"),
        unit="s",
        buckets=LOOKUP_BUCKETS,
    ),
    # --- commands ---------------------------------------------------------------------------------
    Metric(
        "vedette.failover.held",
        "histogram",
        "How long commands waited through one failover in this process: from the first that "
        "could not run (held for a promotion, or failed and retried) to the first that ran again",
        _SERVICE,
        unit="s",
        buckets=PAUSE_BUCKETS,
    ),
    Metric(
        "vedette.commands.retried",
        "counter",
        "Command attempts retried after a failure a failover causes (reason: the failure's kind)",
        ("service", "reason"),
    ),
    Metric(
        "vedette.commands.outcome_unknown",
        "counter",
        "Commands raised to the caller as OutcomeUnknownError: a pop or script whose reply a "
        "failure lost (not those an idempotent ensure_call ran again)",
        _SERVICE,
    ),
    Metric(
        "vedette.wait.confirmed",
        "counter",
        "Batches of writes WAIT confirmed on wait_replicas replicas",
        _SERVICE,
    ),
    Metric(
        "vedette.wait.shortfalls",
        "counter",
        "Batches of writes fewer replicas than wait_replicas confirmed (NotReplicatedError)",
        _SERVICE,
    ),
    # --- the adapters -----------------------------------------------------------------------------
    Metric(
        "vedette.worker.resume",
        "histogram",
        "From a master switch to the first job a worker received after it",
        ("service", "framework"),
        unit="s",
        buckets=PAUSE_BUCKETS,
    ),
    Metric(
        "vedette.dramatiq.reconciliations",
        "counter",
        "Dramatiq acknowledgements a failover left unsure, reconciled with the new master",
        ("service", "queue"),
    ),
    Metric(
        "vedette.rq.claims_recovered",
        "counter",
        "RQ jobs a failover left unclaimed, or claimed by a worker gone, run or put back",
        ("service", "queue"),
    ),
    # --- the schedule -----------------------------------------------------------------------------
    Metric(
        "vedette.schedule.ticks",
        "counter",
        "Passes of a scheduler's loop: a leader's tick (outcome ok), or a pass that failed",
        ("schedule", "outcome"),
    ),
    Metric(
        "vedette.schedule.dispatched",
        "counter",
        "Scheduled runs handed to their framework",
        ("schedule",),
    ),
    Metric(
        "vedette.schedule.lateness",
        "histogram",
        "How long after its due time a run was handed to its framework",
        ("schedule",),
        unit="s",
        buckets=LATENESS_BUCKETS,
    ),
    Metric(
        "vedette.schedule.skipped",
        "counter",
        "Runs the entry's missed-run policy did not send (reason: missed)",
        ("schedule", "reason"),
    ),
    Metric(
        "vedette.schedule.leader_changes",
        "counter",
        "Times this process became the schedule's leader",
        ("schedule",),
    ),
    Metric(
        "vedette.schedule.leases_lost",
        "counter",
        "Times this process stopped leading: its lease was taken or not renewed in time",
        ("schedule",),
    ),
    Metric(
        "vedette.schedule.leading",
        "gauge",
        "1 while this process leads the schedule, else 0",
        ("schedule",),
        multiprocess_mode="livesum",
    ),
)
"""Every metric the core and the adapters record; docs/operations.md has the same table."""
