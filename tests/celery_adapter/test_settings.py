"""Celery's URL and transport options, read for a Sentinel service; clear errors at start-up."""

from __future__ import annotations

import json
import pickle
import re

import pytest
from celery import Celery
from celery.app.utils import filter_hidden_settings
from kombu.connection import Connection
from kombu.transport import resolve_transport

import vedette
from vedette_celery import Transport, split
from vedette_celery._masking import mask_options, mask_url
from vedette_celery.backend import ResultBackend

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
    assert masked == (
        "redis-sentinel://:**@10.0.0.1:26379,10.0.0.2:26380/mymaster/2"
        "?sentinel_password=**&socket_timeout=2"
    )
    connection = Connection(url)
    assert "s3cret" not in connection.as_uri()
    assert "hush" not in repr(connection)


def test_user_names_are_masked_with_the_passwords() -> None:
    url = (
        "redis-sentinel://app%40x:s3cret@h1,h2/m/0?sentinel_username=watcher&sentinel_password=hush"
    )
    assert mask_url(url) == (
        "redis-sentinel://**:**@h1,h2/m/0?sentinel_username=**&sentinel_password=**"
    )
    assert mask_url("rediss-sentinel://app@h1/m", "##") == "rediss-sentinel://##@h1/m"
    assert mask_options(
        {"sentinel_kwargs": {"username": "watcher", "password": "hush"}, "visibility_timeout": 9}
    ) == {"sentinel_kwargs": {"username": "**", "password": "**"}, "visibility_timeout": 9}


def test_kombu_keeps_the_url_and_options_masked_and_clones_them_unmasked() -> None:
    url = "redis-sentinel://app:s3cret@10.0.0.1:26379/mymaster/0"
    options = {"sentinel_kwargs": {"username": "watcher", "password": "hush"}}
    connection = Connection(url, transport_options=options)
    info = connection.info()  # what `celery inspect stats` broadcasts
    for secret in ("app", "s3cret", "watcher", "hush"):
        assert secret not in json.dumps(info)
    assert info["hostname"] == url  # it is that URL, shown masked
    assert json.dumps(info["hostname"]) == '"redis-sentinel://**:**@10.0.0.1:26379/mymaster/0"'
    for copy in (connection.clone(), pickle.loads(pickle.dumps(connection))):
        config = copy.transport.settings.config
        assert (config.username, config.password) == ("app", "s3cret")
        assert (config.sentinel_username, config.sentinel_password) == ("watcher", "hush")
        assert copy.as_uri(include_password=True) == url


def test_celery_reports_mask_the_result_backend_and_user_names() -> None:
    app = Celery("reports", set_as_current=False)
    app.conf.update(
        broker_url="redis-sentinel://appuser:s3cret@10.0.0.1/mymaster/0",
        result_backend="redis-sentinel://appuser:s3cret@10.0.0.1/mymaster/1?sentinel_password=hush",
        result_backend_transport_options={"sentinel_kwargs": {"username": "watcher"}},
        vedette_schedule_url="redis+sentinel://appuser:s3cret@10.0.0.1/mymaster/2",
    )
    report = app.bugreport()  # `celery report`; `inspect report` and `inspect conf` alike
    for secret in ("appuser", "s3cret", "watcher", "hush"):
        assert secret not in report
    assert "vedette_schedule_url: 'redis+sentinel://********:********@10.0.0.1/mymaster/2'" in (
        report
    )
    # Masked with Celery's mask (********; kombu's ** in Celery 5.3 to 5.6, the default there).
    assert re.search(r"results:redis-sentinel://(\*+):\1@10\.0\.0\.1/mymaster/1\?", report)
    # Other URLs are left to Celery.
    shown = filter_hidden_settings({"result_backend": "redis://u:p@localhost:6379/0"})
    assert shown == {"result_backend": "redis://u:********@localhost:6379/0"}


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
