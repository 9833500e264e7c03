"""`SentinelConfig`: every setting Vedette needs to find and talk to a Sentinel-managed master.

One frozen object, validated once when it is built. Build it directly, from a
``redis+sentinel://`` URL (`SentinelConfig.from_url`), or from the settings vocabulary your
framework already uses (`SentinelConfig.from_mapping`).
"""

from __future__ import annotations

import dataclasses
import ssl as _ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vedette.address import Address, AddressLike
from vedette.config import converters as _values
from vedette.config.nat import AddressMap
from vedette.config.url import parse_url
from vedette.config.vocabularies import read_mapping
from vedette.errors import ConfigurationError

__all__ = ["SentinelConfig", "config_from"]


def _checked(convert: _values.Converter, *, secret: bool = False) -> dict[str, Any]:
    """Field metadata: the converter that validates the value, and whether to hide it."""
    return {"convert": convert, "secret": secret}


@dataclass(frozen=True, kw_only=True, slots=True, repr=False)
class SentinelConfig:
    """How to find the master of one Sentinel-monitored service, and how to talk to it.

    Every field is checked when the object is built; a bad value raises `ConfigurationError`
    naming the field. Timeouts are finite by default: a dead host costs seconds, never forever.
    Passwords and user names are never shown by ``repr()``/``str()``.

    Examples:
        >>> config = SentinelConfig(sentinels=[("10.0.0.1", 26379)], service_name="mymaster")
        >>> config.sentinels
        (Address(host='10.0.0.1', port=26379),)
    """

    # --- Where ---------------------------------------------------------------------------------
    sentinels: tuple[Address, ...] = field(metadata=_checked(_values.sentinel_addresses))
    """The Sentinels to ask, as ``"host:port"`` strings or ``(host, port)`` pairs (port defaults
    to 26379). Others that monitor the same service are discovered from these."""

    service_name: str = field(metadata=_checked(_values.service_name))
    """The name the Sentinels monitor the master under (``sentinel monitor <name> ...``);
    called ``master_name`` by kombu and RQ."""

    db: int = field(default=0, metadata=_checked(_values.count))
    """The Redis database number to select on the master."""

    # --- Credentials -----------------------------------------------------------------------------
    username: str | None = field(
        default=None, metadata=_checked(_values.optional_text, secret=True)
    )
    """ACL user for Redis (master and replicas); unset for the default user."""

    password: str | None = field(
        default=None, metadata=_checked(_values.optional_text, secret=True)
    )
    """Password for Redis (``requirepass``, or the ACL user's password)."""

    sentinel_username: str | None = field(
        default=None, metadata=_checked(_values.optional_text, secret=True)
    )
    """ACL user for the Sentinels, which are configured separately from Redis."""

    sentinel_password: str | None = field(
        default=None, metadata=_checked(_values.optional_text, secret=True)
    )
    """Password for the Sentinels (their own ``requirepass``); unset if they have none."""

    # --- Timeouts --------------------------------------------------------------------------------
    socket_timeout: float = field(default=5.0, metadata=_checked(_values.seconds))
    """Seconds a Redis connection may stay silent before Vedette looks at why.

    A reply that is late is not abandoned while its server is still the master (a slow command,
    a frozen master that may wake up): the command keeps waiting, for up to `retry_deadline`
    seconds, so it runs once rather than twice. Blocking commands (``BRPOP key 30``, ``XREAD
    BLOCK``, pub/sub) wait for as long as they asked to, ``0`` meaning forever. A master switch
    cuts every wait at once. It must be finite: 0 or None would leave a dead connection
    unnoticed."""

    socket_connect_timeout: float = field(default=2.0, metadata=_checked(_values.seconds))
    """Seconds to wait for a TCP (and TLS) connection to Redis."""

    sentinel_socket_timeout: float = field(default=1.0, metadata=_checked(_values.seconds))
    """Seconds to wait for a Sentinel's reply. Sentinel answers from memory, so keep it short."""

    sentinel_connect_timeout: float = field(default=1.0, metadata=_checked(_values.seconds))
    """Seconds to wait for a connection to a Sentinel: what one dead Sentinel costs a lookup."""

    # --- TLS -------------------------------------------------------------------------------------
    ssl: bool = field(default=False, metadata=_checked(_values.boolean))
    """Use TLS to Redis (``rediss+sentinel://`` in a URL)."""

    sentinel_ssl: bool | None = field(default=None, metadata=_checked(_values.optional_boolean))
    """Use TLS to the Sentinels; unset means the same as `ssl`."""

    ssl_ca_certs: str | None = field(default=None, metadata=_checked(_values.optional_text))
    """CA bundle (PEM file) to verify server certificates with; unset uses the system's."""

    ssl_certfile: str | None = field(default=None, metadata=_checked(_values.optional_text))
    """Client certificate (PEM file), for servers that require one (``tls-auth-clients``)."""

    ssl_keyfile: str | None = field(default=None, metadata=_checked(_values.optional_text))
    """Private key (PEM file) of `ssl_certfile`."""

    ssl_cert_reqs: _values.CertReqs = field(
        default="required", metadata=_checked(_values.cert_reqs)
    )
    """Server certificate check: ``"required"``, ``"optional"`` or ``"none"``."""

    ssl_check_hostname: bool = field(default=True, metadata=_checked(_values.boolean))
    """Check the server certificate matches the host name; only when `ssl_cert_reqs` is
    ``"required"``."""

    # --- Topology --------------------------------------------------------------------------------
    nat: AddressMap = field(default_factory=AddressMap, metadata=_checked(_values.address_map))
    """Translation of the addresses Sentinels report into addresses this client can reach."""

    min_other_sentinels: int = field(default=0, metadata=_checked(_values.count))
    """Ignore a Sentinel's answer unless it sees at least this many other Sentinels: guards
    against a Sentinel cut off from its peers."""

    # --- Durability and failover behaviour -------------------------------------------------------
    wait_replicas: int = field(default=0, metadata=_checked(_values.count))
    """Confirm each write reached this many replicas (Redis ``WAIT``) before reporting success;
    0 trusts asynchronous replication (fast, but a failover can lose the last writes)."""

    wait_timeout: float = field(default=1.0, metadata=_checked(_values.seconds))
    """Seconds ``WAIT`` may take before a write counts as not replicated."""

    retry_deadline: float = field(default=60.0, metadata=_checked(_values.seconds))
    """Seconds a call may wait for a failover to finish before giving up. The default covers
    Sentinel's default ``down-after-milliseconds`` (30 s) plus the election."""

    min_backoff: float = field(default=0.05, metadata=_checked(_values.seconds))
    """First pause, in seconds, between attempts to reach a master or a Sentinel."""

    max_backoff: float = field(default=2.0, metadata=_checked(_values.seconds))
    """Longest pause, in seconds, between such attempts."""

    backoff_factor: float = field(default=2.0, metadata=_checked(_values.factor))
    """How much each pause grows over the previous one (jitter is added)."""

    reconcile_interval: float | None = field(
        default=10.0, metadata=_checked(_values.seconds_or_off)
    )
    """Seconds between checks of the master with the Sentinels, in case an event was missed;
    None switches the periodic check off."""

    if TYPE_CHECKING:
        # What callers may pass, for type checkers: each field accepts the forms its converter
        # reads (a list of "host:port" strings, a dict for ``nat`` ...) and holds one type.
        # At run time the dataclass's own __init__ is used; tests/contract/test_typing.py keeps
        # the two in step.
        def __init__(
            self,
            *,
            sentinels: str | Iterable[AddressLike],
            service_name: str,
            db: int = 0,
            username: str | None = None,
            password: str | None = None,
            sentinel_username: str | None = None,
            sentinel_password: str | None = None,
            socket_timeout: float = 5.0,
            socket_connect_timeout: float = 2.0,
            sentinel_socket_timeout: float = 1.0,
            sentinel_connect_timeout: float = 1.0,
            ssl: bool = False,
            sentinel_ssl: bool | None = None,
            ssl_ca_certs: str | None = None,
            ssl_certfile: str | None = None,
            ssl_keyfile: str | None = None,
            ssl_cert_reqs: _values.CertReqs | _ssl.VerifyMode = "required",
            ssl_check_hostname: bool = True,
            nat: AddressMap | Mapping[AddressLike, AddressLike] | str | None = None,
            min_other_sentinels: int = 0,
            wait_replicas: int = 0,
            wait_timeout: float = 1.0,
            retry_deadline: float = 60.0,
            min_backoff: float = 0.05,
            max_backoff: float = 2.0,
            backoff_factor: float = 2.0,
            reconcile_interval: float | None = 10.0,
        ) -> None: ...

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            converted = spec.metadata["convert"](getattr(self, spec.name), spec.name)
            object.__setattr__(self, spec.name, converted)
        self._check_consistency()

    def _check_consistency(self) -> None:
        if self.max_backoff < self.min_backoff:
            raise ConfigurationError(
                "max_backoff",
                f"must be at least min_backoff ({self.min_backoff}), got {self.max_backoff}",
            )
        tls_anywhere = self.ssl or bool(self.sentinel_ssl)
        for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is None:
                continue
            if not tls_anywhere:
                raise ConfigurationError(
                    name, "is set but TLS is off; use rediss+sentinel:// or set ssl=true"
                )
            if not Path(path).is_file():
                raise ConfigurationError(name, f"no such file: {path}")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ConfigurationError("ssl_keyfile", "is set without ssl_certfile")

    @property
    def uses_sentinel_ssl(self) -> bool:
        """Whether connections to the Sentinels use TLS."""
        return self.ssl if self.sentinel_ssl is None else self.sentinel_ssl

    @classmethod
    def from_url(
        cls,
        url: str,
        options: Mapping[str, Any] | None = None,
        *,
        setting: str = "url",
        options_setting: str = "options",
    ) -> SentinelConfig:
        """Read a ``redis+sentinel://`` (or TLS ``rediss+sentinel://``) URL, and options with it.

        The form is
        ``redis+sentinel://[user:password@]host1[:port][,host2[:port]...]/service_name[/db][?options]``
        where the credentials are Redis's, the hosts are Sentinels (port 26379 by default) and
        the options are field names of this class, for example
        ``?sentinel_password=s3cret&socket_timeout=2&nat=10.0.0.5:6379=127.0.0.1:16379``.

        Args:
            url: The URL.
            options: More settings, in any vocabulary `from_mapping` reads (a framework's
                transport options, say). One the URL sets too must have the same value; one
                the URL leaves at its default is taken from here.
            setting: What the user calls the URL (``broker_url``): errors in it name it.
            options_setting: What the user calls the options: errors in them name it.

        Raises:
            ConfigurationError: The URL is malformed or names an unknown option, or an option is
                unknown, invalid or disagrees with the URL; the message names the setting.
        """
        names = [spec.name for spec in dataclasses.fields(cls)]
        try:
            values = parse_url(url, fields=names)
            config = cls(**values)
        except ConfigurationError as error:
            if setting == "url" or error.setting == setting:
                raise
            where = setting if error.setting == "url" else f"{setting} ({error.setting})"
            raise ConfigurationError(where, error.problem) from None
        if not options:
            return config
        return read_mapping(
            cls,
            options,
            given={name: getattr(config, name) for name in values},
            given_as=setting,
            label=f"{options_setting}: ",
        )

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> SentinelConfig:
        """Read settings written in the vocabulary of Vedette, kombu, RQ or the Sentinel add-ons.

        Accepted, besides this class's own field names: kombu's ``master_name`` and
        ``sentinel_kwargs``; celery-redis-sentinel's ``sentinels=[(host, port)]``,
        ``service_name``, ``socket_timeout``; dramatiq-sentinel's keyword arguments (``nat``,
        ``min_backoff``, ``periodic_master_check`` ...); and RQ's ``SENTINEL`` dict
        (``INSTANCES``, ``MASTER_NAME``, ``CONNECTION_KWARGS`` ...). A value of None means
        "not set": Vedette's default applies. See docs/configuration.md for the full table.

        Raises:
            ConfigurationError: A setting is unknown, invalid, or given twice with different
                values; the message names it as you wrote it.
        """
        return read_mapping(cls, settings)

    def __repr__(self) -> str:
        shown = []
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            default = spec.default_factory() if callable(spec.default_factory) else spec.default
            if spec.name not in ("sentinels", "service_name") and value == default:
                continue
            if spec.metadata["secret"]:
                shown.append(f"{spec.name}='***'")
            elif spec.name == "sentinels":
                shown.append(f"sentinels=[{', '.join(map(str, value))}]")
            else:
                shown.append(f"{spec.name}={value!r}")
        return f"SentinelConfig({', '.join(shown)})"


def config_from(
    url_or_config: str | SentinelConfig, *, setting: str | None = None
) -> SentinelConfig:
    """The configuration given, or read from a ``redis+sentinel://`` URL.

    Args:
        url_or_config: A URL or a `SentinelConfig`.
        setting: What the caller's user calls it (``url``, ``config``): errors name it. By
            default, an error in a URL names the part (``url``, ``sentinels``), and a value of
            another type ``url_or_config``.

    Raises:
        ConfigurationError: Neither a string nor a `SentinelConfig`, or a malformed URL.
    """
    if isinstance(url_or_config, SentinelConfig):
        return url_or_config
    if isinstance(url_or_config, str):
        return SentinelConfig.from_url(url_or_config, setting=setting or "url")
    raise ConfigurationError(
        setting or "url_or_config",
        f"expected a redis+sentinel:// URL or a SentinelConfig, got {type(url_or_config).__name__}",
    )
