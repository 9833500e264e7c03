import pytest

from vedette import Address, ConfigurationError


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("h:1", Address("h", 1)),
        (" h:1 ", Address("h", 1)),
        (("h", 1), Address("h", 1)),
        (["h", "2"], Address("h", 2)),
        ("[::1]:3", Address("::1", 3)),
        ("10.0.0.1:65535", Address("10.0.0.1", 65535)),
    ],
)
def test_parse(written: object, expected: Address) -> None:
    assert Address.parse(written, setting="x") == expected


def test_default_port_only_when_given() -> None:
    assert Address.parse("h", setting="x", default_port=26379) == ("h", 26379)
    with pytest.raises(ConfigurationError, match="x: address 'h' has no port"):
        Address.parse("h", setting="x")


@pytest.mark.parametrize("written", ["", ":1", ("", 1), ("h", 0), ("h", True), 5, ("h", 1, 2)])
def test_bad_addresses(written: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^x: "):
        Address.parse(written, setting="x")


def test_str() -> None:
    assert str(Address("h", 1)) == "h:1"
    assert str(Address("::1", 1)) == "[::1]:1"
    assert Address("h", 1) == ("h", 1)
