"""``vedette watch URL``: the failover event stream, one line per event."""

from __future__ import annotations

import click

from vedette.cli._options import reported_errors, url_argument
from vedette.config.sentinel_config import SentinelConfig
from vedette.sentinel.discovery import Discovery
from vedette.sentinel.events import FailoverEvent
from vedette.sentinel.watcher import FailoverWatcher


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

    Runs until interrupted (Ctrl-C), or as --count and --timeout say. A wrong service name,
    refused credentials or no reachable Sentinel fail at once, as for ``status``.
    """
    with reported_errors():
        with Discovery(config) as discovery:
            topology = discovery.discover()
        _watch_events(config, topology.master, len(topology.sentinels), count, timeout)


def _watch_events(
    config: SentinelConfig, master: object, sentinels: int, count: int | None, timeout: float | None
) -> None:
    """Print the events of a watcher started now, until --count or --timeout."""
    with FailoverWatcher(config) as watcher:
        click.echo(
            f"watching service {config.service_name!r}: master {master}, {sentinels} Sentinels"
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
