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
import itertools
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from vedette.errors import ConfigurationError
from vedette.schedule import _limits, _scripts
from vedette.schedule._entry_hash import compact, decode, encode, history
from vedette.schedule.entries import FRAMEWORK_NAME, Entry
from vedette.schedule.timing import Crontab, Once, from_millis, to_millis

__all__ = ["DEFAULT_PREFIX", "ScheduleStore", "StoredEntry"]

DEFAULT_PREFIX = "vedette:schedule"
"""The prefix of a store's keys unless another is given."""

_REJECTED_KEPT = 100
_REJECTED_SHOWN = 1024  # bytes of a document too large to keep whole in its record


def _score(millis: int | None) -> str:
    return "+inf" if millis is None else str(millis)


def _millis(score: float | bytes | str | None) -> int | None:
    """A score as milliseconds; None for ``+inf`` (no next run) or a missing member.

    Raises:
        ConfigurationError: The score is not a slot (below 0, or beyond year 9000: set by
            hand), so the entry's next run cannot be told.
    """
    if score is None:
        return None
    number = float(_limits.decoded(score)) if isinstance(score, bytes | str) else score
    if number == float("inf"):
        return None
    millis = _limits.slot(number)
    if millis is None:
        raise ConfigurationError(
            "score", f"{number!r} is not a run time (the entry's score in the due set)"
        )
    return millis


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
    """Why the entry cannot be read, if it cannot: its definition, its history or its score
    breaks a rule (it was written by hand), or its key is not a hash."""

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

    Examples:
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

    def _key(self, name: str) -> bytes:
        """`entry_key`, as bytes: a name read from Redis may hold bytes that are not UTF-8."""
        return _limits.raw(self.entry_key(name))

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
        return sorted(_limits.decoded(name) for name in stale)

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
        keys: list[str | bytes] = [self.due_key, self._key(name)]
        return bool(self._remove(keys=keys, args=[_limits.raw(name)]))

    def pause(self, name: str) -> bool:
        """Stop an entry from running (it keeps its history); False if there is no such entry."""
        keys: list[str | bytes] = [self.due_key, self._key(name)]
        return bool(self._set_paused(keys=keys, args=[_limits.raw(name), "+inf", "1"]))

    def resume(self, name: str, *, now: float | None = None) -> bool:
        """Let a paused entry run again; False if there is no such entry.

        It runs from its next run after now: runs missed while it was paused are not made up.
        """
        stored = self.get(name)
        if stored is None:
            return False
        if stored.entry is None:
            raise ConfigurationError(
                _limits.printable(name), f"cannot be resumed: {stored.problem}"
            )
        score = _score(first_run(stored.entry, to_millis_now(now)))
        keys: list[str | bytes] = [self.due_key, self._key(name)]
        return bool(self._set_paused(keys=keys, args=[_limits.raw(name), score, "0"]))

    def run_now(self, name: str, *, now: float | None = None) -> bool:
        """Make an entry due now; False if there is no such entry.

        The leader dispatches one run at once, then carries on with the schedule (a paused entry
        stays paused).
        """
        keys: list[str | bytes] = [self.due_key, self._key(name)]
        return bool(self._run_now(keys=keys, args=[_limits.raw(name), to_millis_now(now)]))

    # --- Reading -------------------------------------------------------------------------------

    def get(self, name: str) -> StoredEntry | None:
        """An entry and its history; None if there is no such entry.

        An entry that cannot be read (its hash written by hand, say) is returned all the same,
        with the reason in ``problem``.
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self._key(name))
        pipe.zscore(self.due_key, _limits.raw(name))
        fields, score = pipe.execute(raise_on_error=False)
        if not fields:
            return None
        return _stored(name, fields, score)

    def names(self) -> list[str]:
        """Every entry's name, the next to run first."""
        return [_limits.decoded(name) for name in self.client.zrange(self.due_key, 0, -1)]

    def entries(self, *, batch: int = 500) -> Iterator[StoredEntry]:
        """Every entry, the next to run first, read ``batch`` at a time.

        Entries that cannot be read are among them, with the reason in ``problem``.
        """
        start = 0
        while True:
            page = self.client.zrange(self.due_key, start, start + batch - 1, withscores=True)
            if not page:
                return
            pipe = self.client.pipeline(transaction=False)
            for name, _ in page:
                pipe.hgetall(self._key(_limits.decoded(name)))
            for (name, score), fields in zip(page, pipe.execute(raise_on_error=False), strict=True):
                if fields:
                    yield _stored(_limits.decoded(name), fields, score)
            start += batch

    def next_runs(self, name: str, count: int, *, now: float | None = None) -> list[datetime]:
        """The entry's next ``count`` run times after now, each with its zone's offset.

        Fewer if the schedule ends, or reaches year 9000.

        Raises:
            ConfigurationError: There is no such entry, or it cannot be read.
        """
        stored = self.get(name)
        if stored is None:
            raise ConfigurationError(_limits.printable(name), "is not an entry of this store")
        if stored.entry is None:
            raise ConfigurationError(_limits.printable(name), f"cannot be read: {stored.problem}")
        schedule = stored.entry.schedule
        zone = schedule.tz if isinstance(schedule, Crontab) else None
        runs: list[datetime] = []
        after = to_millis_now(now)
        while len(runs) < count:
            following = schedule.next_after(after)
            if following is None or following > _limits.LAST_SLOT:
                break
            runs.append(from_millis(following) if zone is None else from_millis(following, zone))
            after = following
        return runs

    def rejected(self) -> list[dict[str, Any]]:
        """Documents refused from the inbox, newest first, as ``{"document", "error"}``.

        A record that is not JSON (pushed by hand) is returned as its text under ``document``,
        with ``error`` None.
        """
        records = []
        for item in self.client.lrange(self.rejected_key, 0, -1):
            text = _limits.decoded(item)
            try:
                # The store writes one flat object; anything else was pushed by hand.
                record = None if _limits.nested_deeper(text, 1) else json.loads(text)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                record = {"document": _limits.printable(text), "error": None}
            records.append(record)
        return records

    def reject(self, document: str | bytes, error: str, *, size: int | None = None) -> None:
        """Record a document refused from the inbox (the last 100 are kept).

        Args:
            document: The document as pushed (bytes that are not UTF-8 are shown escaped), or
                the start of one too large to keep whole.
            error: Why it was refused.
            size: The size in bytes of a document of which only the start is given.
        """
        text = _limits.printable(document, one_line=False)
        if size is not None:
            text = f"{text[:_REJECTED_SHOWN]}... ({size:,} bytes)"
        record = {"document": text, "error": _limits.printable(error)}
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(self.rejected_key, compact(record))
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


def _stored(name: str, raw: Any, score: Any) -> StoredEntry:
    """What the store holds for ``name``: its hash (or the error reading it) and its score."""
    if isinstance(raw, Exception):  # the key is not a hash: WRONGTYPE, say
        raw, problem = {}, f"its key cannot be read: {raw}"
    else:
        problem = None
    fields = {_limits.decoded(key): _limits.decoded(value) for key, value in raw.items()}
    entry: Entry | None = None
    last, runs, next_run = None, 0, None
    try:
        entry = decode(name, fields)
        last, runs, _ = history(fields)
        next_run = _millis(score if not isinstance(score, Exception) else None)
    except ConfigurationError as error:
        problem = problem or str(error)
        entry = None
    err = fields.get("err")
    return StoredEntry(
        name=name,
        entry=entry,
        problem=None if problem is None else _limits.printable(problem),
        next_run=None if next_run is None else from_millis(next_run),
        last_run=None if last is None else from_millis(last),
        runs=runs,
        last_error=None if err is None else _limits.printable(err),
    )
