"""The instruments, by name, as the core and the adapters record to them (see `catalog`)."""

from __future__ import annotations

from typing import TypeVar

from vedette.metrics.recorder import Counter, Gauge, Histogram, Instrument, instrument

__all__ = [
    "COMMANDS_RETRIED",
    "DISCOVERY_DURATION",
    "DRAMATIQ_RECONCILIATIONS",
    "FAILOVERS_ABORTED",
    "FAILOVERS_STARTED",
    "FAILOVER_HELD",
    "MASTER_SWITCHES",
    "OUTCOME_UNKNOWN",
    "RQ_CLAIMS_RECOVERED",
    "SCHEDULE_DISPATCHED",
    "SCHEDULE_LATENESS",
    "SCHEDULE_LEADER_CHANGES",
    "SCHEDULE_LEADING",
    "SCHEDULE_LEASES_LOST",
    "SCHEDULE_SKIPPED",
    "SCHEDULE_TICKS",
    "SENTINELS_REACHABLE",
    "WAIT_CONFIRMED",
    "WAIT_SHORTFALLS",
    "WORKER_RESUME",
]

InstrumentT = TypeVar("InstrumentT", bound=Instrument)


def _get(name: str, kind: type[InstrumentT]) -> InstrumentT:
    found = instrument(name)
    assert isinstance(found, kind), f"{name} is a {type(found).__name__}"
    return found


MASTER_SWITCHES = _get("vedette.failover.switches", Counter)
FAILOVERS_STARTED = _get("vedette.failover.started", Counter)
FAILOVERS_ABORTED = _get("vedette.failover.aborted", Counter)
SENTINELS_REACHABLE = _get("vedette.sentinels.reachable", Gauge)
DISCOVERY_DURATION = _get("vedette.discovery.duration", Histogram)
FAILOVER_HELD = _get("vedette.failover.held", Histogram)
COMMANDS_RETRIED = _get("vedette.commands.retried", Counter)
OUTCOME_UNKNOWN = _get("vedette.commands.outcome_unknown", Counter)
WAIT_CONFIRMED = _get("vedette.wait.confirmed", Counter)
WAIT_SHORTFALLS = _get("vedette.wait.shortfalls", Counter)
WORKER_RESUME = _get("vedette.worker.resume", Histogram)
DRAMATIQ_RECONCILIATIONS = _get("vedette.dramatiq.reconciliations", Counter)
"""Dramatiq acknowledgements a failover left unsure, reconciled (by ``vedette_dramatiq``)."""
RQ_CLAIMS_RECOVERED = _get("vedette.rq.claims_recovered", Counter)
"""RQ jobs a failover left unclaimed, run or put back (by ``vedette_rq``)."""
SCHEDULE_TICKS = _get("vedette.schedule.ticks", Counter)
SCHEDULE_DISPATCHED = _get("vedette.schedule.dispatched", Counter)
SCHEDULE_LATENESS = _get("vedette.schedule.lateness", Histogram)
SCHEDULE_SKIPPED = _get("vedette.schedule.skipped", Counter)
SCHEDULE_LEADER_CHANGES = _get("vedette.schedule.leader_changes", Counter)
SCHEDULE_LEASES_LOST = _get("vedette.schedule.leases_lost", Counter)
SCHEDULE_LEADING = _get("vedette.schedule.leading", Gauge)
