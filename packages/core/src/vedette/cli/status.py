"""``vedette status URL``: the master, the replicas with their lag, each Sentinel's view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
import redis

from vedette.address import Address
from vedette.cli._options import reported_errors, url_argument
from vedette.config.sentinel_config import SentinelConfig
from vedette.failures import classify
from vedette.sentinel.discovery import Discovery, Topology
from vedette.servers.clients import command, redis_client, sentinel_client


@click.command()
@url_argument
def status(config: SentinelConfig) -> None:
    """Show the master, the replicas with their lag, and each Sentinel's view, as tables."""
    with reported_errors(), Discovery(config) as discovery:
        topology = discovery.discover(every_sentinel=True)
    master_offset, master_problem = _master_offset(config, topology.master)
    click.echo(
        f"service {config.service_name!r}: master {topology.master} "
        f"(config epoch {topology.config_epoch}; {topology.agreeing} of {topology.asked} "
        f"Sentinels asked agree{'; failover in progress' if topology.failover_in_progress else ''})"
    )
    if master_problem == _INFO_REFUSED:
        # INFO is @dangerous: a least-privilege user cannot read offsets, the Sentinels can.
        click.echo(
            "replica lag unknown: this ACL user may not run INFO (links as the Sentinels see them)"
        )
    elif master_problem:
        click.echo(f"master: {master_problem}")
    click.echo()
    views = [_sentinel_view(config, address) for address in topology.sentinels]
    click.echo(_table(["SENTINEL", "MASTER", "EPOCH", "FLAGS", "OTHER SENTINELS"], views))
    click.echo()
    replicas = _replicas(config, topology)
    rows = [_replica_row(config, entry, master_offset) for entry in replicas]
    headers = ["REPLICA", "SENTINEL FLAGS", "LINK", "LAG (BYTES)", "LAST IO (S)"]
    click.echo(_table(headers, rows) if rows else "no replica")


_INFO_REFUSED = "INFO refused"


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


def _sentinel_view(config: SentinelConfig, address: Address) -> list[str]:
    client = sentinel_client(config, address)
    try:
        state = _fields(command(client, "SENTINEL", "MASTER", config.service_name))
    except redis.RedisError as error:
        return [str(address), classify(error)[1], "", "", ""]
    finally:
        client.close()
    master = config.nat.translate(Address(state["ip"], int(state["port"])))
    return [
        str(address),
        str(master),
        state.get("config-epoch", "?"),
        state.get("flags", "?"),
        state.get("num-other-sentinels", "?"),
    ]


def _replicas(config: SentinelConfig, topology: Topology) -> list[dict[str, str]]:
    """Every replica a Sentinel lists (healthy or not), from the first that answers."""
    for address in topology.sentinels:
        client = sentinel_client(config, address)
        try:
            return [
                _fields(entry)
                for entry in command(client, "SENTINEL", "REPLICAS", config.service_name)
            ]
        except redis.RedisError:
            continue
        finally:
            client.close()
    return []


def _replica_row(
    config: SentinelConfig, entry: dict[str, str], master_offset: int | None
) -> list[str]:
    address = config.nat.translate(Address(entry["ip"], int(entry["port"])))
    client = redis_client(config, address, protocol=2)
    try:
        info = client.info("replication")
    except redis.exceptions.NoPermissionError:  # the Sentinel's view of its link instead
        return [str(address), entry.get("flags", "?"), entry.get("master-link-status", "?"), "", ""]
    except redis.RedisError as error:
        return [str(address), entry.get("flags", "?"), classify(error)[1], "", ""]
    finally:
        client.close()
    offset = info.get("slave_repl_offset")
    lag = (
        "" if master_offset is None or offset is None else str(max(0, master_offset - int(offset)))
    )
    return [
        str(address),
        entry.get("flags", "?"),
        str(info.get("master_link_status", info.get("role", "?"))),
        lag,
        str(info.get("master_last_io_seconds_ago", "")),
    ]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )
