"""SentinelConfig.from_url: every part of a redis+sentinel:// URL, and every way to get it wrong."""

from pathlib import Path

import pytest

import vedette
from vedette import Address, AddressMap, ConfigurationError, SentinelConfig


def test_full_url() -> None:
    config = SentinelConfig.from_url(
        "redis+sentinel://alice:s%40cret@h1,h2:26380,[::1]:26381/my%2Fmaster/3"
        "?sentinel_username=sam&sentinel_password=p%26w&socket_timeout=2.5"
        "&socket_connect_timeout=1&sentinel_socket_timeout=0.3&sentinel_connect_timeout=0.2"
        "&min_other_sentinels=1&wait_replicas=1&wait_timeout=0.5&retry_deadline=20"
        "&min_backoff=0.1&max_backoff=3&backoff_factor=1.5&reconcile_interval=off"
    )
    assert config.sentinels == (
        Address("h1", 26379),
        Address("h2", 26380),
        Address("::1", 26381),
    )
    assert config.service_name == "my/master"
    assert config.db == 3
    assert (config.username, config.password) == ("alice", "s@cret")
    assert (config.sentinel_username, config.sentinel_password) == ("sam", "p&w")
    assert config.socket_timeout == 2.5
    assert config.socket_connect_timeout == 1.0
    assert config.sentinel_socket_timeout == 0.3
    assert config.sentinel_connect_timeout == 0.2
    assert config.min_other_sentinels == 1
    assert (config.wait_replicas, config.wait_timeout) == (1, 0.5)
    assert config.retry_deadline == 20.0
    assert (config.min_backoff, config.max_backoff, config.backoff_factor) == (0.1, 3.0, 1.5)
    assert config.reconcile_interval is None
    assert config.ssl is False


def test_minimal_url_gets_finite_defaults() -> None:
    config = SentinelConfig.from_url("redis+sentinel://sentinel.example/mymaster")
    assert config.sentinels == (Address("sentinel.example", 26379),)
    assert config.db == 0
    assert config.username is config.password is None
    for timeout in (
        config.socket_timeout,
        config.socket_connect_timeout,
        config.sentinel_socket_timeout,
        config.sentinel_connect_timeout,
        config.retry_deadline,
    ):
        assert 0 < timeout < 120
    assert config.reconcile_interval is not None  # periodic reconciliation is on by default


def test_password_without_user() -> None:
    config = SentinelConfig.from_url("redis+sentinel://:pw@h/m")
    assert (config.username, config.password) == (None, "pw")


