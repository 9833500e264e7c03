"""`ScheduleStore`: the entries of one schedule in Redis, readable and writable from anywhere.

Layout (every key carries the hash tag ``{prefix}``, so a store lives in one Redis Cluster slot):

- ``{prefix}:due``: a sorted set of every entry's name, scored by its next run (milliseconds
  since the epoch); paused and finished entries, and entries that cannot be read, at ``+inf``.
- ``{prefix}:e:<name>``: one small hash per entry, its definition in short fields (``fw``
  framework, ``fn`` target name, ``q`` queue, ``a`` args, ``kw`` kwargs, ``o`` options, ``s``
  schedule, ``m`` missed-run policy, ``off`` paused; JSON where structured, defaults left out)
  and its history (``last``, ``n``, ``late``, ``err``). Short values keep Redis's compact
  encoding for the hash.
- ``{prefix}:inbox``: a list to which any program, in any language, pushes an entry's JSON
  document (docs/schedule-schema.md); the leading scheduler checks it and computes its next run.
  Documents it refuses go to ``{prefix}:rejected`` with the reason (the last 100).
- ``{prefix}:leader`` and ``{prefix}:fence``: the leader's lease and its fencing counter
  (`vedette.schedule.ScheduleRunner`).
- ``{prefix}:static:<source>``: the names of the entries a framework's configuration owns (for
  instance Celery's ``beat_schedule``), so that `ScheduleStore.replace_statics` deletes the ones
  dropped from it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from vedette.errors import ConfigurationError
from vedette.schedule import _scripts
from vedette.schedule.entries import (
    FRAMEWORK_NAME,
    Entry,
    MissedRuns,
    Target,
    entry_to_document,
    missed_from_document,
    schedule_from_document,
    schedule_to_document,
)
from vedette.schedule.timing import Crontab, Once, Schedule, from_millis, to_millis

__all__ = ["DEFAULT_PREFIX", "ScheduleStore", "StoredEntry"]

DEFAULT_PREFIX = "vedette:schedule"
"""The prefix of a store's keys unless another is given."""

_REJECTED_KEPT = 100


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _score(millis: int | None) -> str:
    return "+inf" if millis is None else str(millis)


def _millis(score: float | bytes | str | None) -> int | None:
    """A score as milliseconds; None for ``+inf`` (no next run) or a missing member."""
    if score is None:
        return None
    number = float(_text(score)) if isinstance(score, bytes | str) else score
    return None if number == float("inf") else int(number)


def encode(entry: Entry) -> dict[str, str]:
    """The hash fields of an entry's definition."""
    target = entry.target
    fields = {"fw": target.framework, "fn": target.name}
    if target.queue is not None:
        fields["q"] = target.queue
    for field, value in (("a", target.args), ("kw", target.kwargs), ("o", target.options)):
        if value:
            fields[field] = _compact(value)
    fields["s"] = _compact(schedule_to_document(entry.schedule))
    if entry.missed != MissedRuns():
        fields["m"] = _compact(entry_to_document(entry)["missed"])
    if not entry.enabled:
        fields["off"] = "1"
    return fields


def decode(name: str, fields: Mapping[str, str]) -> Entry:
    """An entry from its hash fields (checked as a document is: written by hand, it may be bad).

    The same definition is decoded once: a scheduler sees the same entries tick after tick. The
    entries returned are shared, and must not be changed (their ``target.args`` included).

    Raises:
        ConfigurationError: The fields do not make a valid entry.
    """
    return _decode(name, tuple(map(fields.get, _scripts.DEFINITION_FIELDS)))


