"""SentinelConfig.from_mapping: the settings vocabularies of kombu, RQ and the Sentinel add-ons."""

from typing import Any

import pytest

from vedette import Address, AddressMap, ConfigurationError, SentinelConfig


def test_vedette_names() -> None:
    config = SentinelConfig.from_mapping(
        {"sentinels": "h1,h2:26380", "service_name": "m", "db": "2", "socket_timeout": "1.5"}
    )
    assert config.sentinels == (Address("h1", 26379), Address("h2", 26380))
    assert (config.db, config.socket_timeout) == (2, 1.5)


def test_kombu_transport_options() -> None:
    # broker_transport_options of kombu's sentinel:// transport
    config = SentinelConfig.from_mapping(
        {
            "sentinels": [("10.0.0.1", 26379), ("10.0.0.2", 26379)],
            "master_name": "mymaster",
            "password": "redis-pw",
            "sentinel_kwargs": {"password": "sentinel-pw", "socket_timeout": 0.2},
            "min_other_sentinels": 1,
        }
    )
    assert config.service_name == "mymaster"
    assert config.password == "redis-pw"
    assert config.sentinel_password == "sentinel-pw"
    assert config.sentinel_socket_timeout == 0.2
    assert config.min_other_sentinels == 1


def test_celery_redis_sentinel_options() -> None:
    config = SentinelConfig.from_mapping(
        {
            "sentinels": [("192.168.1.1", 26379), ("192.168.1.2", 26379)],
            "service_name": "master",
            "socket_timeout": 0.1,
        }
    )
    assert config.service_name == "master"
    assert config.socket_timeout == 0.1
    assert len(config.sentinels) == 2


def test_dramatiq_sentinel_keyword_arguments() -> None:
    config = SentinelConfig.from_mapping(
        {
            "sentinels": [("localhost", 26379)],
            "sentinel_password": "sentinel-pw",
            "socket_timeout": 0.5,
            "service_name": "redis",
            "min_backoff": 3.0,
            "max_backoff": 60.0,
            "backoff_factor": 2.0,
            "periodic_master_check": 5.0,
            "nat": {("172.17.0.2", 6379): ("localhost", 16379)},
        }
    )
    assert config.sentinel_password == "sentinel-pw"
    assert (config.min_backoff, config.max_backoff, config.backoff_factor) == (3.0, 60.0, 2.0)
    assert config.reconcile_interval == 5.0
    assert config.nat.translate(Address("172.17.0.2", 6379)) == ("localhost", 16379)


def test_dramatiq_sentinel_none_periodic_check_keeps_vedette_default() -> None:
    config = SentinelConfig.from_mapping(
        {"sentinels": ["h"], "service_name": "redis", "periodic_master_check": None}
    )
    assert config.reconcile_interval == 10.0


def test_rq_sentinel_dict() -> None:
    # rq's settings module: SENTINEL = {...}
    config = SentinelConfig.from_mapping(
        {
            "INSTANCES": [("10.0.0.1", 26379), ("10.0.0.2", 26380)],
            "MASTER_NAME": "mymaster",
            "DB": 3,
            "USERNAME": "worker",
            "PASSWORD": "redis-pw",
            "SOCKET_TIMEOUT": None,  # rq's default: None means "use vedette's finite default"
            "SSL": False,
            "CONNECTION_KWARGS": {"socket_connect_timeout": 0.3, "password": "redis-pw"},
            "SENTINEL_KWARGS": {"username": "sentinel-user", "password": "sentinel-pw"},
        }
    )
    assert config.sentinels == (Address("10.0.0.1", 26379), Address("10.0.0.2", 26380))
    assert config.service_name == "mymaster"
    assert config.db == 3
    assert (config.username, config.password) == ("worker", "redis-pw")
    assert config.socket_timeout == 5.0
    assert config.socket_connect_timeout == 0.3
    assert (config.sentinel_username, config.sentinel_password) == ("sentinel-user", "sentinel-pw")


def test_a_nested_key_set_to_none_is_not_set() -> None:
    # RQ's documented SENTINEL example: a redis-py option Vedette does not take, set to None.
    config = SentinelConfig.from_mapping(
        {"INSTANCES": ["h"], "MASTER_NAME": "m", "CONNECTION_KWARGS": {"ssl_ca_path": None}}
    )
    assert config == SentinelConfig.from_mapping({"INSTANCES": ["h"], "MASTER_NAME": "m"})


