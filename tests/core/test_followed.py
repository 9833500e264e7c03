"""Which service a client follows, and which redis-py options a Vedette client takes."""

from __future__ import annotations

from typing import Any

import pytest
import redis

import vedette
from vedette import SentinelConfig

URL = "redis+sentinel://127.0.0.1:1/followed-test"


def test_a_vedette_client_says_which_service_it_follows() -> None:
    master, replica = vedette.connect(URL), vedette.connect_replica(URL)
    try:
        config = SentinelConfig.from_url(URL)
        assert vedette.config_of(master) == vedette.config_of(replica) == config
        assert vedette.watcher_of(master) is vedette.watcher_of(replica)
        assert vedette.watcher_of(master) is vedette.shared_watcher(config)
    finally:
        master.close()
        replica.close()


def test_a_plain_pool_of_vedette_connections_follows_the_same_service() -> None:
    # What RQ and Celery rebuild from a Vedette client's pool in another process.
    client = vedette.connect(URL)
    try:
        pool = client.connection_pool
        rebuilt = redis.Redis(
            connection_pool=redis.ConnectionPool(connection_class=pool.connection_class)
        )
        assert vedette.config_of(rebuilt) == vedette.config_of(client)
        assert vedette.watcher_of(rebuilt) is vedette.watcher_of(client)
    finally:
        client.close()


def test_a_plain_client_follows_nothing() -> None:
    plain = redis.Redis(port=1)
    assert vedette.config_of(plain) is None
    assert vedette.watcher_of(plain) is None


@pytest.mark.parametrize("name", sorted(vedette.CLIENT_OPTIONS))
def test_every_client_option_is_accepted(name: str) -> None:
    values: dict[str, Any] = {"protocol": 2, "socket_keepalive_options": {}}
    vedette.connect(URL, **{name: values.get(name)}).close()


@pytest.mark.parametrize("name", sorted(vedette.RETRY_OPTIONS | {"host", "password"}))
def test_retry_and_connection_options_are_refused_by_name(name: str) -> None:
    with pytest.raises(vedette.ConfigurationError, match=f"^{name}: is not accepted here"):
        vedette.connect(URL, **{name: None})
