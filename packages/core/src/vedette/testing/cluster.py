"""`SentinelCluster`: a real master, replicas and Sentinels on loopback, with fault helpers."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

import redis

from vedette.address import Address
from vedette.config.sentinel_config import SentinelConfig
from vedette.servers.clients import command
from vedette.testing._binary import find_redis_server
from vedette.testing._configs import Credentials, Timing, TLSFiles, redis_config, sentinel_config
from vedette.testing._process import Node, PortInUse, direct_client, free_ports
from vedette.testing._waiting import wait_until
from vedette.testing.errors import ClusterError

__all__ = ["ClusterFactory", "SentinelCluster"]


class SentinelCluster:
    """Real ``redis-server`` processes on free loopback ports: a master, replicas, Sentinels.

    Each process runs in its own temporary directory; all are killed and the directories removed
    on exit, also when the block raises (and, on Linux, when the test process itself is killed).
    Failure detection is fast (``down_after_ms`` defaults to 1 s) so failovers take ~2 s.

    Examples:
        >>> with SentinelCluster() as cluster:  # doctest: +SKIP
        ...     old = cluster.kill_master()
        ...     new = cluster.wait_for_switch(timeout=30)

    Args:
        service_name: The name the Sentinels monitor the master under.
        replicas: Number of replicas.
        sentinels: Number of Sentinels.
        quorum: Sentinels that must agree the master is down; default a majority.
        down_after_ms: Sentinel's ``down-after-milliseconds``.
        failover_timeout_ms: Sentinel's ``failover-timeout``.
        username: ACL user for Redis (the default user is then switched off). The cluster's own
            links (replication, the Sentinels' monitoring, `client`) then use an ACL user of
            their own, with every permission.
        password: Password for Redis (of ``username``, or ``requirepass``).
        user_rules: The ACL rules of ``username`` (on every key and channel), for example
            ``"+@all -@dangerous"``: a least-privilege application user.
        sentinel_username: ACL user for the Sentinels.
        sentinel_password: Password for the Sentinels.
        tls: Certificates with which every node speaks only TLS, with client certificates
            required (the binary must be built with TLS; see `supports_tls`).
        redis_server: The binary to run; default: see `find_redis_server`.
        start_timeout: Seconds the cluster may take to become healthy.
        detached: Let the processes outlive this Python process, in a session of their own
            (``vedette dev up``); `stop` still kills them. By default they die with it.
    """

    def __init__(
        self,
        *,
        service_name: str = "vedette",
        replicas: int = 1,
        sentinels: int = 3,
        quorum: int | None = None,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        username: str | None = None,
        password: str | None = None,
        user_rules: str = "+@all",
        sentinel_username: str | None = None,
        sentinel_password: str | None = None,
        tls: TLSFiles | None = None,
        redis_server: str | Path | None = None,
        start_timeout: float = 30.0,
        detached: bool = False,
    ) -> None:
        if replicas < 0 or sentinels < 1:
            raise ValueError("a cluster needs replicas >= 0 and sentinels >= 1")
        if user_rules != "+@all" and not username:
            raise ValueError("user_rules are the rules of username: set username too")
        quorum = sentinels // 2 + 1 if quorum is None else quorum
        if not 1 <= quorum <= sentinels:
            raise ValueError(f"quorum must be between 1 and {sentinels}, got {quorum}")
        self.service_name = service_name
        self.binary = find_redis_server(redis_server)
        self._credentials = Credentials(
            username,
            password,
            sentinel_username,
            sentinel_password,
            user_rules=user_rules,
            cluster_password=secrets.token_urlsafe(16) if username else None,
        )
        self.tls = tls
        self._timing = Timing(quorum, down_after_ms, failover_timeout_ms)
        self._replica_count = replicas
        self._sentinel_count = sentinels
        self._start_timeout = start_timeout
        self._detached = detached
        self._root: Path | None = None
        self._redis_nodes: list[Node] = []
        self._sentinel_nodes: list[Node] = []
        self._clients: dict[tuple[Address, bool], redis.Redis] = {}
        self._fault_master: Address | None = None
        self._killed_master: Node | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> SentinelCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start every process and wait until the Sentinels agree and the replicas are in sync."""
        if self._root is not None:
            raise ClusterError("this cluster is already started")
        self._root = Path(tempfile.mkdtemp(prefix="vedette-cluster-"))
        try:
            for attempt in range(3):
                try:
                    self._start_processes()
                    break
                except PortInUse:
                    if attempt == 2:
                        raise
                    self._kill_processes()
            self.wait_healthy(self._start_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every process and remove every directory. Safe to call more than once."""
        self._kill_processes()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _kill_processes(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for node in [*self._sentinel_nodes, *self._redis_nodes]:
            node.kill()

    def _start_processes(self) -> None:
        assert self._root is not None
        ports = free_ports(1 + self._replica_count + self._sentinel_count)
        self._redis_nodes = [
            Node(
                f"redis-{i}",
                port,
                self._root / f"redis-{i}-{port}",
                sentinel=False,
                detached=self._detached,
            )
            for i, port in enumerate(ports[: 1 + self._replica_count])
        ]
        self._sentinel_nodes = [
            Node(
                f"sentinel-{i}",
                port,
                self._root / f"sentinel-{i}-{port}",
                sentinel=True,
                detached=self._detached,
            )
            for i, port in enumerate(ports[1 + self._replica_count :])
        ]
        master, *replicas = self._redis_nodes
        for node in self._redis_nodes:
            node.directory.mkdir()
            node.config_file.write_text(
                redis_config(node, None if node is master else master, self._credentials, self.tls)
            )
        for index, node in enumerate(self._sentinel_nodes):
            node.directory.mkdir()
            peers = {i: peer for i, peer in enumerate(self._sentinel_nodes) if peer is not node}
            node.config_file.write_text(
                sentinel_config(
                    index,
                    node,
                    service_name=self.service_name,
                    master=master,
                    replicas=replicas,
                    peers=peers,
                    timing=self._timing,
                    credentials=self._credentials,
                    tls=self.tls,
                )
            )
        # In order: a replica that dials its master too early retries only a second later.
        deadline = time.monotonic() + self._start_timeout
        for group in ([master], replicas, self._sentinel_nodes):
            for node in group:
                node.start(self.binary)
            for node in group:
                node.wait_ready(self._client_for(node), deadline)

    # --- what users connect with ----------------------------------------------------------------

    @property
    def sentinel_addresses(self) -> tuple[Address, ...]:
        """The Sentinels' addresses, in order (``stop_sentinel(i)`` uses the same index)."""
        return tuple(node.address for node in self._sentinel_nodes)

    @property
    def redis_addresses(self) -> tuple[Address, ...]:
        """Every Redis node's address, whatever its role now."""
        return tuple(node.address for node in self._redis_nodes)

    @property
    def url(self) -> str:
        """The cluster's ``redis+sentinel://`` URL (``rediss+`` with TLS), secrets included."""
        creds = self._credentials
        userinfo = ""
        if creds.username or creds.password:
            userinfo = (
                f"{quote(creds.username or '', safe='')}:{quote(creds.password or '', safe='')}@"
            )
        tls = self.tls
        options = [
            f"{name}={quote(value, safe='')}"
            for name, value in (
                ("sentinel_username", creds.sentinel_username),
                ("sentinel_password", creds.sentinel_password),
                ("ssl_ca_certs", tls and tls.ca_file),
                ("ssl_certfile", tls and tls.cert_file),
                ("ssl_keyfile", tls and tls.key_file),
            )
            if value
        ]
        scheme = "redis+sentinel" if tls is None else "rediss+sentinel"
        hosts = ",".join(map(str, self.sentinel_addresses))
        query = f"?{'&'.join(options)}" if options else ""
        return f"{scheme}://{userinfo}{hosts}/{quote(self.service_name, safe='')}{query}"

    @property
    def config(self) -> SentinelConfig:
        """`SentinelConfig` for this cluster (the same as ``SentinelConfig.from_url(url)``)."""
        return SentinelConfig.from_url(self.url)

    @property
    def directory(self) -> Path | None:
        """The temporary directory holding every node's files and logs; None when stopped."""
        return self._root

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the running servers."""
        return tuple(
            node.process.pid
            for node in [*self._redis_nodes, *self._sentinel_nodes]
            if node.process is not None and node.running
        )

    def log_file(self, address: Address) -> Path:
        """The log file of the Redis node or Sentinel at ``address``."""
        return self._node_at(address).log_file

    def client(self, address: Address | None = None) -> redis.Redis:
        """A plain (not Sentinel-aware) client for one Redis node; default: the current master.

        It may run every command (with ``username`` set, as the cluster's own ACL user).
        """
        node = self._node_at(address or self.master_address())
        return self._client_for(node)

    def sentinel(self, index: int) -> redis.Redis:
        """A client for Sentinel ``index`` (replies decoded to ``str``)."""
        return self._client_for(self._sentinel_nodes[index])

    def _client_for(self, node: Node) -> redis.Redis:
        key = (node.address, node.sentinel)
        if key not in self._clients:
            creds = self._credentials
            username, password = creds.internal()
            self._clients[key] = direct_client(
                node.address,
                username=creds.sentinel_username if node.sentinel else username,
                password=creds.sentinel_password if node.sentinel else password,
                tls=self.tls,
                decode=node.sentinel,
            )
        return self._clients[key]

    def _node_at(self, address: Address) -> Node:
        for node in [*self._redis_nodes, *self._sentinel_nodes]:
            if node.address == address:
                return node
        raise ClusterError(f"{address} is not a node of this cluster")

    def _live_sentinels(self) -> list[Node]:
        return [node for node in self._sentinel_nodes if node.running and not node.frozen]

    # --- topology -------------------------------------------------------------------------------

    def master_address(self) -> Address:
        """The master as most live Sentinels name it now."""
        votes = Counter(self._sentinel_views().values())
        if not votes:
            raise ClusterError("no live Sentinel answers")
        return votes.most_common(1)[0][0]

    def _sentinel_views(self) -> dict[int, Address]:
        views = {}
        for index, node in enumerate(self._sentinel_nodes):
            if not node.running or node.frozen:
                continue
            try:
                reply = command(
                    self.sentinel(index), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name
                )
            except redis.RedisError:
                continue
            if reply:
                views[index] = Address(reply[0], int(reply[1]))
        return views

    def _role(self, address: Address) -> list[Any] | None:
        node = self._node_at(address)
        if not node.running or node.frozen:
            return None
        try:
            return list(command(self._client_for(node), "ROLE"))
        except redis.RedisError:
            return None

    def is_healthy(self, *, replicas: int | None = None) -> bool:
        """Whether the cluster is ready for a failover.

        True when every live Sentinel names the same master, is linked to every other live
        Sentinel (a leader election needs them) and sees the replicas in sync, and the master
        reports those replicas connected and acknowledging its writes.

        Args:
            replicas: How many replicas must be in sync; default every live one. Fewer is
                enough right after a planned failover, when the demoted master becomes a
                replica only 10 s or more later.
        """
        try:
            return self._check_health(replicas)
        except redis.RedisError:
            return False

    def _check_health(self, replicas: int | None) -> bool:
        live_redis = [node for node in self._redis_nodes if node.running and not node.frozen]
        wanted = len(live_redis) - 1 if replicas is None else replicas
        views = self._sentinel_views()
        if len(views) != len(self._live_sentinels()) or len(set(views.values())) != 1:
            return False
        master = next(iter(views.values()))
        role = self._role(master)
        if not role or role[0] != b"master" or len(role[2]) < wanted:
            return False
        return all(self._sentinel_ready(index, wanted) for index in views) and self._streaming(
            master, wanted
        )

    def _streaming(self, master: Address, replicas: int) -> bool:
        """Whether ``replicas`` replicas acknowledge what the master wrote last.

        A replica may show as connected and in sync before the master streams anything to it:
        after a diskless full sync, Redis 7 streams only once the replica's first acknowledgement
        arrives, up to a second later. A write the master takes meanwhile is lost if the master
        dies. A ``PUBLISH`` (replicated, and it leaves no key) followed by ``WAIT`` proves it.
        """
        if replicas == 0:
            return True
        client = self._client_for(self._node_at(master))
        command(client, "PUBLISH", "__vedette_testing__:health", "")
        return int(command(client, "WAIT", replicas, 100)) >= replicas

    def _sentinel_ready(self, index: int, replicas: int) -> bool:
        """Whether Sentinel ``index`` is ready to take part in a failover.

        It sees the master up, knows every Sentinel, is linked to the live ones, and sees
        ``replicas`` replicas in sync.
        """
        client, name = self.sentinel(index), self.service_name
        state = _fields(command(client, "SENTINEL", "MASTER", name))
        if (
            state["flags"] != "master"
            or int(state["num-other-sentinels"]) != len(self._sentinel_nodes) - 1
        ):
            return False
        linked = {
            int(peer["port"])
            for peer in map(_fields, command(client, "SENTINEL", "SENTINELS", name))
            if peer["flags"] == "sentinel"
        }
        others = {node.port for node in self._live_sentinels()} - {self._sentinel_nodes[index].port}
        in_sync = [
            replica
            for replica in map(_fields, command(client, "SENTINEL", "REPLICAS", name))
            if replica["flags"] == "slave" and replica.get("master-link-status") == "ok"
        ]
        return others <= linked and len(in_sync) >= replicas

    def wait_healthy(self, timeout: float = 30.0, *, replicas: int | None = None) -> None:
        """Wait until `is_healthy` (with ``replicas`` in sync, default every live one).

        Raises:
            WaitTimeout: Not healthy within ``timeout`` seconds.
        """
        wait_until(
            lambda: self.is_healthy(replicas=replicas), timeout, "the cluster to become healthy"
        )

    # --- faults ---------------------------------------------------------------------------------

    def kill_master(self) -> Address:
        """SIGKILL the master (no shutdown, no goodbye). Returns its address."""
        address = self.master_address()
        node = self._node_at(address)
        node.kill()
        self._forget_clients(node)
        self._fault_master, self._killed_master = address, node
        return address

    def freeze_master(self) -> Address:
        """SIGSTOP the master: its sockets stay open but it answers nothing. See `thaw`."""
        address = self.master_address()
        self._node_at(address).freeze()
        self._fault_master = address
        return address

    def thaw(self) -> None:
        """SIGCONT every frozen process."""
        for node in [*self._redis_nodes, *self._sentinel_nodes]:
            node.thaw()

    def failover(self) -> Address:
        """Start a planned failover (``SENTINEL FAILOVER``). Returns the master being replaced.

        Raises:
            ClusterError: The Sentinel refused (no good replica, failover already in progress).
        """
        address = self.master_address()
        live = self._live_sentinels()
        if not live:
            raise ClusterError("no live Sentinel to ask for a failover")
        try:
            command(self._client_for(live[0]), "SENTINEL", "FAILOVER", self.service_name)
        except redis.ResponseError as error:
            raise ClusterError(f"SENTINEL FAILOVER refused: {error}") from None
        self._fault_master = address
        return address

    def restart_old_master(self) -> Address:
        """Start the master killed by `kill_master` again, empty: the old master returns.

        It starts as its configuration says, as a master, until the Sentinels notice and turn it
        into a replica (about 20 s later with the default timings). Returns its address.
        """
        node = self._killed_master
        if node is None:
            raise ClusterError("restart_old_master() needs a master killed by kill_master()")
        node.start(self.binary)
        node.wait_ready(self._client_for(node), time.monotonic() + self._start_timeout)
        self._killed_master = None
        return node.address

    def stop_sentinel(self, index: int) -> Address:
        """SIGKILL Sentinel ``index``. Returns its address."""
        node = self._sentinel_nodes[index]
        node.kill()
        self._forget_clients(node)
        return node.address

    def freeze_sentinel(self, index: int) -> Address:
        """SIGSTOP Sentinel ``index``: its connections stay open, it answers nothing (`thaw`)."""
        node = self._sentinel_nodes[index]
        node.freeze()
        return node.address

    def start_sentinel(self, index: int) -> Address:
        """Start Sentinel ``index`` again, from the configuration it last saved."""
        node = self._sentinel_nodes[index]
        if node.running:
            raise ClusterError(f"{node.name} is already running")
        node.start(self.binary)
        node.wait_ready(self._client_for(node), time.monotonic() + self._start_timeout)
        return node.address

    def wait_for_switch(
        self, timeout: float = 30.0, *, from_address: Address | None = None
    ) -> Address:
        """Wait until a majority of the Sentinels name a new master and it answers as one.

        Args:
            timeout: Seconds to wait.
            from_address: The master being replaced; default: the one the last fault helper hit.

        Returns:
            The new master's address.

        Raises:
            ClusterError: No switch within ``timeout`` seconds.
        """
        old = from_address or self._fault_master
        if old is None:
            raise ClusterError("wait_for_switch() needs from_address when no fault was applied")
        found: list[Address] = []

        def switched() -> bool:
            votes = Counter(view for view in self._sentinel_views().values() if view != old)
            for address, count in votes.items():
                role = self._role(address)
                if count * 2 > len(self._sentinel_nodes) and role and role[0] == b"master":
                    found.append(address)
                    return True
            return False

        wait_until(switched, timeout, f"the Sentinels to replace master {old}")
        return found[0]

    def _forget_clients(self, node: Node) -> None:
        client = self._clients.pop((node.address, node.sentinel), None)
        if client is not None:
            client.close()

    def __repr__(self) -> str:
        state = "running" if self._root is not None else "stopped"
        sentinels = ", ".join(map(str, self.sentinel_addresses))
        return f"<SentinelCluster {self.service_name!r} {state} sentinels=[{sentinels}]>"


def _fields(reply: list[str]) -> dict[str, str]:
    return dict(zip(reply[::2], reply[1::2], strict=True))


class ClusterFactory(Protocol):
    """What the ``sentinel_cluster_factory`` fixture is: `SentinelCluster`'s options, started."""

    def __call__(
        self,
        *,
        service_name: str = ...,
        replicas: int = ...,
        sentinels: int = ...,
        quorum: int | None = ...,
        down_after_ms: int = ...,
        failover_timeout_ms: int = ...,
        username: str | None = ...,
        password: str | None = ...,
        user_rules: str = ...,
        sentinel_username: str | None = ...,
        sentinel_password: str | None = ...,
        tls: TLSFiles | None = ...,
        redis_server: str | Path | None = ...,
        start_timeout: float = ...,
    ) -> SentinelCluster:
        """Start a cluster with these options; it is stopped after the test."""
        ...
