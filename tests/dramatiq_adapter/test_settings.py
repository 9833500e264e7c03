"""The Dramatiq adapter's settings: dramatiq-sentinel's, verbatim; clear errors at start-up."""

from __future__ import annotations

import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

import vedette
from vedette_dramatiq import SentinelBroker, SentinelMiddleware


def test_dramatiq_sentinels_readme_configuration_is_accepted_verbatim() -> None:
    middleware = SentinelMiddleware(
        sentinels=[("localhost", 26379), ("localhost", 26380), ("localhost", 26381)],
        sentinel_password="sentinel-passsword",
        socket_timeout=0.5,
        service_name="redis-sentinel-service-name",
        min_backoff=3.0,
        max_backoff=60.0,
        backoff_factor=2.0,
        periodic_master_check=60.0,
        worker_pausing_timeout_before_exit=600.0,
        nat={
            "localhost:6379": "172.20.0.2:6379",
            "localhost:26379": "172.20.0.5:26379",
        },
    )
    config = middleware.config
    assert [str(a) for a in config.sentinels] == [f"localhost:{p}" for p in (26379, 26380, 26381)]
    assert config.service_name == "redis-sentinel-service-name"
    assert config.sentinel_password == "sentinel-passsword"
    assert config.sentinel_socket_timeout == 0.5
    assert config.reconcile_interval == 60.0
    assert (config.min_backoff, config.max_backoff, config.backoff_factor) == (3.0, 60.0, 2.0)
    # Its README's string keys map what the Sentinels report (the seed never matched them).
    assert str(config.nat.translate(vedette.Address("localhost", 6379))) == "172.20.0.2:6379"
    assert "sentinel-passsword" not in repr(config)
    assert middleware.switching_master is False


def test_the_defaults_are_dramatiq_sentinels() -> None:
    config = SentinelMiddleware().config
    assert [str(a) for a in config.sentinels] == ["localhost:26379"]
    assert config.service_name == "redis"


@pytest.mark.parametrize(
    ("arguments", "setting"),
    [
        ({"sentinels": []}, "sentinels"),
        ({"service_name": ""}, "service_name"),
        ({"socket_timeout": 0}, "sentinel_socket_timeout"),
        ({"nat": {"localhost": "x"}}, "nat"),
        ({"worker_pausing_timeout_before_exit": -1}, "worker_pausing_timeout_before_exit"),
    ],
)
def test_bad_middleware_settings_are_refused_naming_them(
    arguments: dict[str, object], setting: str
) -> None:
    with pytest.raises(vedette.ConfigurationError) as raised:
        SentinelMiddleware(**arguments)  # type: ignore[arg-type]
    assert setting in str(raised.value)


def test_the_middleware_needs_a_redis_broker() -> None:
    broker = StubBroker()
    broker.add_middleware(SentinelMiddleware())
    with pytest.raises(vedette.ConfigurationError, match="RedisBroker, not StubBroker"):
        broker.declare_queue("default")


def test_the_broker_takes_a_url_or_a_config_and_hides_secrets() -> None:
    with pytest.raises(vedette.ConfigurationError, match="url / config"):
        SentinelBroker()
    with pytest.raises(vedette.ConfigurationError, match="url"):
        SentinelBroker(url="redis://localhost:6379/0")
    with pytest.raises(vedette.ConfigurationError, match="host"):
        SentinelBroker(url="redis+sentinel://10.0.0.1/svc", host="10.0.0.2")
    broker = SentinelBroker(url="redis+sentinel://:s3cret@10.0.0.1,10.0.0.2/svc/3")
    assert isinstance(broker, RedisBroker)
    assert broker.config.db == 3
    assert "s3cret" not in repr(broker)
