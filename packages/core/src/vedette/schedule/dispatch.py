"""What a scheduler hands to a framework: a `Run`, sent by that framework's `Dispatcher`.

The Celery, Dramatiq and RQ adapters each register a dispatcher in the ``vedette.dispatchers``
entry-point group; the core imports no framework.
"""

from __future__ import annotations

import abc
import hashlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points

from vedette.errors import ConfigurationError
from vedette.schedule.entries import Entry
from vedette.schedule.timing import from_millis

__all__ = ["DISPATCHER_GROUP", "RUN_IDS", "Dispatcher", "Run", "installed_dispatchers", "run_id"]

DISPATCHER_GROUP = "vedette.dispatchers"
"""The entry-point group in which adapters register their dispatcher, named by framework."""

RUN_IDS = uuid.UUID("5f0c4bd4-2a57-4c8e-9a4e-8c6f0b1d7e21")
"""The namespace of run ids (`run_id`)."""
_NAMESPACE = RUN_IDS.bytes


def run_id(prefix: str, name: str, slot: int) -> str:
    """The id of an entry's run at ``slot`` (ms), the same in every scheduler.

    A UUID string, so every framework accepts it as a task, message or job id: the version 5
    UUID, in the `RUN_IDS` namespace, of prefix, name and slot joined by NUL characters;
    computed without ``uuid.UUID`` objects (a leader computes one per run).
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE + f"{prefix}\0{name}\0{slot}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest[:16].hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """One run of an entry, to be sent to its framework."""

    entry: Entry
    """The entry, with its target."""

    slot: int
    """The run's scheduled time, in milliseconds since the epoch: with the entry's name, what
    makes it this run and no other."""

    id: str
    """A deterministic id (`run_id`): the dispatcher gives it to the framework as the task,
    message or job id, so a run sent twice can be recognised."""

    late: bool = False
    """True for a missed run made up under the entry's missed-run policy."""

    recovered: bool = False
    """True if another scheduler claimed this run and stopped before recording it as sent: it
    may have been sent already (see `Dispatcher.dispatched`)."""

    @property
    def scheduled_for(self) -> datetime:
        """The scheduled time as an aware datetime (UTC)."""
        return from_millis(self.slot)


class Dispatcher(abc.ABC):
    """Sends runs to one framework."""

    @abc.abstractmethod
    def dispatch(self, run: Run) -> None:
        """Send ``run`` to its framework, with ``run.id`` as its id; raise if it was not sent.

        An exception leaves the run claimed: the scheduler tries it again (same id) on its next
        tick, and never skips it. ``run.entry`` is shared with the scheduler: read it, never
        change it (copy ``target.args`` or ``target.options`` before changing them).
        """

    def dispatched(self, run: Run) -> bool | None:
        """Whether a recovered run was already sent: True, False, or None if it cannot tell.

        Asked only for a run another scheduler claimed and did not record (it stopped between
        sending and recording). True records the run without sending it again. A framework that
        keeps what it was sent under the run's id (RQ's job hash) can answer exactly; None sends
        it again, with the same id.
        """
        return None

    def close(self) -> None:  # noqa: B027  # optional hook, nothing to do by default
        """Release what the dispatcher holds (connections); called when the scheduler stops."""


def installed_dispatchers(
    url: str, *, only: Collection[str] = (), leave_out: Collection[str] = ()
) -> dict[str, Dispatcher]:
    """A dispatcher per framework whose adapter is installed, each built for ``url``.

    Args:
        url: The ``redis+sentinel://`` URL of the service the frameworks use.
        only: These frameworks (each must be installed); default every installed one.
        leave_out: Frameworks the caller dispatches itself (``celery beat`` its own app).

    Raises:
        ConfigurationError: A framework in ``only`` has no dispatcher installed.
    """
    points = {point.name: point for point in entry_points(group=DISPATCHER_GROUP)}
    missing = sorted(set(only) - set(points))
    if missing:
        raise ConfigurationError(
            "framework",
            f"no dispatcher installed for {missing[0]!r} "
            f"(installed: {', '.join(sorted(points)) or 'none'})",
        )
    names = sorted(set(only or points) - set(leave_out))
    return {name: points[name].load()(url) for name in names}
