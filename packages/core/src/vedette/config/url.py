"""Parse ``redis+sentinel://`` URLs into `SentinelConfig` keyword arguments.

``redis+sentinel://[user:password@]host1[:port][,host2[:port]...]/service_name[/db][?options]``;
``rediss+sentinel://`` switches TLS on. The credentials are Redis's; the Sentinels' own go in
the ``sentinel_username`` / ``sentinel_password`` options. The URL is never echoed with its
credentials: errors show `redact_url`'s form, as logs and reports should.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote

from vedette.config.converters import boolean, did_you_mean
from vedette.config.nat import AddressMap
from vedette.errors import ConfigurationError

SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
# Names of the options that hold a credential, in every vocabulary Vedette reads: username,
# password, sentinel_username, sentinel_password, RQ's USERNAME and PASSWORD ...
_CREDENTIAL = re.compile("password|username", re.IGNORECASE)
# Said by the URL's structure, so not accepted again as options.
_STRUCTURAL = frozenset({"sentinels", "service_name", "db", "username", "password", "ssl"})
_EXAMPLE = "redis+sentinel://host1:26379,host2:26379/mymaster"


def parse_url(url: str, *, fields: Collection[str]) -> dict[str, Any]:
    """Split ``url`` into keyword arguments for `SentinelConfig`; values stay as text.

    Args:
        url: The URL.
        fields: `SentinelConfig`'s field names; those not set by the URL's structure are the
            options its query string may carry.
    """
    if not isinstance(url, str):
        raise ConfigurationError("url", f"expected a string, got {type(url).__name__}")
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        shown = scheme if separator else redact_url(url)
        raise ConfigurationError(
            "url",
            f"must start with redis+sentinel:// or rediss+sentinel:// (TLS), got {shown!r}; "
            f"for example {_EXAMPLE}",
        )
    rest, _, query = rest.partition("?")
    rest = rest.partition("#")[0]
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")

    kwargs: dict[str, Any] = {"ssl": SCHEMES[scheme.lower()]}
    if at:
        username, _, password = userinfo.partition(":")
        kwargs["username"] = unquote(username)
        kwargs["password"] = unquote(password)
    if not hosts.strip(","):
        raise ConfigurationError(
            "sentinels", f"the URL names no Sentinel host; for example {_EXAMPLE}"
        )
    if any(not part.strip() for part in hosts.split(",")):
        raise ConfigurationError("sentinels", f"empty host in the Sentinel list {hosts!r}")
    kwargs["sentinels"] = hosts
    kwargs.update(_parse_path(path))
    kwargs.update(_parse_options(query, fields))
    return kwargs


def _parse_path(path: str) -> dict[str, object]:
    segments = path.strip("/").split("/") if path.strip("/") else []
    if not segments:
        raise ConfigurationError(
            "service_name", f"missing: write it as the URL's path, as in {_EXAMPLE}"
        )
    if len(segments) > 2:
        raise ConfigurationError(
            "url", f"the path must be /service_name or /service_name/db, got /{path}"
        )
    parsed: dict[str, object] = {"service_name": unquote(segments[0])}
    if len(segments) == 2:
        parsed["db"] = segments[1]
    return parsed


def _parse_options(query: str, fields: Collection[str]) -> dict[str, object]:
    known = sorted((set(fields) - _STRUCTURAL) | {"nat_strict"})
    options: dict[str, object] = {}
    nat_entries: list[str] = []
    for part in filter(None, query.split("&")):
        # Percent-decoding only, as in the user part: form decoding (parse_qsl) would turn a
        # "+" in a password into a space.
        name, equals, value = part.partition("=")
        if not equals:
            raise ConfigurationError("url", "malformed query string; write ?name=value&name=value")
        name, value = unquote(name), unquote(value)
        if name == "nat":  # one option per mapping, or comma-separated: both read the same
            nat_entries.append(value)
        elif name not in known:
            raise ConfigurationError(name, _unknown(name, known))
        elif name in options:
            raise ConfigurationError(name, "is given twice in the URL")
        else:
            options[name] = value
    strict = boolean(options.pop("nat_strict", False), "nat_strict")
    if nat_entries or strict:
        options["nat"] = AddressMap.from_text(",".join(nat_entries), strict=strict)
    return options


def _unknown(name: str, known: list[str]) -> str:
    hint = did_you_mean(name, known)
    if name in _STRUCTURAL:
        return f"is set by the URL itself, not as an option{hint}"
    return f"unknown URL option{hint}; known options: {', '.join(known)}"


def redact_url(url: str, mask: str = "***") -> str:
    """``url`` with its user name, password and credential options replaced by ``mask``.

    ``redis+sentinel://app:s3cret@h1,h2/mymaster/0?sentinel_password=hush`` reads
    ``redis+sentinel://***:***@h1,h2/mymaster/0?sentinel_password=***``: what is set stays
    visible, never its value. The URL is cut up as `parse_url` reads it, so a part taken for a
    credential is masked whatever characters it holds; any scheme is read so (a framework's
    ``redis-sentinel://``, a plain ``redis://``). Text without ``://`` holding an ``@`` is
    masked whole.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return mask if "@" in url else url
    rest, question, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{mask if user else ''}{colon and ':' + mask}@{hosts}"
    if query:
        query = "&".join(_mask_option(part, mask) for part in query.split("&"))
    return f"{scheme}{separator}{netloc}{slash}{path}{question}{query}"


def _mask_option(part: str, mask: str) -> str:
    """One ``name=value`` of a query, its value masked if the name is a credential's."""
    name, equals, _ = part.partition("=")
    return f"{name}={mask}" if equals and _CREDENTIAL.search(unquote(name)) else part
