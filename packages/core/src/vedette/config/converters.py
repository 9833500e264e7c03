"""Turn what users write into typed setting values, or say precisely what is wrong.

Each converter takes the raw value (a native Python value, or text from a URL or an environment
variable) and the setting's name as the user wrote it, and returns the typed value or raises
`ConfigurationError`. `SentinelConfig` attaches one converter to each field, so the constructor,
`from_url` and `from_mapping` all validate through the same code.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import ssl
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeAlias

from vedette.address import Address
from vedette.config.nat import AddressMap
from vedette.errors import ConfigurationError

Converter: TypeAlias = Callable[[Any, str], Any]
CertReqs: TypeAlias = Literal["required", "optional", "none"]

SENTINEL_PORT = 26379
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_CERT_REQS: dict[object, CertReqs] = {
    "required": "required",
    "optional": "optional",
    "none": "none",
    ssl.CERT_REQUIRED: "required",
    ssl.CERT_OPTIONAL: "optional",
    ssl.CERT_NONE: "none",
}


def sentinel_addresses(value: object, setting: str) -> tuple[Address, ...]:
    """A non-empty list of distinct Sentinel addresses; the port defaults to 26379."""
    if isinstance(value, str):
        items: Iterable[object] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, tuple | list) and not _is_single_pair(value):
        items = value
    elif _is_single_pair(value):
        raise ConfigurationError(
            setting, f"expected a list of addresses, got one address {value!r}; wrap it in a list"
        )
    else:
        raise ConfigurationError(
            setting, f"expected a list of 'host:port' or (host, port), got {type(value).__name__}"
        )
    addresses = tuple(
        Address.parse(item, setting=setting, default_port=SENTINEL_PORT) for item in items
    )
    if not addresses:
        raise ConfigurationError(setting, "no Sentinels given; list at least one 'host:port'")
    seen: set[Address] = set()
    for address in addresses:
        if address in seen:
            raise ConfigurationError(setting, f"{address} is listed twice")
        seen.add(address)
    return addresses


def _is_single_pair(value: object) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def service_name(value: object, setting: str) -> str:
    """A non-empty name without spaces: the name the Sentinels monitor the master under."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(setting, f"must be a non-empty name, got {value!r}")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ConfigurationError(
            setting, f"must not contain spaces or control characters: {value!r}"
        )
    return value


def optional_text(value: object, setting: str) -> str | None:
    """A string, or None when unset (empty counts as unset).

    The error names the type, never the value: this also reads passwords.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(setting, f"must be a string, got {type(value).__name__}")
    return value


def seconds(value: object, setting: str) -> float:
    """A finite, positive number of seconds."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigurationError(
                setting, f"expected a number of seconds, got {value!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(setting, f"expected a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(
            setting, f"must be a finite number of seconds above 0, got {value!r}"
        )
    return float(value)


def seconds_or_off(value: object, setting: str) -> float | None:
    """Seconds, or None to switch off; ``0``, ``"off"`` and ``"none"`` also switch off."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"off", "none"}):
        return None
    if not isinstance(value, bool) and isinstance(value, str | int | float):
        with contextlib.suppress(ValueError):
            if float(value) == 0:
                return None
    return seconds(value, setting)


def count(value: object, setting: str) -> int:
    """A whole number, zero or more."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(setting, f"expected a whole number >= 0, got {value!r}")
    return value


def factor(value: object, setting: str) -> float:
    """A multiplier of at least 1."""
    number = seconds(value, setting)
    if number < 1:
        raise ConfigurationError(setting, f"must be at least 1, got {value!r}")
    return number


def boolean(value: object, setting: str) -> bool:
    """True or False; text may say 1/0, true/false, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(setting, f"expected true or false, got {value!r}")


def optional_boolean(value: object, setting: str) -> bool | None:
    """True, False, or None for "same as the related setting"."""
    return None if value is None else boolean(value, setting)


def cert_reqs(value: object, setting: str) -> CertReqs:
    """``"required"``, ``"optional"`` or ``"none"`` (the `ssl.CERT_*` constants are accepted)."""
    key = value.strip().lower() if isinstance(value, str) else value
    try:
        return _CERT_REQS[key]
    except (KeyError, TypeError):
        raise ConfigurationError(
            setting, f"expected 'required', 'optional' or 'none', got {value!r}"
        ) from None


def address_map(value: object, setting: str) -> AddressMap:
    """An `AddressMap`, a mapping of address to address, or text ``"from=to,from=to"``."""
    if value is None:
        return AddressMap()
    if isinstance(value, AddressMap):
        return value
    if isinstance(value, str):
        return AddressMap.from_text(value)
    return AddressMap(value)  # type: ignore[arg-type]  # AddressMap checks it is a mapping


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean X?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""
