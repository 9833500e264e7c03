"""Network conditions that loopback does not give by itself."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator

from vedette.address import Address
from vedette.testing._process import HOST


@contextlib.contextmanager
def unresponsive_address() -> Iterator[Address]:
    """An address where connecting hangs until the client's connect timeout, like a dead host.

    A listening socket whose accept queue is full: the kernel drops further connection
    attempts instead of refusing them, so a client waits its whole connect timeout.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind((HOST, 0))
        listener.listen(0)
        address = Address(HOST, listener.getsockname()[1])
        while True:  # fill the accept queue (its length is backlog + 1 on Linux)
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(address)
            except OSError:
                break
        yield address
    finally:
        for sock in (*fillers, listener):
            sock.close()


_COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


class LossyProxy:
    """A TCP proxy to one server that can lose a reply, as a master dying at the wrong moment does.

    The server runs the command; the client never hears back. Put it in front of the master with
    the NAT map (``nat={master: proxy.address}``), arm it with `lose_reply_to`, and the next reply
    to that command, on any connection, is swallowed and the connection cut on both sides.
    Everything else passes through unchanged.

    Examples:
        >>> with LossyProxy(cluster.master_address()) as proxy:  # doctest: +SKIP
        ...     config = dataclasses.replace(cluster.config, nat={master: proxy.address})
        ...     proxy.lose_reply_to("BLMOVE")
    """

    def __init__(self, target: Address) -> None:
        self.target = target
        self._listener = socket.create_server((HOST, 0))
        self.address = Address(HOST, self._listener.getsockname()[1])
        self._armed: bytes | None = None
        self._lost = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="lossy-proxy", daemon=True).start()

    def lose_reply_to(self, command: str) -> None:
        """Swallow the next reply to ``command`` (a name such as ``"BLMOVE"``)."""
        self._lost.clear()
        self._armed = command.upper().encode()

    def wait_lost(self, timeout: float) -> bool:
        """Wait until the armed reply was swallowed; whether it was."""
        return self._lost.wait(timeout)

    def close(self) -> None:
        """Stop accepting, and cut every connection."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in (self._listener, *sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> LossyProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _disarm(self, command: bytes) -> bool:
        """Whether the reply to ``command`` is the one to lose (then only this one)."""
        with self._lock:
            if self._armed != command:
                return False
            self._armed = None
            return True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:  # the target is down: so is this connection, as with no proxy
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            last: list[bytes] = [b""]  # the name of the command the client sent last
            for source, sink, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump,
                    args=(source, sink, upstream, last, (client, server)),
                    name="lossy-proxy-pump",
                    daemon=True,
                ).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        upstream: bool,
        last: list[bytes],
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        try:
            while data := source.recv(65536):
                if upstream:
                    names = _COMMAND.findall(data)
                    if names:
                        last[0] = names[-1].upper()
                elif self._armed is not None and self._disarm(last[0]):
                    for sock in pair:  # the reply never arrives: the connection breaks
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                    self._lost.set()
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in pair:  # the other direction ends too
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
