"""``vedette status URL``: the master, the replicas with their lag, each Sentinel's view.

Without options it prints tables. ``--json`` prints the same as one JSON object, with the
deployment's health and what is wrong with it; ``--check`` prints the health in one line and
exits with its code, for a monitoring job (a Kubernetes exec probe, cron, Nagios):

- `HEALTHY` (0): every Sentinel and replica answers, and nothing is flagged.
- `DEGRADED` (1): the master works, but something a failover relies on does not (a Sentinel
  unreachable, behind or disagreeing; a replica down or disconnected; no replica at all; a
  failover in progress).
- `FAILING` (2): no usable master (no Sentinel reachable, the master they name does not answer
  as one, the service unknown), or most Sentinels that answer name another master.
- `UNKNOWN` (3): the check could not run: a bad URL or option (click's usage errors exit 2
  otherwise), credentials or a command refused.

Nagios's plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), so that 2 always means
failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import click
import redis

from vedette.address import Address
from vedette.cli._options import quiet_discovery, reported_errors, url_argument
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import MasterNotFoundError
from vedette.failures import classify
from vedette.sentinel.discovery import Discovery, Topology
from vedette.servers.clients import command, redis_client, sentinel_client

HEALTHY, DEGRADED, FAILING, UNKNOWN = 0, 1, 2, 3
"""``status --check``'s exit codes."""

Health = Literal["healthy", "degraded", "failing"]
"""The health ``status --json`` and ``--check`` report."""
_CODES: dict[Health, int] = {"healthy": HEALTHY, "degraded": DEGRADED, "failing": FAILING}
_INFO_REFUSED = "INFO refused"
# Flags with which a Sentinel marks a replica it would not promote.
_UNUSABLE_REPLICA = ("s_down", "o_down", "disconnected")


class _Unknown(click.ClickException):
    """An error that kept ``status --check`` from telling the health (refused credentials)."""

    exit_code = UNKNOWN


class _UnknownUsage(click.UsageError):
    """A usage error of ``status --check``: click's exit status 2 would read as `FAILING`."""

    exit_code = UNKNOWN


