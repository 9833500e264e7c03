"""A TLS dial the server resets before the handshake leaves no socket to the garbage collector.

What a Sentinel or Redis node being killed does to a client dialling it (the watcher's
listeners, every failover drill over TLS): CPython's ``ssl`` left the ``SSLSocket`` it had made
open (python/cpython#113280), and ``ResourceWarning: unclosed <ssl.SSLSocket>`` then failed
whichever test the garbage collector happened to run in. CI had ignored that warning since.
"""

from __future__ import annotations

import gc
import socket
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import trustme

import vedette
from vedette.address import Address
from vedette.servers.clients import redis_client, sentinel_client


@contextmanager
def resetting_server() -> Iterator[Address]:
    """An address whose server accepts each connection and resets it at once (RST)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                accepted, _ = listener.accept()
            except OSError:
                return
            accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            accepted.close()

    thread = threading.Thread(target=serve, name="test-resetting-server", daemon=True)
    thread.start()
    try:
        yield Address("127.0.0.1", listener.getsockname()[1])
    finally:
        stopping.set()
        listener.close()
        thread.join(5)


@pytest.fixture
def tls_config(tmp_path: Path) -> Iterator[vedette.SentinelConfig]:
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with resetting_server() as address:
        yield vedette.SentinelConfig(
            sentinels=[address], service_name="reset", ssl=True, ssl_ca_certs=str(ca_file)
        )


def test_a_reset_tls_dial_leaves_no_socket_open(tls_config: vedette.SentinelConfig) -> None:
    address = tls_config.sentinels[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):  # a reset that lands before the handshake: most of them
            for client in (sentinel_client(tls_config, address), redis_client(tls_config, address)):
                with pytest.raises(redis.ConnectionError):
                    client.ping()
                client.close()
            with pytest.raises(vedette.SentinelsUnreachableError):
                vedette.discover(tls_config)
        gc.collect()
    assert [str(warning.message) for warning in caught] == []
