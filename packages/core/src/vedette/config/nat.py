"""NAT / address mapping: the addresses Sentinels report, translated to ones this client can reach.

Sentinels report masters, replicas and other Sentinels by the addresses *they* see. Behind NAT,
Docker port mapping or Kubernetes services those are not the addresses clients must dial. An
`AddressMap` translates exact ``host:port`` pairs; every address that crosses the boundary from a
Sentinel reply (or, later, a Sentinel event) goes through `AddressMap.translate`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from vedette.address import Address, AddressLike
from vedette.errors import ConfigurationError

__all__ = ["AddressMap"]

logger = logging.getLogger("vedette.nat")

SETTING = "nat"


class AddressMap:
    """Exact ``host:port`` → ``host:port`` translation.

    Keys and values may be written as ``"host:port"`` strings or ``(host, port)`` tuples; both
    forms name the same address. An address the map does not know passes through unchanged and
    is warned about once (a map that is empty translates nothing and warns about nothing); with
    ``strict=True`` it raises `ConfigurationError` instead, so a forgotten entry fails loudly.

    Examples:
        >>> nat = AddressMap({"10.0.0.5:6379": ("127.0.0.1", 16379)})
        >>> str(nat.translate(Address("10.0.0.5", 6379)))
        '127.0.0.1:16379'
    """

    def __init__(
        self,
        mapping: Mapping[AddressLike, AddressLike] | AddressMap | None = None,
        *,
        strict: bool = False,
    ) -> None:
        if isinstance(mapping, AddressMap):
            mapping = dict(mapping.items())
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ConfigurationError(
                SETTING, f"expected a mapping of address to address, got {type(mapping).__name__}"
            )
        table: dict[Address, Address] = {}
        for key, value in (mapping or {}).items():
            source = Address.parse(key, setting=SETTING)
            target = Address.parse(value, setting=SETTING)
            if table.get(source, target) != target:
                raise ConfigurationError(
                    SETTING, f"{source} is mapped twice, to {table[source]} and to {target}"
                )
            table[source] = target
        if strict and not table:
            raise ConfigurationError(SETTING, "strict mode needs at least one mapping")
        self._table = table
        self.strict = strict
        # Addresses already warned about. dict.setdefault is one atomic step, so concurrent
        # lookups warn once without a lock (and the map stays picklable and fork-safe).
        self._warned: dict[Address, object] = {}

    @classmethod
    def from_text(cls, text: str, *, strict: bool = False) -> AddressMap:
        """Read ``"from=to,from=to"``, as written in a URL option or an environment variable.

        Example: ``"10.0.0.5:6379=127.0.0.1:16379,10.0.0.6:6379=127.0.0.1:16380"``.
        """
        pairs: dict[AddressLike, AddressLike] = {}
        for entry in filter(None, (part.strip() for part in text.split(","))):
            source, equals, target = entry.partition("=")
            if not equals or not source.strip() or not target.strip():
                raise ConfigurationError(SETTING, f"expected 'host:port=host:port', got {entry!r}")
            if source.strip() in pairs:
                raise ConfigurationError(SETTING, f"{source.strip()} is mapped twice")
            pairs[source.strip()] = target.strip()
        return cls(pairs, strict=strict)

    def translate(self, address: Address) -> Address:
        """The address to dial for ``address`` as a Sentinel reported it.

        Raises:
            ConfigurationError: In strict mode, for an address the map does not know.
        """
        if not self._table:
            return address
        target = self._table.get(address)
        if target is not None:
            return target
        if self.strict:
            raise ConfigurationError(
                SETTING,
                f"a Sentinel reported {address}, which the address map does not know (strict "
                f"mode); add a mapping for it",
            )
        marker = object()
        if self._warned.setdefault(address, marker) is marker:
            logger.warning(
                "Address %s is not in the NAT map; using it unchanged (known: %s)",
                address,
                ", ".join(map(str, self._table)),
            )
        return address

    def items(self) -> Iterator[tuple[Address, Address]]:
        """The ``(reported, dialled)`` pairs."""
        return iter(self._table.items())

    def __len__(self) -> int:
        return len(self._table)

    def __bool__(self) -> bool:
        return bool(self._table)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AddressMap):
            return NotImplemented
        return self._table == other._table and self.strict == other.strict

    def __hash__(self) -> int:
        return hash((frozenset(self._table.items()), self.strict))

    def __repr__(self) -> str:
        table = {str(source): str(target) for source, target in self._table.items()}
        strict = ", strict=True" if self.strict else ""
        return f"AddressMap({table!r}{strict})"
