"""The store's contract, on a Sentinel cluster and on a Redis Cluster: what is written, read,
paused and removed."""

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import redis

import vedette
from vedette.schedule import (
    Crontab,
    Entry,
    Interval,
    MissedRuns,
    Once,
    ScheduleStore,
    Target,
)
from vedette.testing import LocalRedisCluster, SentinelCluster


@pytest.fixture(params=["sentinel", "redis-cluster"])
def store(request: pytest.FixtureRequest, prefix: str) -> Iterator[ScheduleStore]:
    """A store through Vedette's client on a Sentinel cluster, or on a Redis Cluster."""
    if request.param == "sentinel":
        cluster: SentinelCluster = request.getfixturevalue("cluster")
        client = vedette.connect(cluster.url)
        yield ScheduleStore(client, prefix=prefix)
        client.close()
    else:
        nodes: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        yield ScheduleStore(nodes.client(), prefix=prefix)


NOW = datetime(2026, 12, 4, 12, 0, 10, tzinfo=timezone.utc).timestamp()


def entry(name: str = "tick", every: float = 60, **options: object) -> Entry:
    target = Target(framework="rq", name="app.jobs.tick", queue="default")
    return Entry(name=name, target=target, schedule=Interval(every=every), **options)  # type: ignore[arg-type]


def test_an_entry_is_written_and_read_back(store: ScheduleStore) -> None:
    nightly = Entry(
        name="nightly",
        target=Target(framework="celery", name="reports.nightly", args=[1], kwargs={"full": True}),
        schedule=Crontab(cron="30 1 * * *", zone="America/New_York"),
        missed=MissedRuns(policy="catch_up", limit=2),
    )
    next_run = store.add(nightly, now=NOW)
    assert next_run == datetime(2026, 12, 5, 6, 30, tzinfo=timezone.utc)  # 01:30 EST
    stored = store.get("nightly")
    assert stored is not None
    assert (stored.entry, stored.next_run, stored.runs, stored.problem) == (
        nightly,
        next_run,
        0,
        None,
    )
    assert store.get("nothing") is None


def test_rewriting_an_entry_keeps_its_place_unless_its_schedule_changes(
    store: ScheduleStore,
) -> None:
    first = store.add(entry(), now=NOW)
    assert first == datetime(2026, 12, 4, 12, 1, tzinfo=timezone.utc)
    renamed_task = Entry(
        name="tick",
        target=Target(framework="rq", name="app.jobs.other"),
        schedule=Interval(every=60),
    )
    assert store.add(renamed_task, now=NOW + 3600) == first
    stored = store.get("tick")
    assert stored is not None
    assert stored.entry == renamed_task
    assert store.add(entry(every=30), now=NOW + 3600) == datetime(
        2026, 12, 4, 13, 0, 30, tzinfo=timezone.utc
    )


def test_many_entries_are_written_together_as_each_would_be_alone(store: ScheduleStore) -> None:
    written = store.add_many((entry(f"e{n:04}", every=60 + n) for n in range(2500)), now=NOW)
    assert written == 2500
    assert len(store.names()) == 2500
    alone = store.get("e0042")
    assert alone is not None
    assert alone.entry == entry("e0042", every=102)
    assert alone.next_run == store.add(entry("e0042", every=102), now=NOW)


def test_statics_are_replaced_and_other_entries_left_alone(store: ScheduleStore) -> None:
    store.add(entry("by-hand"), now=NOW)
    assert store.replace_statics("celery", [entry("a"), entry("b")], now=NOW) == []
    kept = store.get("a")
    later = NOW + 45  # a's next run (the minute's 12:01:00) has not changed
    assert store.replace_statics("celery", [entry("a"), entry("c")], now=later) == ["b"]
    assert sorted(store.names()) == ["a", "by-hand", "c"]
    again = store.get("a")
    assert kept is not None
    assert again is not None
    assert again.next_run == kept.next_run
    # Paused by hand, it stays paused when declared again, even changed.
    assert store.pause("a")
    store.replace_statics("celery", [entry("a", every=30), entry("c")], now=NOW)
    paused = store.get("a")
    assert paused is not None
    assert paused.entry == entry("a", every=30, enabled=False)
    assert paused.next_run is None
    # Another source's statics are its own; an empty declaration removes them all.
    assert store.replace_statics("other", [entry("d")], now=NOW) == []
    assert store.replace_statics("celery", [], now=NOW) == ["a", "c"]
    assert sorted(store.names()) == ["by-hand", "d"]


def test_statics_declared_twice_or_under_a_bad_source_are_refused(store: ScheduleStore) -> None:
    with pytest.raises(vedette.ConfigurationError, match="twice: is declared twice"):
        store.replace_statics("celery", [entry("twice"), entry("twice")])
    with pytest.raises(vedette.ConfigurationError, match="source: must be a lower-case name"):
        store.replace_statics("Celery Beat", [])
    assert store.names() == []


