"""``vedette watch URL``: the failover event stream, one line per event."""

from __future__ import annotations

import click

from vedette.cli._options import reported_errors, url_argument
from vedette.config import SentinelConfig
from vedette.events import FailoverEvent
from vedette.watcher import FailoverWatcher


def line(event: FailoverEvent) -> str:
    """One event as a line: UTC time to the millisecond, then what happened."""
    return f"{event.at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"Z  {event.describe()}"


@click.command()
@url_argument
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds without an event.",
)
def watch(config: SentinelConfig, count: int | None, timeout: float | None) -> None:
    """Print failover events as they happen (master switches, failovers, lost Sentinels).

    Runs until interrupted (Ctrl-C), or as --count and --timeout say.
    """
    with reported_errors(), FailoverWatcher(config) as watcher:
        master = watcher.wait_for_master(timeout=config.retry_deadline)
        click.echo(
            f"watching service {config.service_name!r}: master {master or 'not known yet'}, "
            f"{len(watcher.sentinels)} Sentinels",
        )
        seen = 0
        try:
            for event in watcher.events(timeout=timeout):
                click.echo(line(event))
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            pass
