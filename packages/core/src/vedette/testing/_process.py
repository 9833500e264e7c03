"""One ``redis-server`` process (a Redis node or a Sentinel) of a local cluster."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from vedette.address import Address
from vedette.testing.errors import ClusterError

if TYPE_CHECKING:
    from vedette.testing._configs import TLSFiles

HOST = "127.0.0.1"


class PortInUse(ClusterError):
    """The port picked for a node was taken before the node could bind it."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _kill_with_parent() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook that makes the kernel SIGKILL the child when we die.

    So even a test run killed with SIGKILL leaves no server behind. libc is looked up here, in
    the parent: the hook itself only makes one system call in the forked child.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


_PRE_EXEC = _kill_with_parent()


class Node:
    """A Redis node or Sentinel: its port, directory, configuration file and process."""

    def __init__(
        self, name: str, port: int, directory: Path, *, sentinel: bool, detached: bool = False
    ) -> None:
        self.name = name
        self.port = port
        self.directory = directory
        self.sentinel = sentinel
        self.detached = detached  # outlives its parent, in a session of its own
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def address(self) -> Address:
        return Address(HOST, self.port)

    @property
    def config_file(self) -> Path:
        return self.directory / ("sentinel.conf" if self.sentinel else "redis.conf")

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, binary: Path) -> None:
        """Start the process from its configuration file (no data: it starts empty)."""
        # Persistence is off, but a replica that synced into a non-empty dataset saved an RDB
        # file; a restarted node must come back empty, as the fault helpers promise.
        (self.directory / "dump.rdb").unlink(missing_ok=True)
        command = [str(binary), str(self.config_file)]
        if self.sentinel:
            command.append("--sentinel")
        with (self.directory / "stdio.log").open("ab") as stdio:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdio,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                preexec_fn=None if self.detached else _PRE_EXEC,  # see _kill_with_parent
                start_new_session=self.detached,
            )
        self.frozen = False

    def wait_ready(self, client: redis.Redis, deadline: float) -> None:
        """Wait until the process answers PING; raise with its log if it exits or times out."""
        while True:
            if self.process is None or self.process.poll() is not None:
                log = self.log_tail()
                if "Address already in use" in log:
                    raise PortInUse(f"{self.name}: port {self.port} was taken")
                raise ClusterError(f"{self.name} exited at start-up:\n{log}")
            try:
                if client.ping():
                    return
            except redis.AuthenticationError:
                raise ClusterError(f"{self.name} refused the cluster's own credentials") from None
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name} did not answer PING in time:\n{self.log_tail()}")
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL the process and reap it (a frozen process dies too)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process = None
        self.frozen = False

    def freeze(self) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing."""
        if not self.running or self.process is None:
            raise ClusterError(f"{self.name} is not running")
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT a frozen process."""
        if self.process is not None and self.frozen:
            self.process.send_signal(signal.SIGCONT)
        self.frozen = False

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.directory / "stdio.log", self.log_file):
            if path.is_file():
                parts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(parts)


def direct_client(
    address: Address,
    *,
    username: str | None,
    password: str | None,
    tls: TLSFiles | None = None,
    decode: bool = False,
) -> redis.Redis:
    """A plain client for one node: short timeouts, no retries."""
    tls_options: dict[str, Any] = {}
    if tls is not None:
        tls_options = {
            "ssl": True,
            "ssl_ca_certs": tls.ca_file,
            "ssl_certfile": tls.cert_file,
            "ssl_keyfile": tls.key_file,
        }
    return redis.Redis(
        **tls_options,
        host=address.host,
        port=address.port,
        username=username,
        password=password,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
        decode_responses=decode,
    )
