"""``vedette schedule ...``: read and change the schedule store (docs/schedule-schema.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any, BinaryIO

import click
import redis

from vedette.cli._options import ask_sentinels, reported_errors, url_argument
from vedette.client.master import connect
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import ConfigurationError
from vedette.schedule import (
    DEFAULT_PREFIX,
    DISPATCHER_GROUP,
    Crontab,
    Entry,
    ScheduleStore,
    StoredEntry,
    _limits,
    entry_from_document,
    entry_to_document,
)
from vedette.schedule.redbeat import DEFAULT_REDBEAT_PREFIX, read_redbeat

prefix_option = click.option(
    "--prefix",
    default=DEFAULT_PREFIX,
    show_default=True,
    envvar="VEDETTE_SCHEDULE_PREFIX",
    help="The store's key prefix.",
)


@contextmanager
def opened(config: SentinelConfig, prefix: str) -> Iterator[ScheduleStore]:
    """The store on the service's master, its client closed afterwards; errors in one line.

    The Sentinels are asked first, as ``vedette status`` does: with none reachable, a wrong
    service name or refused credentials, the command fails at once instead of retrying its
    first command for ``retry_deadline``.
    """
    with reported_errors():
        ask_sentinels(config)
        client = connect(config)
        try:
            yield ScheduleStore(client, prefix=prefix)
        finally:
            client.close()


def installed_frameworks() -> set[str]:
    """The frameworks a dispatcher is installed for (``vedette.dispatchers`` entry points)."""
    return {point.name for point in entry_points(group=DISPATCHER_GROUP)}


def _iso(stored: StoredEntry, field: str) -> str | None:
    moment = getattr(stored, field)
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def as_json(stored: StoredEntry) -> dict[str, Any]:
    """An entry and its history as JSON: the document, then what the store knows of it."""
    document: dict[str, Any] = (
        {"name": stored.name} if stored.entry is None else entry_to_document(stored.entry)
    )
    return {
        **document,
        "next_run": _iso(stored, "next_run"),
        "last_run": _iso(stored, "last_run"),
        "runs": stored.runs,
        "last_error": stored.last_error,
        "problem": stored.problem,
    }


@click.group()
def schedule() -> None:
    """Read and change the schedule store: entries for Celery, Dramatiq and RQ."""


@schedule.command("list")
@url_argument
@prefix_option
@click.option("--json", "as_json_lines", is_flag=True, help="One JSON object per entry.")
def list_entries(config: SentinelConfig, prefix: str, as_json_lines: bool) -> None:
    """Every entry, the next to run first: name, next run, runs, target."""
    with opened(config, prefix) as store:
        for stored in store.entries():
            if as_json_lines:
                click.echo(json.dumps(as_json(stored)))
                continue
            name = _limits.printable(stored.name)
            if stored.entry is None:
                click.echo(f"{name}  UNREADABLE: {stored.problem}")
                continue
            target = stored.entry.target
            state = "paused" if not stored.entry.enabled else _iso(stored, "next_run") or "done"
            click.echo(
                f"{name}  {state}  runs={stored.runs}  "
                f"{target.framework}:{target.name}"
                + (f"  error: {stored.last_error}" if stored.last_error else "")
            )


@schedule.command()
@url_argument
@click.argument("name")
@prefix_option
def show(config: SentinelConfig, name: str, prefix: str) -> None:
    """One entry and its history, as indented JSON."""
    with opened(config, prefix) as store:
        stored = store.get(name)
        if stored is None:
            raise click.ClickException(f"no entry {name!r} in the store {prefix!r}")
        click.echo(json.dumps(as_json(stored), indent=2))  # ASCII: any name can be printed


@schedule.command()
@url_argument
@click.argument("source", type=click.File("rb"), metavar="FILE|-")
@prefix_option
def add(config: SentinelConfig, source: BinaryIO, prefix: str) -> None:
    """Add entries from a JSON document, or a list of them (``-``: standard input).

    Every document is checked before any is written: a bad one is named and nothing is added.
    """
    entries = _read_entries(source)
    with opened(config, prefix) as store:
        for entry in entries:
            next_run = store.add(entry)
            when = "paused" if next_run is None else next_run.isoformat(timespec="milliseconds")
            click.echo(f"{entry.name}: next run {when}")


def _read_entries(source: BinaryIO) -> list[Entry]:
    """Every entry of the file, each checked as the inbox checks a document (limits included)."""
    where = _limits.printable(str(getattr(source, "name", "-")))
    try:
        loaded = _limits.parse_json(where, source.read())
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    documents = loaded if isinstance(loaded, list) else [loaded]
    if not documents:
        raise click.ClickException(f"{where}: holds an empty list: there is no entry to add")
    frameworks = installed_frameworks()
    entries = []
    for index, document in enumerate(documents):
        label: object = f"#{index}"
        if isinstance(document, dict) and isinstance(document.get("name"), str):
            label = _limits.printable(document["name"])
        try:
            entry = entry_from_document(document)
            if entry.target.framework not in frameworks:
                raise ConfigurationError(
                    "target.framework",
                    f"no dispatcher installed for {entry.target.framework!r} "
                    f"(installed: {', '.join(sorted(frameworks)) or 'none'})",
                )
        except ConfigurationError as error:
            raise click.ClickException(f"entry {_limits.short(label)}: {error}") from None
        entries.append(entry)
    return entries


def _change(verb: str, done: str) -> click.Command:
    """A command that changes one entry by name through ``ScheduleStore.<verb>``."""

    @url_argument
    @click.argument("name")
    @prefix_option
    def command(config: SentinelConfig, name: str, prefix: str) -> None:
        with opened(config, prefix) as store:
            if not getattr(store, verb)(name):
                raise click.ClickException(f"no entry {name!r} in the store {prefix!r}")
            click.echo(f"{name}: {done}")

    command.__doc__ = {
        "remove": "Delete an entry and its history.",
        "pause": "Stop an entry from running; it keeps its history.",
        "resume": "Let a paused entry run again, from its next run after now.",
        "run_now": "Dispatch one run of an entry at once; its schedule carries on.",
    }[verb]
    return click.command(verb.replace("_", "-"))(command)


for _verb, _done in (
    ("remove", "removed"),
    ("pause", "paused"),
    ("resume", "resumed"),
    ("run_now", "due now"),
):
    schedule.add_command(_change(_verb, _done))


@schedule.command("next")
@url_argument
@click.argument("name")
@prefix_option
@click.option("--count", type=click.IntRange(min=1, max=10_000), default=5, show_default=True)
def next_runs(config: SentinelConfig, name: str, prefix: str, count: int) -> None:
    """The entry's next run times, ISO 8601 with the offset of its zone."""
    with opened(config, prefix) as store:
        stored = store.get(name)
        if stored is None:
            raise click.ClickException(f"no entry {name!r} in the store {prefix!r}")
        if stored.entry is None:
            raise click.ClickException(f"entry {name!r} cannot be read: {stored.problem}")
        for run in store.next_runs(name, count):
            click.echo(run.isoformat())