class _StatusCommand(click.Command):
    """With ``--check``, a usage error exits `UNKNOWN`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        checking = "--check" in args  # before parsing: the parser consumes ``args``
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            if not checking:
                raise
            raise _UnknownUsage(error.format_message(), error.ctx) from None


_EXIT_STATUS = """\b
Exit status with --check (Nagios's convention; 2 is never a usage error then):
  0  healthy
  1  degraded: the master works; a Sentinel or a replica is down or flagged,
     there is no replica, or a failover is under way
  2  failing: no usable master, or most Sentinels that answer name another
  3  unknown: a bad URL or option, credentials or a command refused
Without --check: 0, or 1 when no usable master was found (or on an error).
"""


@click.command(cls=_StatusCommand, epilog=_EXIT_STATUS)
@url_argument
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: the master, the Sentinels, the replicas, the health and its "
    "problems.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Print the health in one line (with --json: the object instead) and exit with its "
    "code, below.",
)
@click.pass_context
def status(ctx: click.Context, config: SentinelConfig, as_json: bool, check: bool) -> None:
    """Show the master, the replicas with their lag, and each Sentinel's view.

    As tables; with --json as one JSON object, with the health ("healthy", "degraded" or
    "failing") and its problems; with --check as one line, exiting with the health's code.
    """
    if not (as_json or check):
        with reported_errors():
            found = _look(config, tolerate_no_master=False)
        _print_tables(found)
        return
    with reported_errors(_Unknown if check else click.ClickException), quiet_discovery():
        found = _look(config, tolerate_no_master=True)
    health, problems = _health(found)
    if as_json:
        click.echo(json.dumps(_document(found, health, problems)))
    else:
        click.echo(_summary(found, health, problems))
    if check:
        ctx.exit(_CODES[health])
    if found.topology is None:
        ctx.exit(1)


@dataclass(frozen=True, slots=True)
class _SentinelView:
    """What one Sentinel says of the service, or why it says nothing."""

    address: Address
    reachable: bool = True
    master: Address | None = None
    epoch: int | None = None
    flags: tuple[str, ...] = ()
    other_sentinels: int | None = None
    quorum: int | None = None
    replicas: tuple[dict[str, str], ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _ReplicaView:
    """A replica a Sentinel lists, as it answers itself (``INFO``)."""

    address: Address
    flags: tuple[str, ...]
    link: str | None  # its own link status (up, down), or the Sentinel's (ok, err) without INFO
    lag_bytes: int | None = None
    last_io_seconds: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    """Everything ``status`` looked at."""

    config: SentinelConfig
    topology: Topology | None
    no_master: str  # why there is no topology
    master_problem: str  # why the master's INFO failed
    sentinels: tuple[_SentinelView, ...]
    replicas: tuple[_ReplicaView, ...]


def _look(config: SentinelConfig, *, tolerate_no_master: bool) -> _Found:
    """Ask every Sentinel, the master and every replica, a few at a time."""
    no_master = ""
    topology: Topology | None = None
    with Discovery(config) as discovery:
        try:
            topology = discovery.discover(every_sentinel=True)
        except MasterNotFoundError as error:
            if not tolerate_no_master:
                raise
            no_master = str(error).splitlines()[0]
        known = (*discovery.sentinels, *(topology.sentinels if topology else ()))
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="vedette-status") as pool:
        asked = pool.map(lambda address: _sentinel_view(config, address), dict.fromkeys(known))
        offset, master_problem = _master_offset(config, topology.master) if topology else (None, "")
        sentinels = tuple(asked)
        entries = _replica_entries(sentinels, topology)
        replicas = tuple(pool.map(lambda entry: _replica_view(config, entry, offset), entries))
    return _Found(config, topology, no_master, master_problem, sentinels, replicas)


def _master_offset(config: SentinelConfig, master: Address) -> tuple[int | None, str]:
    client = redis_client(config, master, protocol=2)
    try:
        info = client.info("replication")
        return int(info["master_repl_offset"]), ""
    except redis.exceptions.NoPermissionError:
        return None, _INFO_REFUSED
    except redis.RedisError as error:
        return None, classify(error)[1]
    finally:
        client.close()


def _fields(reply: Sequence[Any]) -> dict[str, str]:
    return {str(reply[i]): str(reply[i + 1]) for i in range(0, len(reply) - 1, 2)}


def _flags(text: str) -> tuple[str, ...]:
    return tuple(flag for flag in text.split(",") if flag)


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _sentinel_view(config: SentinelConfig, address: Address) -> _SentinelView:
    client = sentinel_client(config, address)
    try:
        pipeline = client.pipeline(transaction=False)
        command(pipeline, "SENTINEL", "MASTER", config.service_name)
        command(pipeline, "SENTINEL", "REPLICAS", config.service_name)
        master, replicas = pipeline.execute()
    except redis.RedisError as error:
        kind, reason = classify(error)
        return _SentinelView(address, reachable=kind != "unreachable", error=reason)
    finally:
        client.close()
    state = _fields(master)
    return _SentinelView(
        address,
        master=config.nat.translate(Address(state["ip"], int(state["port"]))),
        epoch=_number(state.get("config-epoch")),
        flags=_flags(state.get("flags", "")),
        other_sentinels=_number(state.get("num-other-sentinels")),
        quorum=_number(state.get("quorum")),
        replicas=tuple(map(_fields, replicas)),
    )


def _replica_entries(
    sentinels: Iterable[_SentinelView], topology: Topology | None
) -> tuple[dict[str, str], ...]:
    """Every replica a Sentinel lists (healthy or not), from the first that names the master."""
    answering = [view for view in sentinels if view.error is None]
    naming = [view for view in answering if topology and view.master == topology.master]
    return next(iter(view.replicas for view in [*naming, *answering]), ())


def _replica_view(
    config: SentinelConfig, entry: dict[str, str], master_offset: int | None
) -> _ReplicaView:
    address = config.nat.translate(Address(entry["ip"], int(entry["port"])))
    flags = _flags(entry.get("flags", ""))
    client = redis_client(config, address, protocol=2)
    try:
        info = client.info("replication")
    except redis.exceptions.NoPermissionError:  # the Sentinel's view of its link instead
        return _ReplicaView(address, flags, entry.get("master-link-status"))
    except redis.RedisError as error:
        return _ReplicaView(address, flags, None, error=classify(error)[1])
    finally:
        client.close()
    offset = info.get("slave_repl_offset")
    last_io = info.get("master_last_io_seconds_ago")
    return _ReplicaView(
        address,
        flags,
        str(info.get("master_link_status", info.get("role", "?"))),
        None if master_offset is None or offset is None else max(0, master_offset - int(offset)),
        None if last_io is None else int(last_io),
    )


def _health(found: _Found) -> tuple[Health, list[str]]:
    """How the deployment is, and why: what makes it failing first, then degraded."""
    failing: list[str] = []
    degraded: list[str] = []
    topology, views = found.topology, found.sentinels
    master = topology.master if topology else None
    if topology is None:
        failing.append(found.no_master)
    else:
        naming = sum(view.master == master for view in views)
        answering = sum(view.error is None for view in views)
        if naming * 2 <= answering:  # most Sentinels that answer name another master
            failing.append(f"only {naming} of {answering} Sentinels answering name master {master}")
        elif naming * 2 <= len(views):  # the master works; a failover could not be elected
            degraded.append(
                f"only {naming} of {len(views)} Sentinels name master {master}: too few to "
                "elect a failover"
            )
        quorum = max((view.quorum for view in views if view.quorum is not None), default=0)
        if naming < quorum:
            degraded.append(
                f"{naming} Sentinels name master {master}, fewer than its quorum ({quorum}): "
                "its failure would go unnoticed"
            )
        if topology.failover_in_progress:
            degraded.append(f"a failover of master {master} is in progress")
        if topology.master_down:
            degraded.append(f"the Sentinels flag master {master} down (o_down)")
        if found.master_problem not in ("", _INFO_REFUSED):
            degraded.append(f"master {master} {found.master_problem}")
        if not found.replicas:
            degraded.append(f"master {master} has no replica: a failover could promote none")
    newest = max((view.epoch for view in views if view.epoch is not None), default=None)
    for view in views:
        degraded.extend(_sentinel_problems(view, master, len(views), newest))
    for replica in found.replicas:
        degraded.extend(_replica_problems(replica))
    health: Health = "failing" if failing else "degraded" if degraded else "healthy"
    return health, failing + degraded


def _sentinel_problems(
    view: _SentinelView, master: Address | None, sentinels: int, newest: int | None
) -> list[str]:
    name = f"Sentinel {view.address}"
    if view.error is not None:
        return [f"{name} {view.error}"]
    problems = []
    if master is not None and view.master != master:
        problems.append(f"{name} names {view.master} as master")
    flagged = [flag for flag in view.flags if flag != "master"]
    if flagged:
        problems.append(f"{name} flags master {view.master} {','.join(flagged)}")
    if newest is not None and view.epoch is not None and view.epoch < newest:
        problems.append(f"{name} is at config epoch {view.epoch}, behind {newest}")
    if view.other_sentinels is not None and view.other_sentinels < sentinels - 1:
        problems.append(f"{name} knows {view.other_sentinels} other Sentinels of {sentinels - 1}")
    return problems


def _replica_problems(replica: _ReplicaView) -> list[str]:
    name = f"replica {replica.address}"
    problems = []
    flagged = [flag for flag in replica.flags if flag in _UNUSABLE_REPLICA]
    if flagged:
        problems.append(f"{name} flagged {','.join(flagged)} by the Sentinels")
    if replica.error is not None:
        problems.append(f"{name} {replica.error}")
    elif replica.link not in ("up", "ok"):
        problems.append(f"{name}: its link to the master is {replica.link}")
    return problems


def _summary(found: _Found, health: Health, problems: list[str]) -> str:
    """``status --check``'s line: the health, the service, and the problems (or the counts)."""
    service = f"service {found.config.service_name!r}"
    if found.topology is not None:
        service += f", master {found.topology.master}"
    if not problems:
        replicas = len(found.replicas)
        problems = [
            f"{len(found.sentinels)} Sentinels agree, "
            f"{replicas} replica{'' if replicas == 1 else 's'} in sync"
        ]
    return f"{health.upper()}: {service}: {'; '.join(problems)}"


def _document(found: _Found, health: Health, problems: list[str]) -> dict[str, Any]:
    """``status --json``'s object."""
    topology = found.topology
    return {
        "service": found.config.service_name,
        "master": None
        if topology is None
        else {
            "address": str(topology.master),
            "config_epoch": topology.config_epoch,
            "agreeing": topology.agreeing,
            "asked": topology.asked,
            "failover_in_progress": topology.failover_in_progress,
        },
        "sentinels": [
            {
                "address": str(view.address),
                "reachable": view.reachable,
                "master": None if view.master is None else str(view.master),
                "epoch": view.epoch,
                "flags": list(view.flags),
                "other_sentinels": view.other_sentinels,
                "error": view.error,
            }
            for view in found.sentinels
        ],
        "replicas": [
            {
                "address": str(replica.address),
                "flags": list(replica.flags),
                "link": {"ok": "up", "err": "down"}.get(replica.link or "", replica.link),
                "lag_bytes": replica.lag_bytes,
                "last_io_seconds": replica.last_io_seconds,
                "error": replica.error,
            }
            for replica in found.replicas
        ],
        "health": health,
        "problems": problems,
    }


def _print_tables(found: _Found) -> None:
    topology = found.topology
    assert topology is not None  # a lookup that found no master raised
    click.echo(
        f"service {found.config.service_name!r}: master {topology.master} "
        f"(config epoch {topology.config_epoch}; {topology.agreeing} of {topology.asked} "
        f"Sentinels asked agree{'; failover in progress' if topology.failover_in_progress else ''})"
    )
    if found.master_problem == _INFO_REFUSED:
        # INFO is @dangerous: a least-privilege user cannot read offsets, the Sentinels can.
        click.echo(
            "replica lag unknown: this ACL user may not run INFO (links as the Sentinels see them)"
        )
    elif found.master_problem:
        click.echo(f"master: {found.master_problem}")
    click.echo()
    rows = [_sentinel_row(view) for view in found.sentinels]
    click.echo(_table(["SENTINEL", "MASTER", "EPOCH", "FLAGS", "OTHER SENTINELS"], rows))
    click.echo()
    rows = [_replica_row(replica) for replica in found.replicas]
    headers = ["REPLICA", "SENTINEL FLAGS", "LINK", "LAG (BYTES)", "LAST IO (S)"]
    click.echo(_table(headers, rows) if rows else "no replica")


def _shown(value: object, missing: str = "?") -> str:
    return missing if value is None else str(value)


def _sentinel_row(view: _SentinelView) -> list[str]:
    if view.error is not None:
        return [str(view.address), view.error, "", "", ""]
    return [
        str(view.address),
        _shown(view.master),
        _shown(view.epoch),
        ",".join(view.flags) or "?",
        _shown(view.other_sentinels),
    ]


def _replica_row(replica: _ReplicaView) -> list[str]:
    return [
        str(replica.address),
        ",".join(replica.flags) or "?",
        replica.error if replica.error is not None else _shown(replica.link),
        _shown(replica.lag_bytes, ""),
        _shown(replica.last_io_seconds, ""),
    ]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )
