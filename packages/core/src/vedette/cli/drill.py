"""``vedette failover URL``: a planned failover drill, measured with a write loop.

It writes 0, 1, 2 ... to a scratch list through `vedette.connect` (so with the URL's options,
``wait_replicas`` included), asks a Sentinel for ``SENTINEL FAILOVER``, waits for the switch and
for writes to flow to the new master, then compares what was acknowledged with what the new
master holds, read on a plain connection to the address the Sentinels announced (not through
the client under test, which could be on the wrong server). The scratch list is deleted
afterwards. It exits with status 1 if a write was lost.

While it waits it prints its progress to stderr (the request, the watcher's events, writes
resuming), with the seconds since the request; the report goes to stdout, as text or (``--json``)
as one JSON object.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import click
import redis

from vedette.address import Address
from vedette.cli._options import reported_errors, url_argument
from vedette.client.master import MasterPool, connect
from vedette.config.sentinel_config import SentinelConfig
from vedette.failures import classify
from vedette.sentinel.events import FailoverEvent, MasterSwitched
from vedette.servers.clients import command, redis_client, sentinel_client
from vedette.testing.writes import WriteLoop, WriteReport


@click.command()
@url_argument
@click.option("--yes", "-y", is_flag=True, help="Do not ask before failing over.")
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=0.001,
    show_default=True,
    help="Seconds between two writes of the drill.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the switch and for writes to resume.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the report as one JSON object (old, new, switch_seconds, "
    "first_write_after_switch_ms, longest_pause_ms, acknowledged, attempted, lost, duplicated, "
    "failed, errors), and nothing else on stdout.",
)
def failover(config: SentinelConfig, yes: bool, pace: float, timeout: float, as_json: bool) -> None:
    """Fail the master over on purpose and report how long writes paused.

    Progress goes to stderr while it waits; the report to stdout. Exits with status 1 if an
    acknowledged write was lost.
    """
    with reported_errors(), connect(config) as client:
        pool = client.connection_pool
        assert isinstance(pool, MasterPool)
        old = pool.master_address()
        if not yes:
            click.confirm(
                f"Fail over master {old} of service {config.service_name!r} now?",
                abort=True,
                err=True,  # stdout is the report's
            )
        switched = _SwitchTime()
        unsubscribe = pool.watcher.subscribe(switched.on_event)
        key = f"vedette:drill:{uuid.uuid4().hex}"
        try:
            with WriteLoop(lambda n: client.rpush(key, n), pace=pace) as loop:
                loop.wait_for_acks(50, after=0, timeout=timeout)
                switched.asked = time.monotonic()
                _ask_for_failover(config, old, switched.say)
                at = switched.wait(timeout)
                if at is None:
                    raise click.ClickException(f"no master switch within {timeout:g} s")
                loop.wait_for_acks(1, after=at, timeout=timeout)
                switched.say(f"writes resumed on {switched.new}")
                loop.wait_for_acks(50, after=at, timeout=timeout)
            report = loop.report(_stored(config, switched.new_master, key))
        finally:
            unsubscribe()
            client.delete(key)
        first = loop.first_ack_after(at)
        since, switch = None if first is None else first - at, at - switched.asked
        if as_json:
            shown = _document(config.service_name, old, switched.new, switch, since, report)
            click.echo(json.dumps(shown))
        else:
            _print_report(old, switched.new, switch, since, report)
    if report.lost:
        raise SystemExit(1)


class _SwitchTime:
    """The monotonic time the watcher reported the master switch; the events, as progress."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.asked: float | None = None
        """When the failover was asked for: events are shown from then on."""
        self.at = 0.0
        self.new = ""
        self.new_master: Address | None = None

    def say(self, text: str) -> None:
        """One line of progress on stderr, with the seconds since the failover was asked for."""
        if self.asked is not None:
            click.echo(f"{time.monotonic() - self.asked:6.2f} s  {text}", err=True)

    def on_event(self, event: FailoverEvent) -> None:
        self.say(event.describe())
        if isinstance(event, MasterSwitched) and not self._event.is_set():
            self.at, self.new, self.new_master = time.monotonic(), str(event.new), event.new
            self._event.set()

    def wait(self, timeout: float) -> float | None:
        return self.at if self._event.wait(timeout) else None


def _stored(config: SentinelConfig, master: Address | None, key: str) -> list[int]:
    """The drill's list as the new master holds it, read on a plain connection to it."""
    assert master is not None  # the switch was seen
    client = redis_client(config, master, protocol=2)
    try:
        return [int(n) for n in client.lrange(key, 0, -1)]
    finally:
        client.close()


def _ask_for_failover(config: SentinelConfig, old: Address, say: Callable[[str], None]) -> None:
    """``SENTINEL FAILOVER`` on the first Sentinel that accepts it, saying whom it asks.

    Said before asking: the Sentinel publishes the failover's first event before it replies.
    """
    problems = []
    for address in config.sentinels:
        say(f"asking Sentinel {address} for a failover of master {old}")
        client = sentinel_client(config, address)
        try:
            command(client, "SENTINEL", "FAILOVER", config.service_name)
            return
        except redis.ResponseError as error:  # NOGOODSLAVE, INPROG: the others say the same
            raise click.ClickException(
                f"Sentinel {address} refused the failover: {error}"
            ) from None
        except redis.RedisError as error:
            problems.append(f"{address} {classify(error)[1]}")
        finally:
            client.close()
    raise click.ClickException("no Sentinel took the failover: " + "; ".join(problems))


def _document(
    service: str, old: object, new: str, switch: float, first: float | None, report: WriteReport
) -> dict[str, Any]:
    """``failover --json``'s object: the report's numbers (times in seconds or milliseconds)."""
    return {
        "service": service,
        "old": str(old),
        "new": new,
        "switch_seconds": round(switch, 3),
        "first_write_after_switch_ms": None if first is None else round(first * 1000, 1),
        "longest_pause_ms": round(report.longest_pause * 1000, 1),
        "acknowledged": report.acknowledged,
        "attempted": report.attempted,
        "lost": len(report.lost),
        "duplicated": len(report.duplicated),
        "failed": len(report.errors),
        "errors": sorted(set(report.errors)),
    }


def _print_report(
    old: object, new: str, switch: float, first: float | None, report: WriteReport
) -> None:
    resumed = "never" if first is None else f"{first * 1000:.1f} ms after the switch"
    click.echo(f"master {old} -> {new}: switch announced {switch:.2f} s after the request")
    click.echo(f"longest write pause: {report.longest_pause * 1000:.0f} ms; first write {resumed}")
    click.echo(
        f"writes: {report.acknowledged} acknowledged of {report.attempted}, "
        f"{len(report.lost)} lost, {len(report.duplicated)} duplicated, "
        f"{len(report.errors)} failed"
    )
    for error in sorted(set(report.errors))[:5]:
        click.echo(f"  error: {error}")
