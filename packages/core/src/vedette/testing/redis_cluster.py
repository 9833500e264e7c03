"""`LocalRedisCluster`: a Redis Cluster of real ``redis-server`` masters on loopback.

For the code that must also work on Redis Cluster (the schedule store keeps its keys in one hash
slot): three masters by default, no replicas, the 16384 slots split evenly.

Examples:
    >>> with LocalRedisCluster() as nodes:  # doctest: +SKIP
    ...     client = nodes.client()  # a redis.cluster.RedisCluster
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
from redis.cluster import RedisCluster

from vedette.address import Address
from vedette.testing._binary import find_redis_server
from vedette.testing._process import HOST, Node, free_ports
from vedette.testing.errors import ClusterError

__all__ = ["LocalRedisCluster"]

_SLOTS = 16384


class LocalRedisCluster:
    """Masters of a Redis Cluster, started, joined and given every slot; stopped on exit."""

    def __init__(
        self,
        *,
        masters: int = 3,
        redis_server: str | Path | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        """Describe the cluster; `start` (or ``with``) starts it.

        Args:
            masters: How many masters share the slots (at least 1).
            redis_server: The ``redis-server`` binary; found as `SentinelCluster` finds it.
            start_timeout: Seconds to wait for the cluster to report ``cluster_state:ok``.
        """
        if masters < 1:
            raise ValueError("a Redis Cluster needs at least one master")
        self.binary = find_redis_server(redis_server)
        self._count = masters
        self._start_timeout = start_timeout
        self._root: Path | None = None
        self._nodes: list[Node] = []
        self._client: RedisCluster | None = None

    def __enter__(self) -> LocalRedisCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def addresses(self) -> tuple[Address, ...]:
        """The masters' addresses."""
        return tuple(node.address for node in self._nodes)

    def start(self) -> None:
        """Start the masters, introduce them, share the slots and wait for a healthy cluster."""
        if self._root is not None:
            raise ClusterError("this cluster is already started")
        self._root = Path(tempfile.mkdtemp(prefix="vedette-redis-cluster-"))
        try:
            deadline = time.monotonic() + self._start_timeout
            ports = _cluster_ports(self._count)
            self._nodes = [
                Node(f"cluster-{i}", port, self._root / f"cluster-{i}-{port}", sentinel=False)
                for i, port in enumerate(ports)
            ]
            for node in self._nodes:
                node.directory.mkdir()
                node.config_file.write_text(
                    "\n".join(
                        [
                            f"port {node.port}",
                            f"bind {HOST}",
                            "protected-mode no",
                            "daemonize no",
                            "save ''",
                            "appendonly no",
                            "cluster-enabled yes",
                            "cluster-node-timeout 2000",
                            f"dir {node.directory}",
                            f"logfile {node.log_file}",
                        ]
                    )
                    + "\n"
                )
                node.start(self.binary)
            plain = [redis.Redis(HOST, node.port) for node in self._nodes]
            for node, client in zip(self._nodes, plain, strict=True):
                node.wait_ready(client, deadline)
            share = _SLOTS // self._count
            for index, client in enumerate(plain):
                last = _SLOTS if index == self._count - 1 else (index + 1) * share
                client.execute_command(  # type: ignore[no-untyped-call, unused-ignore]
                    "CLUSTER ADDSLOTS", *range(index * share, last)
                )
                for other in self._nodes[1:]:
                    if index == 0:
                        client.execute_command("CLUSTER MEET", HOST, other.port)  # type: ignore[no-untyped-call, unused-ignore]
            while not all(_healthy(client, self._count) for client in plain):
                if time.monotonic() > deadline:
                    raise ClusterError("the Redis Cluster did not become healthy in time")
                time.sleep(0.05)
            for client in plain:
                client.close()
        except BaseException:
            self.stop()
            raise

    def client(self) -> RedisCluster:
        """A ``redis.cluster.RedisCluster`` client of this cluster (one per cluster, reused)."""
        if self._client is None:
            if not self._nodes:
                raise ClusterError("the cluster is not started")
            self._client = RedisCluster(host=HOST, port=self._nodes[0].port)
        return self._client

    def stop(self) -> None:
        """Kill every node and remove its directory. Safe to call more than once."""
        if self._client is not None:
            self._client.close()
            self._client = None
        for node in self._nodes:
            node.kill()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (10000 higher, so at most 55535) is free too."""
    chosen: list[int] = []
    while len(chosen) < count:
        for port in free_ports(count * 4):
            if port <= 55535 and port not in chosen and _bindable(port + 10000):
                chosen.append(port)
            if len(chosen) == count:
                break
    return chosen


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _healthy(client: redis.Redis, masters: int) -> bool:
    info: Any = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call, unused-ignore]
    if not isinstance(info, dict):  # redis-py parses it into a dict; be sure
        text = info.decode() if isinstance(info, bytes) else str(info)
        info = dict(line.split(":", 1) for line in text.split() if ":" in line)
    fields = {str(key): str(value) for key, value in info.items()}
    return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(masters)