@schedule.command("import-redbeat")
@url_argument
@prefix_option
@click.option(
    "--from",
    "source",
    metavar="URL",
    help="The Redis RedBeat uses (its redbeat_redis_url: redis://, rediss:// or "
    "redis+sentinel://); default the store's.",
)
@click.option(
    "--key-prefix",
    default=DEFAULT_REDBEAT_PREFIX,
    show_default=True,
    help="RedBeat's redbeat_key_prefix.",
)
@click.option(
    "--zone",
    default="UTC",
    show_default=True,
    help="The Celery app's timezone (IANA), in which RedBeat's crontab entries run.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be imported; write nothing.")
def import_redbeat(
    config: SentinelConfig,
    prefix: str,
    source: str | None,
    key_prefix: str,
    zone: str,
    dry_run: bool,
) -> None:
    """Copy RedBeat's entries into the store as Celery entries; RedBeat's keys stay as they are.

    Entries from beat_schedule are skipped: ``celery beat -S vedette`` writes those. Run history
    is not copied: each entry runs from its next time on. Exits with status 1 if an entry could
    not be imported (an rrule schedule, say); the others are imported all the same.
    """
    try:
        Crontab(cron="* * * * *", zone=zone)
    except ConfigurationError as error:
        raise click.BadParameter(error.problem, param_hint="--zone") from None
    with opened(config, prefix) as store:
        reader = store.client if source is None else _redis_client(source)
        try:
            found = read_redbeat(reader, key_prefix=key_prefix, zone=zone)
        finally:
            if reader is not store.client:
                reader.close()
        existing = set(store.names())
        if not dry_run:
            store.add_many(found.entries)
        verb = "would import" if dry_run else "imported"
        for entry in found.entries:
            replaced = " (replacing the store's entry)" if entry.name in existing else ""
            click.echo(f"{verb} {entry.name}{replaced}")
        for name in found.statics:
            click.echo(f"skipped {name}: from beat_schedule, which celery beat -S vedette writes")
        for name, problem in found.refused.items():
            click.echo(f"refused {name}: {problem}", err=True)
    if found.refused:
        raise click.ClickException(f"{len(found.refused)} RedBeat entries could not be imported")


def _redis_client(url: str) -> Any:
    """A client of the Redis at ``url``: a Sentinel service's master, or one server."""
    if url.partition("://")[0].lower().endswith("+sentinel"):
        return connect(SentinelConfig.from_url(url))
    try:
        return redis.Redis.from_url(url)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--from") from None