@functools.lru_cache(maxsize=16384)
def _decode(name: str, definition: tuple[str | None, ...]) -> Entry:
    fields = {
        field: value
        for field, value in zip(_scripts.DEFINITION_FIELDS, definition, strict=True)
        if value is not None
    }
    try:
        target = Target(
            framework=fields["fw"],
            name=fields["fn"],
            queue=fields.get("q"),
            args=json.loads(fields["a"]) if "a" in fields else [],
            kwargs=json.loads(fields["kw"]) if "kw" in fields else {},
            options=json.loads(fields["o"]) if "o" in fields else {},
        )
        schedule = _schedule(fields["s"])
        missed = _missed(fields["m"]) if "m" in fields else MissedRuns()
    except KeyError as error:
        raise ConfigurationError(str(error.args[0]), "is missing from the entry's hash") from None
    except ValueError as error:
        if isinstance(error, ConfigurationError):
            raise
        raise ConfigurationError("entry", f"holds a field that is not JSON: {error}") from None
    return Entry(
        name=name, target=target, schedule=schedule, enabled="off" not in fields, missed=missed
    )


# Entries share few schedules and policies: each distinct one is parsed and checked once.
@functools.lru_cache(maxsize=4096)
def _schedule(text: str) -> Schedule:
    return schedule_from_document(json.loads(text))


@functools.lru_cache(maxsize=256)
def _missed(text: str) -> MissedRuns:
    return missed_from_document(json.loads(text))


def first_run(entry: Entry, now: int) -> int | None:
    """When a newly written (or resumed) entry runs first, seen at ``now`` (milliseconds).

    A `Once` keeps its time even if it has passed: the missed-run policy then decides.
    """
    if isinstance(entry.schedule, Once):
        return to_millis(entry.schedule.at)
    return entry.schedule.next_after(now)


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredEntry:
    """An entry as the store holds it: its definition and its history."""

    name: str
    """The entry's name."""

    entry: Entry | None
    """The definition; None if what Redis holds is not a valid entry (see ``problem``)."""

    problem: str | None
    """Why the definition cannot be read, if it cannot."""

    next_run: datetime | None
    """The next run (UTC); None when paused, finished or unreadable."""

    last_run: datetime | None
    """The time of the last run dispatched (its slot, UTC)."""

    runs: int
    """How many runs have been dispatched."""

    last_error: str | None
    """Why the last attempt failed, if it did."""


