"""Celery's URL and transport options, read for a Sentinel service; clear errors at start-up."""

from __future__ import annotations

import pytest
from kombu.connection import Connection
from kombu.transport import resolve_transport

import vedette
from vedette_celery import Transport, split
from vedette_celery.backend import ResultBackend
from vedette_celery.transport import mask_url

URL = "redis-sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/mymaster/2"


def test_a_url_names_sentinels_service_database_and_credentials() -> None:
    settings = split(URL + "?sentinel_password=hush&socket_timeout=2")
    config = settings.config
    assert [str(a) for a in config.sentinels] == ["10.0.0.1:26379", "10.0.0.2:26380"]
    assert (config.service_name, config.db, config.password) == ("mymaster", 2, "s3cret")
    assert (config.sentinel_password, config.socket_timeout) == ("hush", 2.0)
    assert split(URL.replace("redis-", "rediss-", 1)).config.ssl


def test_transport_options_are_sorted_for_vedette_the_pool_and_kombu() -> None:
    settings = split(
        URL,
        {
            "master_name": "mymaster",  # kombu's name for the service, agreeing with the URL
            "sentinel_kwargs": {"password": "hush"},
            "max_connections": 20,
            "visibility_timeout": 600,
            "global_keyprefix": "app:",
            "retry_on_timeout": True,  # Vedette retries itself: ignored
        },
    )
    assert settings.config.sentinel_password == "hush"
    assert settings.pool_options == {"max_connections": 20}
    assert settings.framework_options == {"visibility_timeout": 600, "global_keyprefix": "app:"}


@pytest.mark.parametrize(
    ("url", "options", "setting", "problem"),
    [
        ("redis://localhost:6379/0", {}, "broker_url", "expected redis-sentinel://"),
        ("redis-sentinel://10.0.0.1", {}, "broker_url (service_name)", "missing"),
        (URL, {"master_name": "other"}, "broker_transport_options", "different values"),
        (URL + "?socket_timeout=2", {"socket_timeout": 3}, "broker_url", "different values"),
        (URL, {"visibilty_timeout": 10}, "broker_transport_options['visibilty_timeout']", ""),
        (URL, {"socket_timeout": 0}, "broker_transport_options", "socket_timeout"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    url: str, options: dict[str, object], setting: str, problem: str
) -> None:
    with pytest.raises(vedette.ConfigurationError) as raised:
        split(url, options)
    assert setting in str(raised.value)
    assert problem in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_passwords_are_masked_wherever_the_url_is_shown() -> None:
    url = URL + "?sentinel_password=hush&socket_timeout=2"
    masked = mask_url(url)
    assert "s3cret" not in masked
    assert "hush" not in masked
    assert masked.startswith("redis-sentinel://:**@10.0.0.1:26379,10.0.0.2:26380/mymaster/2?")
    connection = Connection(url)
    assert "s3cret" not in connection.as_uri()
    assert "hush" not in repr(connection)


def test_the_schemes_are_known_to_kombu_and_celery() -> None:
    from celery.app.backends import by_url

    assert resolve_transport("redis-sentinel") is Transport
    assert resolve_transport("rediss-sentinel") is Transport
    backend, url = by_url(URL)
    assert backend is ResultBackend
    assert url == URL


def test_a_bad_broker_url_fails_when_the_connection_is_made() -> None:
    with pytest.raises(vedette.ConfigurationError, match="broker_transport_options"):
        Connection(URL, transport_options={"nonsense": 1}).transport  # noqa: B018


def test_celery_redis_sentinel_settings_are_read_as_it_read_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Its README: the URL's host is a placeholder, its path the database; the options the rest.
    options = {
        "sentinels": [("192.168.1.1", 26379), ("192.168.1.2", 26379), ("192.168.1.3", 26379)],
        "service_name": "master",
        "socket_timeout": 0.1,
    }
    # A host no other test uses: the warning is logged once per process and URL host.
    url = "redis-sentinel://:s3cret@seed-placeholder:26379/1"
    with caplog.at_level("WARNING"):
        config = split(url, options).config
        split(url, options)
    assert [str(a) for a in config.sentinels] == [f"192.168.1.{i}:26379" for i in (1, 2, 3)]
    assert (config.service_name, config.db, config.password) == ("master", 1, "s3cret")
    assert config.socket_timeout == 0.1
    [warning] = caplog.messages  # once per URL
    assert "'seed-placeholder:26379' is not used" in warning
    assert "s3cret" not in warning
    # A URL that names its service is read as written, whatever the options add.
    with pytest.raises(vedette.ConfigurationError, match="different values"):
        split("redis-sentinel://10.0.0.1:26379/other/1", options)
