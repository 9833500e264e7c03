"""Entry documents for the property-based tests: valid ones, nearly valid ones, and any bytes.

What a program in any language may push to the inbox: raw bytes, JSON of any shape, valid
documents, and valid documents with one field set to a value from that field's edges (huge and
tiny numbers, dates at the ends of the calendar, lone surrogates, deep nesting, megabytes).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import Phase, settings
from hypothesis import strategies as st

FRAMEWORK = "test"  # the framework the tests' runners have a dispatcher for


def valid(name: str, every: float = 1) -> dict[str, Any]:
    return {
        "name": name,
        "target": {"framework": FRAMEWORK, "name": "app.jobs.tick"},
        "schedule": {"every": every},
    }


def nested(depth: int) -> str:
    """JSON text of ``depth`` lists inside each other."""
    return "[" * depth + "]" * depth


# Documents that must stop nothing: each is refused, and `vedette beat` goes on for every entry.
_HEAD = '{"name":"bad","target":{"framework":"test","name":"x"'
_EVERY = '},"schedule":{"every":1}}'
ISSUE_DOCUMENTS: dict[str, bytes] = {
    "bytes that are not UTF-8": b'{"name":"caf\xe9","target":{"framework":"test"}}',
    "every 1e308": json.dumps({**valid("bad"), "schedule": {"every": 1e308}}).encode(),
    "every 1e20": json.dumps({**valid("bad"), "schedule": {"every": 1e20}}).encode(),
    "at in year 0001": (_HEAD + '},"schedule":{"at":"0001-01-01T00:00:00+01:00"}}').encode(),
    "at in year 9999": (_HEAD + '},"schedule":{"at":"9999-12-31T23:59:59-01:00"}}').encode(),
    "args 100,000 deep": (_HEAD + ',"args":' + nested(100_000) + _EVERY).encode(),
    "args 10,000 deep": (_HEAD + ',"args":' + nested(10_000) + _EVERY).encode(),
    "a lone surrogate in args": (_HEAD + ',"args":["\\ud800"]' + _EVERY).encode(),
    "1 MB of args": (_HEAD + ',"args":["' + "x" * 1_000_000 + '"]' + _EVERY).encode(),
}

# --- Values from the edges ----------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, 0.0001, 0.001, 1, 59.5, 1e20, 1e308, -1e308, 2**63, 10**40, 31_622_400, 31_622_401]
    ),
    st.integers(),
    st.floats(),  # NaN and the infinities included: json.dumps writes them as NaN, Infinity
)
_OFFSETS = st.sampled_from(["Z", "+00:00", "+01:00", "-01:00", "+23:59", "-23:59", ""])
_DAYS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23))
_CALENDAR_EDGES = st.sampled_from(
    [datetime(1, 1, 1), datetime(1969, 12, 31, 23), datetime(2999, 12, 31, 23, 59)]
)
_MOMENTS = st.builds(
    lambda day, offset: day.isoformat() + offset, _DAYS | _CALENDAR_EDGES, _OFFSETS
) | st.text(max_size=30)
_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(["", " ", "x" * 201, "Europe/Berlin", "Mars/Olympus", "../etc/passwd", "\x00"]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)
_DEEP = st.integers(min_value=30, max_value=40).map(lambda depth: json.loads(nested(depth)))

# For each field, values from its edges: in range and out of it.
_EDGES: dict[str, st.SearchStrategy[Any]] = {
    "name": _TEXT,
    "color": _SCALARS,
    "enabled": _SCALARS,
    "target": _JSON,
    "target.framework": _TEXT,
    "target.name": _TEXT,
    "target.queue": _TEXT | st.none(),
    "target.args": _DEEP | _JSON | st.lists(_TEXT, max_size=2),
    "target.kwargs": _JSON | st.dictionaries(_TEXT, _DEEP, max_size=1),
    "target.options": _JSON,
    "schedule": _JSON,
    "schedule.every": _NUMBERS,
    "schedule.start": _MOMENTS,
    "schedule.at": _MOMENTS,
    "schedule.cron": _TEXT,
    "schedule.zone": _TEXT,
    "missed": _JSON,
    "missed.policy": _TEXT,
    "missed.limit": _NUMBERS,
    "missed.max_lateness": _NUMBERS,
}

# --- Valid documents ----------------------------------------------------------------------------

_IN_RANGE = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30), timezones=st.timezones()
).map(datetime.isoformat)
_VALID_SCHEDULES = st.one_of(
    st.fixed_dictionaries({"every": st.integers(1, 31_622_400) | st.floats(0.001, 31_622_400)}),
    st.fixed_dictionaries({"every": st.floats(0.001, 86_400), "start": _IN_RANGE}),
    st.fixed_dictionaries({"at": _IN_RANGE}),
    st.fixed_dictionaries(
        {"cron": st.sampled_from(["*/5 * * * *", "30 1 * * *", "0 0 L * *", "15 * * * MON#2"])},
        optional={"zone": st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"])},
    ),
)
_VALID_MISSED = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "policy": st.sampled_from(["skip", "once"]),
            "max_lateness": st.integers(0, 31_622_400) | st.floats(0, 31_622_400),
        },
    ),
    st.fixed_dictionaries({"policy": st.just("catch_up"), "limit": st.integers(1, 1_000_000)}),
)
_PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def valid_documents(names: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Documents that break no rule (for a runner with a ``test`` dispatcher: not ``celery``)."""
    return st.fixed_dictionaries(
        {
            "name": names,
            "target": st.fixed_dictionaries(
                {
                    "framework": st.sampled_from([FRAMEWORK, FRAMEWORK, FRAMEWORK, "celery"]),
                    "name": st.just("app.jobs.tick"),
                },
                optional={"args": st.lists(_PLAIN, max_size=3)},
            ),
            "schedule": _VALID_SCHEDULES,
        },
        optional={"enabled": st.booleans(), "missed": _VALID_MISSED},
    )


