"""RQ's settings read into Vedette's: the ``SENTINEL`` dict and its client, and workers."""

from __future__ import annotations

import logging

import pytest
import redis
import rq.worker
from redis.sentinel import Sentinel
from rq import Queue

import vedette
import vedette_rq
from vedette_rq.settings import following_sentinel_client, sentinel_settings

INSTANCES = [("10.0.0.1", 26379), ("10.0.0.2", 26380)]
SENTINEL_KWARGS = {"password": "sentinel-s3cret", "socket_timeout": 0.5}
SENTINEL = {
    "INSTANCES": INSTANCES,
    "MASTER_NAME": "mymaster",
    "DB": 2,
    "PASSWORD": "s3cret",
    "SOCKET_TIMEOUT": 3,
    "CONNECTION_KWARGS": {"health_check_interval": 30, "retry_on_timeout": True},
    "SENTINEL_KWARGS": SENTINEL_KWARGS,
}


def test_the_sentinel_dict_is_read_with_client_options_apart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        config, options = sentinel_settings(SENTINEL)
    assert [str(address) for address in config.sentinels] == ["10.0.0.1:26379", "10.0.0.2:26380"]
    assert (config.service_name, config.db, config.socket_timeout) == ("mymaster", 2, 3.0)
    assert (config.password, config.sentinel_password) == ("s3cret", "sentinel-s3cret")
    assert config.sentinel_socket_timeout == 0.5
    assert options == {"health_check_interval": 30}
    assert "retry_on_timeout" in caplog.text  # dropped, and said so
    assert "s3cret" not in repr(config)


def test_bad_settings_are_named_as_written() -> None:
    with pytest.raises(vedette.ConfigurationError, match=r"CONNECTION_KWARGS\['port'\]"):
        sentinel_settings({**SENTINEL, "CONNECTION_KWARGS": {"port": 6380}})
    with pytest.raises(vedette.ConfigurationError, match=r"service_name: is required"):
        sentinel_settings({"INSTANCES": SENTINEL["INSTANCES"]})
    with pytest.raises(vedette.ConfigurationError, match="SENTINEL"):
        sentinel_settings([("10.0.0.1", 26379)])  # type: ignore[arg-type]


def test_connect_takes_the_sentinel_dict() -> None:
    client = vedette_rq.connect(SENTINEL)
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    assert pool.config == sentinel_settings(SENTINEL)[0]
    assert pool.connection_kwargs["health_check_interval"] == 30


def test_the_client_rq_builds_from_the_sentinel_dict_is_followed_instead() -> None:
    # What `rq worker -c settings` builds (rq.cli.helpers.get_redis_from_config), unconnected.
    sentinel = Sentinel(
        INSTANCES,
        sentinel_kwargs=SENTINEL_KWARGS,
        db=2,
        username=None,
        password="s3cret",
        socket_timeout=3,
        ssl=False,
    )
    following = following_sentinel_client(sentinel.master_for("mymaster"))
    assert following is not None
    pool = following.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    assert pool.config.service_name == "mymaster"
    assert pool.config.sentinel_password == "sentinel-s3cret"
    assert following_sentinel_client(redis.Redis()) is None


def test_a_worker_handed_rq_s_sentinel_client_follows_the_service() -> None:
    sentinel = Sentinel(INSTANCES, db=2)
    client = sentinel.master_for("mymaster")
    queue = Queue("default", connection=client)
    worker = vedette_rq.Worker([queue], connection=client, prepare_for_work=False)
    assert isinstance(worker.connection.connection_pool, vedette.MasterPool)
    assert queue.connection is worker.connection  # the queues the command line made, too
    assert vedette_rq.watcher_of(worker.connection) is not None


def test_a_worker_on_a_plain_client_has_no_watcher() -> None:
    worker = vedette_rq.Worker(["default"], connection=redis.Redis(), prepare_for_work=False)
    assert vedette_rq.watcher_of(worker.connection) is None


@pytest.mark.skipif(hasattr(rq.worker, "SpawnWorker"), reason="this RQ has a SpawnWorker")
def test_the_spawn_worker_says_which_rq_it_needs() -> None:
    with pytest.raises(vedette.ConfigurationError, match=r"SpawnWorker needs rq >= 2\.2"):
        vedette_rq.SpawnWorker(["default"], connection=redis.Redis(), prepare_for_work=False)
