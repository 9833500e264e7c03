"""Network addresses: a ``(host, port)`` pair that prints as ``host:port``."""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

from vedette.errors import ConfigurationError

__all__ = ["Address", "AddressLike"]


class Address(NamedTuple):
    """A Redis or Sentinel address.

    It is a plain tuple, so it compares equal to ``("10.0.0.5", 6379)`` and can be passed wherever
    redis-py expects ``(host, port)``; ``str()`` gives ``10.0.0.5:6379`` (``[::1]:6379`` for IPv6).
    """

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, value: object, *, setting: str, default_port: int | None = None) -> Address:
        """Read an address written as ``"host:port"``, ``"[v6]:port"`` or ``(host, port)``.

        Args:
            value: What the user wrote.
            setting: The setting's name, for the error message.
            default_port: Port used when a string gives none; without it a port is required.

        Raises:
            ConfigurationError: The value is not an address; the message names ``setting``.
        """
        if isinstance(value, str):
            host, port = _split_host_port(value.strip(), setting, default_port)
        elif isinstance(value, tuple | list) and len(value) == 2:
            host, port = value[0], value[1]
        else:
            raise ConfigurationError(
                setting, f"expected 'host:port' or a (host, port) pair, got {value!r}"
            )
        if not isinstance(host, str) or not host.strip():
            raise ConfigurationError(setting, f"host must be a non-empty string, got {host!r}")
        return cls(host.strip(), _port(port, setting, f"{host}:{port}"))


AddressLike: TypeAlias = str | tuple[str, int]
"""What users may write for an address.

``"host:port"``, ``"[v6::addr]:port"`` or ``(host, port)``.
"""


def _split_host_port(text: str, setting: str, default_port: int | None) -> tuple[str, object]:
    if text.startswith("["):  # [v6::addr]:port
        end = text.find("]")
        if end < 0:
            raise ConfigurationError(setting, f"unclosed '[' in address {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigurationError(setting, f"unexpected {rest!r} after ']' in {text!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise ConfigurationError(
            setting, f"write IPv6 addresses in brackets, as [{text}]:port, got {text!r}"
        )
    else:
        host, port_text = text, None
    if port_text is None:
        if default_port is None:
            raise ConfigurationError(setting, f"address {text!r} has no port")
        return host, default_port
    return host, port_text


def _port(value: object, setting: str, shown: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigurationError(setting, f"port must be 1-65535, got {value!r} in {shown!r}")
    return value
