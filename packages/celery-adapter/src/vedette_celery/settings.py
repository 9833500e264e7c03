"""Celery's settings for a Sentinel service: a ``redis-sentinel://`` URL plus transport options.

Celery names one broker and one result backend by URL (``broker_url``, ``result_backend``) and
passes the rest as transport options (``broker_transport_options``,
``result_backend_transport_options``). Those options mix three kinds of setting, and `split`
sorts them:

- Sentinel and Redis settings, in any vocabulary `vedette.SentinelConfig.from_mapping` reads
  (Vedette's names, kombu's ``master_name`` and ``sentinel_kwargs``, celery-redis-sentinel's
  ``sentinels``, ``service_name`` and ``socket_timeout``);
- options of the redis-py pool Vedette passes through (``max_connections``, ``client_name``,
  ``health_check_interval``, ``socket_keepalive``, ``socket_keepalive_options``);
- kombu's and Celery's own (``visibility_timeout``, ``global_keyprefix``, ``fanout_prefix`` ...),
  left to them.

kombu splits a URL scheme at ``+`` (``redis+sentinel://`` would select kombu's own ``sentinel``
transport), so Celery's schemes use a hyphen: ``redis-sentinel://`` and ``rediss-sentinel://``
(TLS). Everything else in the URL is the core's ``redis+sentinel://`` form.

celery-redis-sentinel's settings also work unchanged: its URL carried only the database
(``redis-sentinel://redis-sentinel:26379/0``, the host unused) and its transport options the
Sentinels and the service name (``sentinels``, ``service_name``). When the options name both and
the URL's path is only a database number, `split` reads them that way, and logs once that the
URL's host is not used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

from vedette import CLIENT_OPTIONS, RETRY_OPTIONS, ConfigurationError, SentinelConfig

__all__ = ["SCHEMES", "CelerySettings", "celery_url", "core_url", "split"]

_log = logging.getLogger(__name__)

#: Celery's URL schemes for a Sentinel service, and the core's scheme each one stands for.
SCHEMES = {"redis-sentinel": "redis+sentinel", "rediss-sentinel": "rediss+sentinel"}

# Options of the redis-py pool: Vedette passes them to its MasterPool, but for those kombu and
# Celery set themselves (they read RESP2 replies as bytes, and name themselves).
_POOL_OPTIONS = CLIENT_OPTIONS - {
    "decode_responses",
    "encoding",
    "encoding_errors",
    "lib_name",
    "lib_version",
    "protocol",
}
# kombu's and Celery's own transport options (kombu's Redis channel and transport, Celery's
# Redis result backend): passed on to them untouched.
_FRAMEWORK_OPTIONS = frozenset(
    {
        # kombu's virtual transport and Redis channel
        "ack_emulation",
        "body_encoding",
        "deadletter_queue",
        "fanout_patterns",
        "fanout_prefix",
        "global_keyprefix",
        "polling_interval",
        "priority_steps",
        "queue_order_strategy",
        "reauth_check_interval",
        "sep",
        "unacked_index_key",
        "unacked_key",
        "unacked_mutex_expire",
        "unacked_mutex_key",
        "unacked_restore_interval",
        "unacked_restore_limit",
        "unacked_restore_throttle",
        "visibility_timeout",
        # kombu's connection retry policy (Connection.ensure_connection, Producer.publish)
        "interval_max",
        "interval_start",
        "interval_step",
        "max_retries",
        # Celery's Redis result backend
        "additional_connection_errors",
        "result_chord_ordered",
        "retry_policy",
    }
)
_SENTINEL_WORDS = frozenset(
    {spec.name for spec in fields(SentinelConfig)}
    | {
        "master_name",
        "sentinel_kwargs",
        "connection_kwargs",
        "instances",
        "periodic_master_check",
        "nat_strict",
    }
)


@dataclass(frozen=True)
class CelerySettings:
    """What a Celery URL and its transport options say, sorted for their three readers.

    Attributes:
        config: The Sentinel service and how to reach it.
        pool_options: Keyword arguments for `vedette.MasterPool` (``max_connections`` ...).
        framework_options: kombu's and Celery's own options, untouched.
    """

    config: SentinelConfig
    pool_options: dict[str, Any]
    framework_options: dict[str, Any]


def core_url(url: str, *, setting: str) -> str:
    """``url`` with Celery's scheme replaced by the core's (``redis-sentinel`` -> ``redis+...``).

    Raises:
        ConfigurationError: The URL has another scheme; the message names ``setting``.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        shown = f"{scheme}://..." if separator else "a URL without a scheme"
        raise ConfigurationError(
            setting,
            f"expected redis-sentinel://[user:password@]host1:26379,host2:26379/service_name/db "
            f"(or rediss-sentinel:// for TLS), got {shown}",
        )
    return f"{SCHEMES[scheme.lower()]}://{rest}"


