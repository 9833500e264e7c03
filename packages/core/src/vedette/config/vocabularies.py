"""Read the settings users already have (kombu, RQ, the Sentinel add-ons) into a `SentinelConfig`.

Besides every `SentinelConfig` field under its own name, these are understood:

| Written as                                    | Vedette field            | Used by           |
|-----------------------------------------------|--------------------------|-------------------|
| ``master_name`` / ``MASTER_NAME``             | service_name             | kombu, RQ         |
| ``instances`` / ``INSTANCES``                 | sentinels                | RQ                |
| ``periodic_master_check``                     | reconcile_interval       | dramatiq-sentinel |
| ``sentinel_kwargs`` / ``SENTINEL_KWARGS``     | sentinel_* (see _NESTED) | kombu, RQ         |
| ``connection_kwargs`` / ``CONNECTION_KWARGS`` | Redis settings           | RQ                |
| ``nat_strict``                                | nat's strict mode        | Vedette           |

All-uppercase keys (RQ's ``SENTINEL`` dict) are read as their lowercase form. A value of None means
"not set". A field set twice (``PASSWORD`` and ``CONNECTION_KWARGS["password"]``) must agree;
so must a field set both by a URL and by the settings read with it (`read_mapping`'s ``given``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any, TypeVar, cast

from vedette.config.converters import boolean, did_you_mean
from vedette.config.nat import AddressMap
from vedette.errors import ConfigurationError

ConfigT = TypeVar("ConfigT")

_ALIASES = {
    "master_name": "service_name",
    "instances": "sentinels",
    "periodic_master_check": "reconcile_interval",
}
_TLS_FILES = {
    "ssl_ca_certs": "ssl_ca_certs",
    "ssl_certfile": "ssl_certfile",
    "ssl_keyfile": "ssl_keyfile",
    "ssl_cert_reqs": "ssl_cert_reqs",
    "ssl_check_hostname": "ssl_check_hostname",
}
# redis-py keyword arguments, as found in these nested dicts, and the fields they set.
_NESTED = {
    "connection_kwargs": {
        "db": "db",
        "username": "username",
        "password": "password",
        "socket_timeout": "socket_timeout",
        "socket_connect_timeout": "socket_connect_timeout",
        "ssl": "ssl",
        **_TLS_FILES,
    },
    "sentinel_kwargs": {
        "username": "sentinel_username",
        "password": "sentinel_password",
        "socket_timeout": "sentinel_socket_timeout",
        "socket_connect_timeout": "sentinel_connect_timeout",
        "ssl": "sentinel_ssl",
        **_TLS_FILES,  # one set of TLS files serves Redis and the Sentinels
    },
}


class _Collected:
    """Field values gathered from the mapping, with the key each came from."""

    def __init__(self, config_class: type[Any]) -> None:
        self.specs = {spec.name: spec for spec in dataclasses.fields(config_class)}
        self.values: dict[str, object] = {}
        self.written_as: dict[str, str] = {}

    def given(self, values: Mapping[str, object], written_as: str) -> None:
        """Take what another source (a URL) set: the fields it names, unless at their default."""
        for field, raw in values.items():
            spec = self.specs[field]
            value = spec.metadata["convert"](raw, written_as)
            default = spec.default_factory() if callable(spec.default_factory) else spec.default
            if value != default or default is MISSING:
                self.values[field] = value
                self.written_as[field] = written_as

    def put(self, field: str, raw: object, written_as: str) -> None:
        if raw is None:
            return
        value = self.specs[field].metadata["convert"](raw, written_as)
        if field in self.values and self.values[field] != value:
            raise ConfigurationError(
                written_as,
                f"conflicts with {self.written_as[field]}: both set {field}, to different values",
            )
        self.values[field] = value
        self.written_as.setdefault(field, written_as)


def read_mapping(
    config_class: type[ConfigT],
    settings: Mapping[str, Any],
    *,
    given: Mapping[str, object] | None = None,
    given_as: str = "url",
    label: str = "",
) -> ConfigT:
    """Build ``config_class`` (`SentinelConfig`) from ``settings``; see the module docstring.

    Args:
        config_class: The class to build.
        settings: The settings, in any vocabulary of the module's table.
        given: Field values another source set already (what a URL says), as text or values;
            one at its default counts as unset. ``settings`` may repeat one only with the same
            value.
        given_as: That source's name, for errors.
        label: Put before each key of ``settings`` in errors (``"broker_transport_options: "``).
    """
    if not isinstance(settings, Mapping):
        raise ConfigurationError(
            label.rstrip(": ") or "settings",
            f"expected a mapping of setting names, got {type(settings).__name__}",
        )
    collected = _Collected(config_class)
    if given is not None:
        collected.given(given, given_as)
    nat_strict = False
    for key, value in settings.items():
        if not isinstance(key, str):
            raise ConfigurationError(label + repr(key), "setting names must be strings")
        name = key.lower() if key.isupper() else key
        if name in _NESTED:
            _read_nested(collected, label + key, _NESTED[name], value)
        elif name == "nat_strict":
            nat_strict = value is not None and boolean(value, label + key)
        else:
            field = _ALIASES.get(name, name)
            if field not in collected.specs:
                hint = did_you_mean(name, [*collected.specs, *_ALIASES])
                raise ConfigurationError(
                    label + key,
                    f"unknown setting{hint}; SentinelConfig's fields are the names accepted",
                )
            collected.put(field, value, label + key)
    for field, spec in collected.specs.items():
        required = spec.default is MISSING and spec.default_factory is MISSING
        if required and field not in collected.values:
            also = [alias for alias, target in _ALIASES.items() if target == field]
            known_as = f" (or {', '.join(also)})" if also else ""
            raise ConfigurationError(field, f"is required{known_as}")
    if nat_strict:
        table = cast(AddressMap, collected.values.get("nat", AddressMap()))
        collected.values["nat"] = AddressMap(dict(table.items()), strict=True)
    try:
        return config_class(**collected.values)
    except ConfigurationError as error:
        written_as = collected.written_as.get(error.setting, error.setting)
        if written_as == error.setting:
            raise
        raise ConfigurationError(written_as, error.problem) from None


def _read_nested(collected: _Collected, key: str, table: dict[str, str], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            key, f"expected a dict of redis-py keyword arguments, got {type(value).__name__}"
        )
    for inner_key, inner_value in value.items():
        written_as = f"{key}[{inner_key!r}]"
        field = table.get(inner_key)
        if field is None and inner_value is None:
            continue  # None means "not set", as everywhere (RQ's own example writes one)
        if field is None:
            raise ConfigurationError(
                written_as, f"not supported here; supported keys: {', '.join(sorted(table))}"
            )
        collected.put(field, inner_value, written_as)
