"""``vedette failover URL``: a planned failover drill, measured with a write loop.

It writes 0, 1, 2 ... to a scratch list through `vedette.connect` (so with the URL's options,
``wait_replicas`` included), asks a Sentinel for ``SENTINEL FAILOVER``, waits for the switch and
for writes to flow to the new master, then compares what was acknowledged with what the new
master holds, read on a plain connection to the address the Sentinels announced (not through
the client under test, which could be on the wrong server). The scratch list is deleted
afterwards. It exits with status 1 if a write was lost.
"""

from __future__ import annotations

import threading
import time
import uuid

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
def failover(config: SentinelConfig, yes: bool, pace: float, timeout: float) -> None:
    """Fail the master over on purpose and report how long writes paused."""
    with reported_errors(), connect(config) as client:
        pool = client.connection_pool
        assert isinstance(pool, MasterPool)
        old = pool.master_address()
        if not yes:
            click.confirm(
                f"Fail over master {old} of service {config.service_name!r} now?", abort=True
            )
        switched = _SwitchTime()
        unsubscribe = pool.watcher.subscribe(switched.on_event)
        key = f"vedette:drill:{uuid.uuid4().hex}"
        try:
            with WriteLoop(lambda n: client.rpush(key, n), pace=pace) as loop:
                loop.wait_for_acks(50, after=0, timeout=timeout)
                asked = time.monotonic()
                _ask_for_failover(config)
                at = switched.wait(timeout)
                if at is None:
                    raise click.ClickException(f"no master switch within {timeout:g} s")
                loop.wait_for_acks(50, after=at, timeout=timeout)
            report = loop.report(_stored(config, switched.new_master, key))
        finally:
            unsubscribe()
            client.delete(key)
        first = loop.first_ack_after(at)
        _print_report(old, switched.new, at - asked, None if first is None else first - at, report)
    if report.lost:
        raise SystemExit(1)


class _SwitchTime:
    """The monotonic time the watcher reported the master switch."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.at = 0.0
        self.new = ""
        self.new_master: Address | None = None

    def on_event(self, event: FailoverEvent) -> None:
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


def _ask_for_failover(config: SentinelConfig) -> None:
    """``SENTINEL FAILOVER`` on the first Sentinel that accepts it."""
    problems = []
    for address in config.sentinels:
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
