"""SentinelConfig built directly: validation, normalisation, and secrets kept out of sight."""

import dataclasses
import logging
import ssl
from typing import Any

import pytest

from vedette import Address, AddressMap, ConfigurationError, SentinelConfig


def test_constructor_normalises_what_users_write() -> None:
    config = SentinelConfig(
        sentinels=["10.0.0.1", ("10.0.0.2", 26380), "[fe80::1]:26381"],
        service_name="mymaster",
        nat={("10.0.0.9", 6379): "127.0.0.1:16379"},
        ssl_cert_reqs=ssl.CERT_NONE,
    )
    assert config.sentinels == (
        Address("10.0.0.1", 26379),
        Address("10.0.0.2", 26380),
        Address("fe80::1", 26381),
    )
    assert config.nat == AddressMap({"10.0.0.9:6379": "127.0.0.1:16379"})
    assert config.ssl_cert_reqs == "none"


def test_sentinels_may_be_one_comma_separated_string() -> None:
    config = SentinelConfig(sentinels="h1:1, h2", service_name="m")
    assert config.sentinels == (Address("h1", 1), Address("h2", 26379))


def test_frozen_and_hashable() -> None:
    config = SentinelConfig(sentinels=[("h", 1)], service_name="m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.db = 2  # type: ignore[misc]
    assert hash(config) == hash(dataclasses.replace(config))
    assert dataclasses.replace(config, db=1).db == 1


def test_replace_validates_again() -> None:
    config = SentinelConfig(sentinels=[("h", 1)], service_name="m")
    with pytest.raises(ConfigurationError, match=r"^socket_timeout: "):
        dataclasses.replace(config, socket_timeout=-1)


def test_empty_credentials_mean_unset() -> None:
    config = SentinelConfig(sentinels=[("h", 1)], service_name="m", password="")
    assert config.password is None


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"sentinels": []}, "sentinels"),
        ({"sentinels": ("h", 1)}, "sentinels"),
        ({"sentinels": 5}, "sentinels"),
        ({"service_name": ""}, "service_name"),
        ({"service_name": None}, "service_name"),
        ({"db": True}, "db"),
        ({"password": 1234}, "password"),
        ({"socket_timeout": None}, "socket_timeout"),
        ({"socket_timeout": True}, "socket_timeout"),
        ({"sentinel_connect_timeout": float("nan")}, "sentinel_connect_timeout"),
        ({"wait_replicas": -1}, "wait_replicas"),
        ({"wait_timeout": 0}, "wait_timeout"),
        ({"ssl": "sometimes"}, "ssl"),
        ({"nat": ["10.0.0.1:1"]}, "nat"),
        ({"nat": {"10.0.0.1:1": "x:y"}}, "nat"),
        ({"ssl": True, "ssl_keyfile": __file__}, "ssl_keyfile"),
    ],
)
def test_bad_values_name_the_field(changes: dict[str, Any], setting: str) -> None:
    # Any: the values are wrong on purpose, and must reach the constructor unchecked.
    arguments: dict[str, Any] = {"sentinels": ["h:1"], "service_name": "m", **changes}
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig(**arguments)
    assert caught.value.setting == setting
    assert isinstance(caught.value, ValueError)  # catchable by meaning


def test_repr_hides_secrets_and_shows_what_differs() -> None:
    config = SentinelConfig(
        sentinels=["h:1"],
        service_name="m",
        username="alice-the-admin",
        password="hunter2",
        sentinel_username="sam",
        sentinel_password="swordfish",
        socket_timeout=3,
    )
    shown = repr(config)
    for secret in ("alice-the-admin", "hunter2", "sam", "swordfish"):
        assert secret not in shown
        assert secret not in str(config)
    assert "password='***'" in shown
    assert "socket_timeout=3.0" in shown
    assert "wait_timeout" not in shown  # defaults are left out
    assert shown.startswith("SentinelConfig(sentinels=[h:1], service_name='m'")


def test_logging_a_config_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    config = SentinelConfig.from_url("redis+sentinel://u:hunter2@h/m?sentinel_password=swordfish")
    logging.getLogger("test").warning("using %s / %r", config, config)
    assert "hunter2" not in caplog.text
    assert "swordfish" not in caplog.text
