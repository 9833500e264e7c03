"""The ``vedette`` command: look at a Sentinel deployment, watch it, drill a failover.

Commands (``vedette COMMAND --help`` tells more):

- ``status URL``: the master, the replicas with their lag, each Sentinel's view, as tables.
- ``watch URL``: the failover events, one line each, as they happen.
- ``failover URL``: a planned failover drill, with a write loop: how long writes paused.
- ``dev up`` / ``dev down``: a local cluster for development, left running between commands.
- ``schedule list|show|add|remove|pause|resume|run-now|next URL ...``: the schedule store.
- ``beat URL``: the scheduler of the store, for every framework whose adapter is installed.

Every ``URL`` is a ``redis+sentinel://`` URL (see `vedette.SentinelConfig.from_url`); it may also
come from ``$VEDETTE_URL``.
"""

from __future__ import annotations

import click

from vedette import __version__
from vedette.cli.beat import beat
from vedette.cli.dev import dev
from vedette.cli.drill import failover
from vedette.cli.schedule import schedule
from vedette.cli.status import status
from vedette.cli.watch import watch

__all__ = ["main"]


@click.group(help=__doc__.split("\n\n")[0] if __doc__ else None)
@click.version_option(__version__, prog_name="vedette")
def main() -> None:
    """The ``vedette`` command group."""


main.add_command(status)
main.add_command(watch)
main.add_command(failover)
main.add_command(dev)
main.add_command(schedule)
main.add_command(beat)
