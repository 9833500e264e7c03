import logging

import pytest

from vedette import Address, AddressMap, ConfigurationError


def test_tuple_and_string_forms_are_the_same_address() -> None:
    nat = AddressMap({("10.0.0.5", 6379): "127.0.0.1:16379", "10.0.0.6:6379": ("127.0.0.1", 16380)})
    assert nat.translate(Address("10.0.0.5", 6379)) == Address("127.0.0.1", 16379)
    assert nat.translate(Address("10.0.0.6", 6379)) == Address("127.0.0.1", 16380)
    assert nat == AddressMap(
        {"10.0.0.5:6379": "127.0.0.1:16379", "10.0.0.6:6379": "127.0.0.1:16380"}
    )
    assert len(nat) == 2


def test_unknown_address_passes_through_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    nat = AddressMap({"10.0.0.5:6379": "127.0.0.1:16379"})
    with caplog.at_level(logging.WARNING, logger="vedette.nat"):
        for _ in range(3):
            assert nat.translate(Address("10.0.0.9", 6379)) == Address("10.0.0.9", 6379)
        nat.translate(Address("10.0.0.8", 6379))
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert "10.0.0.9:6379 is not in the NAT map" in warnings[0]


def test_empty_map_translates_nothing_and_warns_about_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nat = AddressMap()
    assert not nat
    assert nat.translate(Address("10.0.0.9", 6379)) == ("10.0.0.9", 6379)
    assert not caplog.records


def test_strict_mode_raises_for_unknown_addresses() -> None:
    nat = AddressMap({"10.0.0.5:6379": "127.0.0.1:16379"}, strict=True)
    with pytest.raises(ConfigurationError, match=r"^nat: a Sentinel reported 10\.0\.0\.9:6379"):
        nat.translate(Address("10.0.0.9", 6379))


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ({"10.0.0.5": "127.0.0.1:1"}, "has no port"),
        ({"10.0.0.5:1": "127.0.0.1"}, "has no port"),
        ({"10.0.0.5:1": ("127.0.0.1",)}, "expected 'host:port'"),
        ({"10.0.0.5:1": "a:1", ("10.0.0.5", 1): "b:1"}, "mapped twice"),
        (["10.0.0.5:1"], "expected a mapping"),
    ],
)
def test_malformed_entries(mapping: object, words: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^nat: ") as caught:
        AddressMap(mapping)  # type: ignore[arg-type]
    assert words in str(caught.value)


def test_from_text() -> None:
    nat = AddressMap.from_text(" a:1=b:2 , [::1]:3=c:4 ")
    assert dict(nat.items()) == {
        Address("a", 1): Address("b", 2),
        Address("::1", 3): Address("c", 4),
    }
    with pytest.raises(ConfigurationError, match="host:port=host:port"):
        AddressMap.from_text("a:1")


def test_repr_and_hash() -> None:
    nat = AddressMap({"a:1": "b:2"}, strict=True)
    assert repr(nat) == "AddressMap({'a:1': 'b:2'}, strict=True)"
    assert hash(nat) == hash(AddressMap({("a", 1): ("b", 2)}, strict=True))
    assert nat != AddressMap({"a:1": "b:2"})
