"""Configuration files for the nodes of a local cluster.

The Sentinels are started already knowing each other and the replicas (``known-sentinel``,
``known-replica``, fixed ``myid``s): the state they would otherwise reach by exchanging hello
messages every 2 s. A cluster is ready in a fraction of a second instead of ~5 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from vedette.testing._process import HOST, Node

# The user a cluster's own links use when its application user is an ACL user (which may lack
# what replication and the Sentinels' monitoring need: PSYNC, INFO, REPLICAOF, CONFIG ...).
CLUSTER_USER = "vedette-cluster"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who may talk to a cluster's Redis nodes and to its Sentinels."""

    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    user_rules: str = "+@all"
    """The ACL rules of ``username`` (after ``~* &*``: every key and channel)."""
    cluster_password: str | None = None
    """The password of `CLUSTER_USER`, which exists when ``username`` is set."""

    def internal(self) -> tuple[str | None, str | None]:
        """The user and password of the cluster's own links to its Redis nodes."""
        if self.username:
            return CLUSTER_USER, self.cluster_password
        return None, self.password


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """PEM files for a cluster that speaks only TLS (see `SentinelCluster`'s ``tls``).

    Each node presents ``cert_file`` as server, and as client to the nodes it dials (replication,
    Sentinels); clients must present a certificate the ``ca_file`` signed too.
    """

    ca_file: str
    """The certificate authority every node and client trusts."""
    cert_file: str
    """A certificate valid for 127.0.0.1, signed by the CA."""
    key_file: str
    """The private key of ``cert_file``."""


@dataclass(frozen=True, slots=True)
class Timing:
    """Sentinel's failure-detection settings for one cluster."""

    quorum: int
    down_after_ms: int
    failover_timeout_ms: int


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _acl_user(username: str, password: str | None, rules: str = "+@all") -> str:
    secret = f">{password}" if password else "nopass"
    return f"user {_quote(username)} on {_quote(secret)} ~* &* {rules}"


def _common(node: Node, tls: TLSFiles | None) -> list[str]:
    if tls is None:
        listen = [f"port {node.port}"]
    else:  # TLS only, also between the nodes (replication, Sentinel links)
        listen = [
            "port 0",
            f"tls-port {node.port}",
            f"tls-cert-file {_quote(tls.cert_file)}",
            f"tls-key-file {_quote(tls.key_file)}",
            f"tls-ca-cert-file {_quote(tls.ca_file)}",
            "tls-replication yes",
        ]
    return [
        *listen,
        f"bind {HOST}",
        "protected-mode no",
        "daemonize no",
        f"dir {_quote(str(node.directory))}",
        f"logfile {_quote(str(node.log_file))}",
    ]


def redis_config(
    node: Node, master: Node | None, credentials: Credentials, tls: TLSFiles | None
) -> str:
    """A Redis node's configuration: no persistence, fast diskless replication."""
    lines = [
        *_common(node, tls),
        'save ""',
        "appendonly no",
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
        "repl-diskless-load on-empty-db",
    ]
    _user, password = credentials.internal()
    if credentials.username:
        lines += [
            "user default off",
            _acl_user(credentials.username, credentials.password, credentials.user_rules),
            _acl_user(CLUSTER_USER, password),
            f"masteruser {_quote(CLUSTER_USER)}",
        ]
    elif credentials.password:
        lines.append(f"requirepass {_quote(credentials.password)}")
    if password:
        lines.append(f"masterauth {_quote(password)}")
    if master is not None:
        lines.append(f"replicaof {HOST} {master.port}")
    return "\n".join(lines) + "\n"


def sentinel_id(index: int) -> str:
    """A fixed 40-hex-digit run id for Sentinel number ``index``."""
    return f"{index + 1:040x}"


def sentinel_config(
    index: int,
    node: Node,
    *,
    service_name: str,
    master: Node,
    replicas: list[Node],
    peers: dict[int, Node],
    timing: Timing,
    credentials: Credentials,
    tls: TLSFiles | None,
) -> str:
    """Sentinel ``index``'s configuration, already knowing its peers and the replicas."""
    name = service_name
    lines = [
        *_common(node, tls),
        f"sentinel myid {sentinel_id(index)}",
        f"sentinel monitor {name} {HOST} {master.port} {timing.quorum}",
        f"sentinel down-after-milliseconds {name} {timing.down_after_ms}",
        f"sentinel failover-timeout {name} {timing.failover_timeout_ms}",
        f"sentinel parallel-syncs {name} 1",
    ]
    user, password = credentials.internal()
    if user:
        lines.append(f"sentinel auth-user {name} {_quote(user)}")
    if password:
        lines.append(f"sentinel auth-pass {name} {_quote(password)}")
    lines += [f"sentinel known-replica {name} {HOST} {replica.port}" for replica in replicas]
    lines += [
        f"sentinel known-sentinel {name} {HOST} {peer.port} {sentinel_id(peer_index)}"
        for peer_index, peer in peers.items()
    ]
    # The Sentinels' own access control, and the credentials they use with each other.
    if credentials.sentinel_username:
        lines += [
            "user default off",
            _acl_user(credentials.sentinel_username, credentials.sentinel_password),
            f"sentinel sentinel-user {_quote(credentials.sentinel_username)}",
        ]
    elif credentials.sentinel_password:
        lines.append(f"requirepass {_quote(credentials.sentinel_password)}")
    if credentials.sentinel_password:
        lines.append(f"sentinel sentinel-pass {_quote(credentials.sentinel_password)}")
    return "\n".join(lines) + "\n"