class ScheduleStore:
    """The schedule kept in Redis under one prefix.

    Works over any redis-py client: `vedette.connect`'s (it follows the master through
    failovers), a plain ``redis.Redis`` or a ``redis.cluster.RedisCluster``. The client may
    decode responses or not. Writes are single atomic scripts.

    Usage:
        >>> client = vedette.connect("redis+sentinel://h1,h2,h3/svc")  # doctest: +SKIP
        >>> store = ScheduleStore(client)  # doctest: +SKIP
        >>> store.add(entry)  # doctest: +SKIP
    """

    def __init__(self, client: redis.Redis | Any, *, prefix: str = DEFAULT_PREFIX) -> None:
        """Use the store under ``prefix`` through ``client``.

        Args:
            client: A redis-py client (``Redis`` or ``RedisCluster``).
            prefix: The store's key prefix; several stores can share a database.
        """
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(
                "prefix", f"must be a non-empty string without braces: {prefix!r}"
            )
        # Redis and RedisCluster share no typed base: the store uses what both offer.
        self.client: Any = client
        self.prefix = prefix
        tag = f"{{{prefix}}}"
        self.due_key = f"{tag}:due"
        self.leader_key = f"{tag}:leader"
        self.fence_key = f"{tag}:fence"
        self.inbox_key = f"{tag}:inbox"
        self.rejected_key = f"{tag}:rejected"
        self.entry_prefix = f"{tag}:e:"
        self._upsert = client.register_script(_scripts.UPSERT)
        self._set_paused = client.register_script(_scripts.SET_PAUSED)
        self._run_now = client.register_script(_scripts.RUN_NOW)
        self._remove = client.register_script(_scripts.REMOVE)
        self._statics = client.register_script(_scripts.STATICS)

    def __repr__(self) -> str:
        return f"ScheduleStore(prefix={self.prefix!r})"

    def entry_key(self, name: str) -> str:
        """The key of an entry's hash."""
        return f"{self.entry_prefix}{name}"

    # --- Writing -------------------------------------------------------------------------------

    def add(self, entry: Entry, *, now: float | None = None) -> datetime | None:
        """Add an entry, or replace the one of the same name; returns its next run (UTC).

        Replacing keeps the entry's history, and its next run too if the schedule is unchanged.
        """
        at = to_millis_now(now)
        fields = encode(entry)
        score = self._upsert(
            keys=[self.due_key, self.entry_key(entry.name)],
            args=[entry.name, _score(first_run(entry, at)), fields["s"], *_pairs(fields)],
        )
        millis = _millis(score)
        return None if millis is None else from_millis(millis)

    def add_many(
        self, entries: Iterable[Entry], *, now: float | None = None, chunk: int = 1000
    ) -> int:
        """`add` each entry, ``chunk`` to a round trip; how many were written.

        For a whole schedule at once (a framework's static entries at start-up): each entry is
        still one atomic script, they are only sent together.
        """
        at = to_millis_now(now)
        written = 0
        iterator = iter(entries)
        while batch := list(itertools.islice(iterator, chunk)):
            pipe = self._script_pipeline()
            for entry in batch:
                fields = encode(entry)
                self._upsert(
                    keys=[self.due_key, self.entry_key(entry.name)],
                    args=[entry.name, _score(first_run(entry, at)), fields["s"], *_pairs(fields)],
                    client=pipe,
                )
            pipe.execute()
            written += len(batch)
        return written

    def replace_statics(
        self, source: str, entries: Iterable[Entry], *, now: float | None = None
    ) -> list[str]:
        """Make ``entries`` the static entries of ``source``; the names of those removed.

        Static entries are the ones a framework's configuration declares (``source`` names it,
        ``"celery"`` for ``beat_schedule``). Each is added, or replaced (keeping its history, and
        its next run when its schedule is unchanged); the static entries of ``source`` that are no
        longer declared are deleted. Entries written otherwise (`add`, the CLI, the inbox) are
        left alone, unless ``source`` now declares one of the same name: it becomes static. A
        static entry paused (`pause`) stays paused. One script compares the declaration with
        the store; only entries that changed are written (a restart with the same declaration
        writes nothing).
        """
        if not isinstance(source, str) or not FRAMEWORK_NAME.fullmatch(source):
            raise ConfigurationError("source", f"must be a lower-case name, not {source!r}")
        declared = list(entries)
        names = [entry.name for entry in declared]
        if len(set(names)) != len(names):
            twice = next(name for name in names if names.count(name) > 1)
            raise ConfigurationError(twice, "is declared twice")
        arguments: list[str | bytes] = [self.entry_prefix]
        for entry in declared:
            arguments += [entry.name, _signature(encode(entry))]
        changed, paused, stale = self._statics(
            keys=[self.due_key, self.statics_key(source)], args=arguments
        )
        kept_paused = set(paused)
        self.add_many(
            (
                dataclasses.replace(declared[at - 1], enabled=False)
                if at in kept_paused
                else declared[at - 1]
                for at in changed
            ),
            now=now,
        )
        return sorted(_text(name) for name in stale)

    def statics_key(self, source: str) -> str:
        """The key of the set of ``source``'s static entries."""
        return f"{{{self.prefix}}}:static:{source}"

    def _script_pipeline(self) -> Any:
        """A pipeline that takes scripts.

        On Redis Cluster, the pipeline of the node holding the store's slot: redis-py before 6
        refuses scripts in a cluster pipeline.
        """
        node_of = getattr(self.client, "get_node_from_key", None)
        if node_of is None:
            return self.client.pipeline(transaction=False)
        return node_of(self.due_key).redis_connection.pipeline(transaction=False)

    def remove(self, name: str) -> bool:
        """Delete an entry and its history; False if there was none."""
        return bool(self._remove(keys=[self.due_key, self.entry_key(name)], args=[name]))

    def pause(self, name: str) -> bool:
        """Stop an entry from running (it keeps its history); False if there is no such entry."""
        keys = [self.due_key, self.entry_key(name)]
        return bool(self._set_paused(keys=keys, args=[name, "+inf", "1"]))

    def resume(self, name: str, *, now: float | None = None) -> bool:
        """Let a paused entry run again; False if there is no such entry.

        It runs from its next run after now: runs missed while it was paused are not made up.
        """
        stored = self.get(name)
        if stored is None:
            return False
        if stored.entry is None:
            raise ConfigurationError(name, f"cannot be resumed: {stored.problem}")
        score = _score(first_run(stored.entry, to_millis_now(now)))
        keys = [self.due_key, self.entry_key(name)]
        return bool(self._set_paused(keys=keys, args=[name, score, "0"]))

    def run_now(self, name: str, *, now: float | None = None) -> bool:
        """Make an entry due now; False if there is no such entry.

        The leader dispatches one run at once, then carries on with the schedule (a paused entry
        stays paused).
        """
        keys = [self.due_key, self.entry_key(name)]
        return bool(self._run_now(keys=keys, args=[name, to_millis_now(now)]))

    # --- Reading -------------------------------------------------------------------------------

    def get(self, name: str) -> StoredEntry | None:
        """An entry and its history; None if there is no such entry."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.entry_key(name))
        pipe.zscore(self.due_key, name)
        fields, score = pipe.execute()
        if not fields:
            return None
        return _stored(name, fields, score)

    def names(self) -> list[str]:
        """Every entry's name, the next to run first."""
        return [_text(name) for name in self.client.zrange(self.due_key, 0, -1)]

    def entries(self, *, batch: int = 500) -> Iterator[StoredEntry]:
        """Every entry, the next to run first, read ``batch`` at a time."""
        start = 0
        while True:
            page = self.client.zrange(self.due_key, start, start + batch - 1, withscores=True)
            if not page:
                return
            pipe = self.client.pipeline(transaction=False)
            for name, _ in page:
                pipe.hgetall(self.entry_key(_text(name)))
            for (name, score), fields in zip(page, pipe.execute(), strict=True):
                if fields:
                    yield _stored(_text(name), fields, score)
            start += batch

    def next_runs(self, name: str, count: int, *, now: float | None = None) -> list[datetime]:
        """The entry's next ``count`` run times after now, each with its zone's offset."""
        stored = self.get(name)
        if stored is None or stored.entry is None:
            raise ConfigurationError(name, "is not a readable entry of this store")
        schedule = stored.entry.schedule
        zone = schedule.tz if isinstance(schedule, Crontab) else None
        runs: list[datetime] = []
        after = to_millis_now(now)
        while len(runs) < count:
            following = schedule.next_after(after)
            if following is None:
                break
            runs.append(from_millis(following) if zone is None else from_millis(following, zone))
            after = following
        return runs

    def rejected(self) -> list[dict[str, Any]]:
        """Documents refused from the inbox, newest first, as ``{"document", "error"}``."""
        return [json.loads(item) for item in self.client.lrange(self.rejected_key, 0, -1)]

    def reject(self, document: str, error: str) -> None:
        """Record a document refused from the inbox (the last 100 are kept)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(self.rejected_key, _compact({"document": document, "error": error}))
        pipe.ltrim(self.rejected_key, 0, _REJECTED_KEPT - 1)
        pipe.execute()


def to_millis_now(now: float | None) -> int:
    """``now`` (seconds since the epoch; the current time if None) in milliseconds."""
    return int((time.time() if now is None else now) * 1000)


def _signature(fields: Mapping[str, str]) -> bytes:
    """The definition fields but ``off``, as the statics script compares them."""
    parts = []
    for field in _scripts.DEFINITION_FIELDS[:-1]:
        value = fields.get(field, "").encode()
        parts.append(b"%d:%s" % (len(value), value))
    return b"".join(parts)


def _pairs(fields: Mapping[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


def _stored(name: str, raw: Mapping[Any, Any], score: Any) -> StoredEntry:
    fields = {_text(key): _text(value) for key, value in raw.items()}
    entry: Entry | None = None
    problem: str | None = None
    try:
        entry = decode(name, fields)
    except ConfigurationError as error:
        problem = str(error)
    next_run = _millis(score)
    last = fields.get("last")
    return StoredEntry(
        name=name,
        entry=entry,
        problem=problem,
        next_run=None if next_run is None else from_millis(next_run),
        last_run=None if last is None else from_millis(int(float(last))),
        runs=int(fields.get("n", 0)),
        last_error=fields.get("err"),
    )
