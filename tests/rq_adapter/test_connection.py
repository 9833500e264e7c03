"""`vedette_rq.Redis` for RQ's command line, and `watcher_of` for the clients RQ rebuilds."""

from __future__ import annotations

import pytest
import redis

import vedette
from vedette_rq import Redis, connect, watcher_of


def test_from_url_reads_sentinel_urls_and_leaves_others_to_redis_py() -> None:
    plain = Redis.from_url("redis://10.0.0.9:6380/2")
    assert isinstance(plain, Redis)
    assert plain.connection_pool.connection_kwargs["port"] == 6380
    following = Redis.from_url("redis+sentinel://10.0.0.1,10.0.0.2/svc/3")
    assert isinstance(following.connection_pool, vedette.MasterPool)
    assert following.connection_pool.config.db == 3
    with pytest.raises(vedette.ConfigurationError, match="service"):
        Redis.from_url("redis+sentinel://10.0.0.1")


def test_the_watcher_is_found_also_for_a_client_rq_rebuilt() -> None:
    client = connect("redis+sentinel://10.0.0.1,10.0.0.2/svc")
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    # How RQ's scheduler and worker pool rebuild a client in another process.
    rebuilt = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **pool.connection_kwargs
        )
    )
    assert watcher_of(rebuilt) is watcher_of(client) is pool.watcher
    assert watcher_of(redis.Redis()) is None