def test_tls_scheme(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed here")
    config = SentinelConfig.from_url(
        f"rediss+sentinel://h/m?ssl_ca_certs={ca}&ssl_cert_reqs=optional&sentinel_ssl=false"
    )
    assert config.ssl is True
    assert config.ssl_ca_certs == str(ca)
    assert config.ssl_cert_reqs == "optional"
    assert config.uses_sentinel_ssl is False
    assert SentinelConfig.from_url("rediss+sentinel://h/m").uses_sentinel_ssl is True


def test_nat_options() -> None:
    config = SentinelConfig.from_url(
        "redis+sentinel://h/m?nat=10.0.0.5:6379=127.0.0.1:16379"
        "&nat=10.0.0.6:6379=127.0.0.1:16380,10.0.0.7:26379=127.0.0.1:36379&nat_strict=true"
    )
    assert config.nat == AddressMap(
        {
            "10.0.0.5:6379": "127.0.0.1:16379",
            "10.0.0.6:6379": "127.0.0.1:16380",
            "10.0.0.7:26379": "127.0.0.1:36379",
        },
        strict=True,
    )


def test_option_values_are_percent_decoded_not_form_decoded() -> None:
    config = SentinelConfig.from_url(
        "redis+sentinel://:a+b@h/m?sentinel_password=c+d%26e%2Bf&reconcile_interval=0"
    )
    assert config.password == "a+b"
    assert config.sentinel_password == "c+d&e+f"  # a "+" in a password stays a "+"
    assert config.reconcile_interval is None


def test_scheme_is_case_insensitive() -> None:
    assert SentinelConfig.from_url("Redis+Sentinel://h/m").service_name == "m"


@pytest.mark.parametrize(
    ("url", "setting", "words"),
    [
        ("redis://h:6379/0", "url", "must start with redis+sentinel://"),
        ("h1,h2/mymaster", "url", "must start with"),
        ("redis+sentinel:///mymaster", "sentinels", "names no Sentinel host"),
        ("redis+sentinel://h1,,h2/m", "sentinels", "empty host"),
        ("redis+sentinel://h:0/m", "sentinels", "port must be 1-65535"),
        ("redis+sentinel://h:70000/m", "sentinels", "port must be 1-65535"),
        ("redis+sentinel://h:abc/m", "sentinels", "port must be 1-65535"),
        ("redis+sentinel://h,h:26379/m", "sentinels", "listed twice"),
        ("redis+sentinel://::1/m", "sentinels", "in brackets"),
        ("redis+sentinel://[::1/m", "sentinels", "unclosed"),
        ("redis+sentinel://h", "service_name", "missing"),
        ("redis+sentinel://h/", "service_name", "missing"),
        ("redis+sentinel://h/m%20x", "service_name", "spaces"),
        ("redis+sentinel://h/m/x", "db", "whole number"),
        ("redis+sentinel://h/m/-1", "db", "whole number"),
        ("redis+sentinel://h/m/0/extra", "url", "/service_name/db"),
        ("redis+sentinel://h/m?sockettimeout=1", "sockettimeout", "did you mean socket_timeout"),
        ("redis+sentinel://h/m?password=x", "password", "set by the URL itself"),
        ("redis+sentinel://h/m?ssl=true", "ssl", "set by the URL itself"),
        ("redis+sentinel://h/m?socket_timeout=0", "socket_timeout", "above 0"),
        ("redis+sentinel://h/m?socket_timeout=inf", "socket_timeout", "finite"),
        ("redis+sentinel://h/m?socket_timeout=soon", "socket_timeout", "number of seconds"),
        ("redis+sentinel://h/m?socket_timeout=1&socket_timeout=2", "socket_timeout", "twice"),
        ("redis+sentinel://h/m?wait_replicas=many", "wait_replicas", "whole number"),
        ("redis+sentinel://h/m?sentinel_ssl=maybe", "sentinel_ssl", "true or false"),
        ("redis+sentinel://h/m?ssl_cert_reqs=strict", "ssl_cert_reqs", "'required'"),
        ("redis+sentinel://h/m?ssl_ca_certs=/no/such.pem", "ssl_ca_certs", "TLS is off"),
        ("rediss+sentinel://h/m?ssl_ca_certs=/no/such.pem", "ssl_ca_certs", "no such file"),
        ("redis+sentinel://h/m?backoff_factor=0.5", "backoff_factor", "at least 1"),
        ("redis+sentinel://h/m?min_backoff=3&max_backoff=1", "max_backoff", "at least min_backoff"),
        ("redis+sentinel://h/m?nat=10.0.0.5:6379", "nat", "host:port=host:port"),
        ("redis+sentinel://h/m?nat=10.0.0.5=127.0.0.1:1", "nat", "has no port"),
        ("redis+sentinel://h/m?nat=a:1=b:2&nat=a:1=c:3", "nat", "mapped twice"),
        ("redis+sentinel://h/m?nat_strict=true", "nat", "at least one mapping"),
        ("redis+sentinel://h/m?socket_timeout", "url", "malformed query"),
    ],
)
def test_bad_url_names_the_setting(url: str, setting: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url(url)
    assert caught.value.setting == setting
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{setting}: ")


def test_url_must_be_text() -> None:
    with pytest.raises(ConfigurationError, match="url: expected a string"):
        SentinelConfig.from_url(b"redis+sentinel://h/m")  # type: ignore[arg-type]


def test_errors_never_echo_credentials() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url("redis+sentinel://alice:hunter2@h:99999/m")
    assert "hunter2" not in str(caught.value)
    assert "alice" not in str(caught.value)
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url("redis://alice:hunter2@h/m")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url("alice:hunter2@h/m")
    assert "hunter2" not in str(caught.value)


def test_options_read_with_a_url_fill_what_the_url_leaves_at_its_default() -> None:
    config = SentinelConfig.from_url(
        "redis+sentinel://h1,h2/mymaster/2?socket_timeout=3",
        {"master_name": "mymaster", "socket_timeout": 3, "sentinel_kwargs": {"password": "s"}},
    )
    assert (config.service_name, config.db, config.socket_timeout) == ("mymaster", 2, 3.0)
    assert config.sentinel_password == "s"


def test_an_option_that_disagrees_with_the_url_names_both_settings() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url(
            "redis+sentinel://h1/mymaster/2",
            {"db": 3},
            setting="broker_url",
            options_setting="broker_transport_options",
        )
    assert str(caught.value) == (
        "broker_transport_options: db: conflicts with broker_url: both set db, to different values"
    )


def test_errors_in_options_read_with_a_url_name_the_options_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url(
            "redis+sentinel://h1/m", {"sentinel_kwargs": {"port": 1}}, options_setting="opts"
        )
    assert caught.value.setting == "opts: sentinel_kwargs['port']"
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url("redis+sentinel://h1/m", {"socket_timeot": 1}, options_setting="o")
    assert caught.value.setting == "o: socket_timeot"
    assert "socket_timeout" in str(caught.value)  # did you mean


def test_errors_in_a_named_url_name_its_setting_and_the_part() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url("redis+sentinel://h1/m?socket_timeout=x", setting="broker_url")
    assert caught.value.setting == "broker_url (socket_timeout)"
    with pytest.raises(ConfigurationError) as caught:
        SentinelConfig.from_url("redis://h1/m", setting="broker_url")
    assert caught.value.setting == "broker_url"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis+sentinel://app:s3cret@h1,h2/m/0", "redis+sentinel://***:***@h1,h2/m/0"),
        ("redis+sentinel://:s3cret@h1/m", "redis+sentinel://:***@h1/m"),
        ("redis+sentinel://app@h1/m", "redis+sentinel://***@h1/m"),
        (
            "redis-sentinel://h1/m/0?sentinel_password=hush&socket_timeout=2",
            "redis-sentinel://h1/m/0?sentinel_password=***&socket_timeout=2",
        ),
        (
            "redis+sentinel://h1/m?SENTINEL_USERNAME=u",
            "redis+sentinel://h1/m?SENTINEL_USERNAME=***",
        ),
        ("app:s3cret@h1/m", "***"),
        ("redis+sentinel://h1/m", "redis+sentinel://h1/m"),
    ],
)
def test_a_redacted_url_shows_what_is_set_never_its_value(url: str, shown: str) -> None:
    assert vedette.redact_url(url) == shown


def test_config_from_takes_a_config_or_reads_a_url() -> None:
    config = SentinelConfig(sentinels=["h1"], service_name="m")
    assert vedette.config_from(config) is config
    assert vedette.config_from("redis+sentinel://h1/m") == config
    with pytest.raises(ConfigurationError, match=r"^url_or_config: expected"):
        vedette.config_from(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^broker: expected"):
        vedette.config_from(42, setting="broker")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^broker \(sentinels\)"):
        vedette.config_from("redis+sentinel:///m", setting="broker")
