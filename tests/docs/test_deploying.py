"""docs/deploying.md: its URLs and its NAT map read as the page says (configuration only)."""

from __future__ import annotations

import pytest

import vedette
from tests.docs.blocks import DOCS, marked_blocks, run_settings
from vedette import Address, SentinelConfig

PAGE = DOCS / "deploying.md"


def url(name: str) -> str:
    """A marked URL, written over several lines on the page: one line in practice."""
    return "".join(line.strip() for line in marked_blocks(PAGE)[name].splitlines())


def test_the_pages_blocks_are_all_read() -> None:
    assert sorted(marked_blocks(PAGE)) == ["nat", "url-bitnami", "url-outside"]


def test_the_nat_map_translates_what_the_sentinels_report_and_refuses_the_rest() -> None:
    config = run_settings(marked_blocks(PAGE)["nat"])["config"]
    assert isinstance(config, SentinelConfig)
    assert len(config.sentinels) == len(config.nat) // 2 == 3
    assert config.nat.translate(Address("172.18.0.3", 6379)) == ("localhost", 16380)
    # Each Sentinel as the others report it: a learned Sentinel is dialled through the map.
    reported = {config.nat.translate(Address(f"172.18.0.{n}", 26379)) for n in (5, 6, 7)}
    assert reported == set(config.sentinels)
    with pytest.raises(vedette.ConfigurationError, match="strict mode"):
        config.nat.translate(Address("172.18.0.9", 6379))


def test_a_client_outside_the_cluster_maps_every_announced_name() -> None:
    config = SentinelConfig.from_url(url("url-outside"))
    assert [str(a) for a in config.sentinels] == [
        "203.0.113.20:26379",
        "203.0.113.21:26379",
        "203.0.113.22:26379",
    ]
    assert config.nat.strict
    for node in range(3):
        name = f"redis-node-{node}.redis-headless.prod.svc.cluster.local"
        assert config.nat.translate(Address(name, 6379)) == (f"203.0.113.1{node}", 6379)
        assert config.nat.translate(Address(name, 26379)) == (f"203.0.113.2{node}", 26379)


def test_the_bitnami_url_lists_each_sentinel_pod_by_name() -> None:
    config = SentinelConfig.from_url(url("url-bitnami"))
    assert [str(a) for a in config.sentinels] == [
        f"my-release-redis-node-{node}.my-release-redis-headless.prod.svc.cluster.local:26379"
        for node in range(3)
    ]
    assert (config.service_name, config.password, config.sentinel_password) == (
        "mymaster",
        "PASSWORD",
        "PASSWORD",
    )
