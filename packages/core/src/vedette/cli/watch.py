"""``vedette watch URL``: the failover event stream, one line (or one JSON object) per event."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any

import click

from vedette.address import Address
from vedette.cli._options import reported_errors, url_argument
from vedette.config.sentinel_config import SentinelConfig
from vedette.sentinel.discovery import Discovery
from vedette.sentinel.events import FailoverEvent
from vedette.sentinel.watcher import FailoverWatcher


def line(event: FailoverEvent) -> str:
    """One event as a line: UTC time to the millisecond, then what happened."""
    return f"{event.at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"Z  {event.describe()}"


def document(event: FailoverEvent) -> dict[str, Any]:
    """One event as a JSON object: its type, service and time, then its own fields.

    The time is ISO 8601 in UTC to the millisecond (``2026-11-21T11:40:02.512Z``), addresses are
    ``host:port`` strings, and a field the event does not know is ``null``.
    """
    shown: dict[str, Any] = {"type": type(event).__name__}
    for spec in fields(event):
        value = getattr(event, spec.name)
        if isinstance(value, datetime):
            value = f"{value.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"
        elif isinstance(value, Address):
            value = str(value)
        shown[spec.name] = value
    return shown


@click.command()
@url_argument
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds without an event.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each event as one JSON object per line (type, service, at, its fields), "
    "and nothing else.",
)
def watch(config: SentinelConfig, count: int | None, timeout: float | None, as_json: bool) -> None:
    """Print failover events as they happen (master switches, failovers, lost Sentinels).

    Runs until interrupted (Ctrl-C), or as --count and --timeout say. A wrong service name,
    refused credentials or no reachable Sentinel fail at once, as for ``status``.
    """
    with reported_errors():
        with Discovery(config) as discovery:
            topology = discovery.discover()
        header = (
            None
            if as_json
            else f"watching service {config.service_name!r}: master {topology.master}, "
            f"{len(topology.sentinels)} Sentinels"
        )
        _watch_events(config, header, count, timeout, as_json=as_json)


def _watch_events(
    config: SentinelConfig,
    header: str | None,
    count: int | None,
    timeout: float | None,
    *,
    as_json: bool,
) -> None:
    """Print the events of a watcher started now, until --count or --timeout."""
    with FailoverWatcher(config) as watcher:
        if header is not None:
            click.echo(header)
        seen = 0
        try:
            for event in watcher.events(timeout=timeout):
                click.echo(json.dumps(document(event)) if as_json else line(event))
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            pass