@st.composite
def _changed(draw: st.DrawFn, names: st.SearchStrategy[str]) -> dict[str, Any]:
    """A valid document with one field (``schedule.every``, say) set to one of its edges."""
    document = draw(valid_documents(names))
    path = draw(st.sampled_from(sorted(_EDGES)))
    *parents, leaf = path.split(".")
    node = document
    for parent in parents:
        if not isinstance(node.get(parent), dict):
            node[parent] = {}
        node = node[parent]
    node[leaf] = draw(_EDGES[path])
    return document


def _as_bytes(document: Any) -> bytes:
    # json.dumps writes NaN and Infinity, and escapes lone surrogates (\ud800): all legal
    # bytes to push, and all to be refused.
    return json.dumps(document).encode()


def _corrupted(data: bytes, at: int, byte: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([byte]) + data[at + 1 :]


def pushed(names: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """What a program may push to the inbox: a document of any kind, as bytes."""
    documents = valid_documents(names).map(_as_bytes)
    changed = _changed(names).map(_as_bytes)
    return st.one_of(
        documents,
        changed,
        changed,
        st.builds(_corrupted, documents, st.integers(), st.integers(0x80, 0xFF)),
        _JSON.map(_as_bytes),
        st.binary(max_size=64),
        # The issue's documents but the large ones (test_inbox.py pushes those): Hypothesis
        # keeps a representation of every example, and warns when it is large.
        st.sampled_from([data for data in ISSUE_DOCUMENTS.values() if len(data) < 1000]),
        st.integers(90, 300).map(
            lambda depth: (_HEAD + ',"args":' + nested(depth) + _EVERY).encode()
        ),
    )


def derandomized(max_examples: int) -> settings:
    """Hypothesis settings for these tests: the same examples on every run (CI passes or fails
    alike), no example database, and no shrinking (a failure shows the input it ran)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
