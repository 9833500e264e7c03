"""Network conditions that loopback does not give by itself."""

from __future__ import annotations

import contextlib
import socket
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