def test_pause_resume_run_now_and_remove(store: ScheduleStore) -> None:
    store.add(entry(), now=NOW)
    assert store.pause("tick")
    paused = store.get("tick")
    assert paused is not None
    assert paused.next_run is None
    assert paused.entry is not None
    assert paused.entry.enabled is False
    assert store.resume("tick", now=NOW + 600)
    resumed = store.get("tick")
    assert resumed is not None
    assert resumed.next_run == datetime(2026, 12, 4, 12, 11, tzinfo=timezone.utc)
    assert store.run_now("tick", now=NOW + 5)
    due = store.get("tick")
    assert due is not None
    assert due.next_run == datetime(2026, 12, 4, 12, 0, 15, tzinfo=timezone.utc)
    assert store.remove("tick")
    assert store.get("tick") is None
    assert not store.remove("tick")
    assert not store.pause("tick")
    assert not store.resume("tick")
    assert not store.run_now("tick")


def test_a_paused_entry_written_again_stays_paused_and_a_past_once_keeps_its_time(
    store: ScheduleStore,
) -> None:
    assert store.add(entry(enabled=False), now=NOW) is None
    at = datetime(2026, 12, 4, 11, 0, tzinfo=timezone.utc)
    once = Entry(name="once", target=Target(framework="rq", name="f"), schedule=Once(at=at))
    assert store.add(once, now=NOW) == at  # the missed-run policy decides whether it runs


def test_entries_are_listed_next_first_with_every_page(store: ScheduleStore) -> None:
    for n in range(25):
        store.add(entry(f"e{n:02}", every=60 + n), now=NOW)
    store.add(entry("paused", enabled=False), now=NOW)
    listed = list(store.entries(batch=7))
    assert [e.name for e in listed][-1] == "paused"
    assert len(listed) == 26
    times = [e.next_run for e in listed[:-1]]
    assert times == sorted(t for t in times if t is not None)
    assert store.names() == [e.name for e in listed]


def test_next_runs_carry_the_entry_s_offset(store: ScheduleStore) -> None:
    store.add(
        Entry(
            name="hourly",
            target=Target(framework="rq", name="f"),
            schedule=Crontab(cron="15 * * * *", zone="America/New_York"),
        ),
        now=NOW,
    )
    runs = store.next_runs(
        "hourly", 3, now=datetime(2026, 11, 1, 5, 0, tzinfo=timezone.utc).timestamp()
    )
    assert [run.isoformat() for run in runs] == [
        "2026-11-01T01:15:00-04:00",
        "2026-11-01T01:15:00-05:00",
        "2026-11-01T02:15:00-05:00",
    ]


def test_an_unreadable_entry_is_reported_not_raised(store: ScheduleStore) -> None:
    store.add(entry(), now=NOW)
    store.client.hset(store.entry_key("tick"), "s", '{"cron": "99 * * * *"}')
    stored = store.get("tick")
    assert stored is not None
    assert stored.entry is None
    assert stored.problem is not None
    assert "schedule.cron" in stored.problem
    assert [e.name for e in store.entries()] == ["tick"]


def test_a_store_answers_through_a_client_that_decodes(cluster: SentinelCluster) -> None:
    client = vedette.connect(cluster.url, decode_responses=True)
    store = ScheduleStore(client, prefix="decoding")
    store.add(entry(), now=NOW)
    stored = store.get("tick")
    assert stored is not None
    assert stored.entry == entry()
    assert store.names() == ["tick"]
    client.close()


def test_every_key_of_a_store_is_in_one_cluster_slot(store: ScheduleStore) -> None:
    keys = [
        store.due_key,
        store.leader_key,
        store.fence_key,
        store.inbox_key,
        store.rejected_key,
        store.entry_key("any name"),
        store.statics_key("celery"),
    ]
    assert {key[: key.index("}") + 1] for key in keys} == {f"{{{store.prefix}}}"}


def test_an_entry_costs_under_400_bytes_of_redis_memory(store: ScheduleStore) -> None:
    client = store.client
    for n in range(200):
        store.add(entry(f"cleanup-{n:05}", every=300 + n), now=NOW)
    hash_bytes = int(client.memory_usage(store.entry_key("cleanup-00100"), samples=0))
    zset_bytes = int(client.memory_usage(store.due_key, samples=0)) / 200
    assert hash_bytes + zset_bytes < 400, (hash_bytes, zset_bytes)


@pytest.mark.parametrize("prefix", ["", "a{b}", 3])
def test_a_bad_prefix_is_refused(prefix: object) -> None:
    with pytest.raises(vedette.ConfigurationError, match="prefix"):
        ScheduleStore(redis.Redis(), prefix=prefix)  # type: ignore[arg-type]