def celery_url(url: str) -> str:
    """``url`` with the core's scheme replaced by Celery's (``redis+sentinel`` -> ``redis-...``).

    Other URLs (Celery's own, ``redis://`` ...) are returned unchanged.
    """
    scheme, separator, rest = url.partition("://")
    for celery, core in SCHEMES.items():
        if separator and scheme.lower() == core:
            return f"{celery}://{rest}"
    return url


def split(
    url: str,
    options: Mapping[str, Any] | None = None,
    *,
    url_setting: str = "broker_url",
    options_setting: str = "broker_transport_options",
) -> CelerySettings:
    """Read a ``redis-sentinel://`` URL and its transport options.

    The URL gives the Sentinels, the service name, the database, Redis credentials and any
    `vedette.SentinelConfig` field as a query option; the transport options may repeat a setting
    only with the same value.

    Raises:
        ConfigurationError: The URL is malformed, an option is unknown, or the URL and the
            options disagree; the message names the setting as the user wrote it.
    """
    if not isinstance(url, str):
        raise ConfigurationError(url_setting, f"expected a URL string, got {type(url).__name__}")
    url = _seed_form(url, options or {}, url_setting, options_setting) or url
    sentinel: dict[str, Any] = {}
    pool: dict[str, Any] = {}
    framework: dict[str, Any] = {}
    for key, value in (options or {}).items():
        where = f"{options_setting}[{key!r}]"
        if not isinstance(key, str):
            raise ConfigurationError(where, "option names must be strings")
        name = key.lower() if key.isupper() else key
        if name in _POOL_OPTIONS:
            if value is not None:
                pool[name] = value
        elif name in _FRAMEWORK_OPTIONS:
            framework[key] = value
        elif name in RETRY_OPTIONS:  # Vedette retries through failovers itself
            continue
        elif name in _SENTINEL_WORDS:
            sentinel[key] = value
        else:
            raise ConfigurationError(
                where,
                "unknown option: neither a Vedette setting (SentinelConfig's fields, kombu's "
                "master_name and sentinel_kwargs, celery-redis-sentinel's sentinels and "
                "service_name) nor one of kombu's or Celery's Redis transport options",
            )
    try:
        config = SentinelConfig.from_url(
            core_url(url, setting=url_setting),
            sentinel,
            setting=url_setting,
            options_setting=options_setting,
        )
    except ConfigurationError as error:  # in the user's words: their scheme, not the core's
        problem = error.problem.replace("redis+sentinel://", "redis-sentinel://")
        raise ConfigurationError(error.setting, problem) from None
    return CelerySettings(config=config, pool_options=pool, framework_options=framework)


# celery-redis-sentinel's URL: scheme and an unused host, then only the database.
_DATABASE_ONLY = re.compile(r"^(?P<head>[^/?#]+://[^/?#]*)/(?P<db>[0-9]+)/?(?P<tail>[?#].*)?$")
_seed_urls_logged: set[str] = set()


def _seed_form(
    url: str, options: Mapping[str, Any], url_setting: str, options_setting: str
) -> str | None:
    """For celery-redis-sentinel's settings: the URL with the options' Sentinels and service.

    None unless the URL's path is only a database and the options name the Sentinels and the
    service (``sentinels`` with ``service_name`` or kombu's ``master_name``).
    """
    if (match := _DATABASE_ONLY.match(url)) is None:
        return None
    named = {key.lower(): value for key, value in options.items() if isinstance(key, str)}
    service = named.get("service_name", named.get("master_name"))
    if "sentinels" not in named or not isinstance(service, str):
        return None
    try:
        sentinels = SentinelConfig.from_mapping(
            {"sentinels": named["sentinels"], "service_name": service}
        ).sentinels
    except ConfigurationError as error:
        raise ConfigurationError(f"{options_setting}: {error.setting}", error.problem) from None
    host = match["head"].partition("://")[2].rpartition("@")[2]  # never the credentials
    if url_setting + host not in _seed_urls_logged:
        _seed_urls_logged.add(url_setting + host)
        _log.warning(
            "%s has celery-redis-sentinel's form (only a database): the Sentinels and the service "
            "come from %s, and the URL's host %r is not used; "
            "redis-sentinel://host1:26379,host2:26379/service_name/db says it all in the URL",
            url_setting,
            options_setting,
            host,
        )
    scheme, credentials = match["head"].partition("://")[::2]
    credentials = credentials.rpartition("@")[0]
    netloc = (f"{credentials}@" if credentials else "") + ",".join(map(str, sentinels))
    service_path = quote(service, safe="")
    return f"{scheme}://{netloc}/{service_path}/{match['db']}{match['tail'] or ''}"