def test_nat_strict_and_text_form() -> None:
    config = SentinelConfig.from_mapping(
        {"sentinels": ["h"], "service_name": "m", "nat": "a:1=b:2", "nat_strict": "yes"}
    )
    assert config.nat == AddressMap({"a:1": "b:2"}, strict=True)


@pytest.mark.parametrize(
    ("settings", "setting", "words"),
    [
        ({"service_name": "m"}, "sentinels", "is required (or instances)"),
        ({"sentinels": [], "service_name": "m"}, "sentinels", "no Sentinels given"),
        ({"INSTANCES": [("h", "port")], "MASTER_NAME": "m"}, "INSTANCES", "port must be"),
        ({"INSTANCES": [("h", 1)], "MASTER_NAME": ""}, "MASTER_NAME", "non-empty name"),
        ({"sentinels": [("h", 1)]}, "service_name", "is required (or master_name)"),
        (
            {"sentinels": ["h"], "master_name": "a", "service_name": "b"},
            "service_name",
            "conflicts",
        ),
        (
            {"sentinels": ["h"], "service_name": "m", "sockettimeout": 1},
            "sockettimeout",
            "socket_timeout?",
        ),
        (
            {"sentinels": ["h"], "service_name": "m", "visibility_timeout": 1},
            "visibility_timeout",
            "unknown setting",
        ),
        (
            {"INSTANCES": ["h"], "MASTER_NAME": "m", "SOCKET_TIMEOUT": -1},
            "SOCKET_TIMEOUT",
            "above 0",
        ),
        ({"INSTANCES": ["h"], "MASTER_NAME": "m", "DB": "x"}, "DB", "whole number"),
        (
            {"INSTANCES": ["h"], "MASTER_NAME": "m", "CONNECTION_KWARGS": {"ssl_ca_path": "/ca"}},
            "CONNECTION_KWARGS['ssl_ca_path']",
            "not supported here",
        ),
        (
            {
                "sentinels": ["h"],
                "service_name": "m",
                "sentinel_kwargs": {"socket_keepalive": True},
            },
            "sentinel_kwargs['socket_keepalive']",
            "supported keys",
        ),
        (
            {"sentinels": ["h"], "service_name": "m", "sentinel_kwargs": "password=x"},
            "sentinel_kwargs",
            "dict of redis-py keyword arguments",
        ),
        (
            {
                "INSTANCES": ["h"],
                "MASTER_NAME": "m",
                "PASSWORD": "a",
                "CONNECTION_KWARGS": {"password": "b"},
            },
            "CONNECTION_KWARGS['password']",
            "conflicts with PASSWORD",
        ),
        (
            {"sentinels": ["h"], "service_name": "m", "nat": {("10.0.0.1", 6379): "nowhere"}},
            "nat",
            "has no port",
        ),
        ({"sentinels": ["h"], "service_name": "m", "nat": ["a:1=b:2"]}, "nat", "mapping"),
        (
            {"sentinels": ["h"], "service_name": "m", "nat_strict": True},
            "nat",
            "at least one mapping",
        ),
        ({"sentinels": ["h"], "service_name": "m", 5: 1}, "5", "must be strings"),
        (
            {
                "sentinels": ["h"],
                "service_name": "m",
                "connection_kwargs": {"ssl_ca_certs": __file__},
            },
            "connection_kwargs['ssl_ca_certs']",
            "TLS is off",
        ),
    ],
)
def test_bad_settings_name_what_the_user_wrote(
    settings: dict[str, Any], setting: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_mapping(settings)
    assert caught.value.setting == setting
    assert words in caught.value.problem


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="settings: expected a mapping"):
        SentinelConfig.from_mapping([("sentinels", "h")])  # type: ignore[arg-type]


def test_conflicting_secrets_are_not_shown() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_mapping(
            {
                "sentinels": ["h"],
                "service_name": "m",
                "password": "hunter2",
                "connection_kwargs": {"password": "swordfish"},
            }
        )
    assert "hunter2" not in str(caught.value)
    assert "swordfish" not in str(caught.value)


def test_same_value_twice_is_fine() -> None:
    config = SentinelConfig.from_mapping(
        {"INSTANCES": ["h"], "MASTER_NAME": "m", "DB": 1, "CONNECTION_KWARGS": {"db": "1"}}
    )
    assert config.db == 1
