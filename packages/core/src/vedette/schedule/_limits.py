"""The limits of an entry, and the checks that keep everything computed from one in range.

An entry comes from anywhere: a program in any language pushing bytes to the inbox, a file
given to ``vedette schedule add``, a hash edited by hand. Every value is checked here before
any arithmetic sees it, so that no later step can raise on it: a datetime plus an interval, a
float made an integer, a JSON value encoded or decoded (Python's ``json`` recurses, and refuses
lone surrogates only when encoding to UTF-8). docs/schedule-schema.md lists these limits and
the error each gives; every error is a `ConfigurationError` naming the field.
"""

from __future__ import annotations

import json
import re
import reprlib
from datetime import datetime, timedelta, timezone
from typing import Any

from vedette.errors import ConfigurationError

MAX_DOCUMENT_BYTES = 65_536
"""The largest document, in bytes of UTF-8: as pushed to the inbox, and as JSON re-encoded."""

MAX_DEPTH = 32
"""How deep ``target.args``, ``target.kwargs`` and ``target.options`` may nest (``[]`` is 1)."""

MIN_EVERY = 0.001
MAX_EVERY = 366 * 86_400
"""The range of an interval, in seconds: a millisecond to 366 days."""

MAX_LATENESS = 366 * 86_400
"""The largest ``missed.max_lateness``, in seconds."""

MAX_CATCH_UP = 1_000_000
"""The largest ``missed.limit``."""

EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)
"""``schedule.at`` and ``schedule.start`` lie in [EARLIEST, LATEST)."""

LAST_SLOT = (datetime(9000, 1, 1, tzinfo=timezone.utc) - EARLIEST) // timedelta(milliseconds=1)
"""The latest slot (ms) a store may hold: the next run of a valid entry stays far below it,
and anything up to it is still a datetime (Python's end at year 9999)."""

PARSE_DEPTH = 100
"""How deep any JSON text read here may nest, checked before parsing (Python's parser recurses).
A document that nests deeper than `MAX_DEPTH` but not than this is parsed all the same, so that
its error can name the field."""

_TOKEN = re.compile(r'[\[\]{}"]|\\.', re.DOTALL)
_TOO_DEEP = "too deep"
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 60, 60, 60


def parse_json(setting: str, data: str | bytes, *, depth: int = PARSE_DEPTH) -> Any:
    """JSON text (or UTF-8 bytes) parsed, nested at most ``depth`` deep.

    Raises:
        ConfigurationError: Not UTF-8, not JSON, ``NaN`` or ``Infinity``, or nested deeper.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode()
        except UnicodeDecodeError as error:
            raise ConfigurationError(
                setting, f"is not UTF-8 text (byte {data[error.start]:#04x} at {error.start})"
            ) from None
    else:
        text = data
    if nested_deeper(text, depth):
        raise ConfigurationError(setting, f"nests deeper than {depth} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as error:  # json.JSONDecodeError, and the int digit limit of 3.11+
        raise ConfigurationError(setting, f"is not valid JSON: {error}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def nested_deeper(text: str, limit: int) -> bool:
    """Whether JSON ``text`` opens more than ``limit`` arrays and objects inside each other.

    Checked before parsing (Python's parser recurses, and a deep enough document exhausts the
    stack), in one pass: brackets inside strings do not count.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, quoted = 0, False
    for token in _TOKEN.findall(text):
        if token == '"':
            quoted = not quoted
        elif quoted or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def document_size(setting: str, document: dict[str, Any]) -> int:
    """The size of an entry's document (built from checked values) as compact JSON in UTF-8.

    Raises:
        ConfigurationError: It is larger than `MAX_DOCUMENT_BYTES`.
    """
    size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_DOCUMENT_BYTES:
        raise ConfigurationError(
            setting, f"is {size:,} bytes as JSON; the limit is {MAX_DOCUMENT_BYTES:,}"
        )
    return size


def json_bytes(setting: str, value: object, *, depth: int = MAX_DEPTH) -> bytes:
    """``value`` as compact JSON in UTF-8, if JSON carries it unchanged and it nests ``depth``.

    Raises:
        ConfigurationError: Nested too deep, not JSON data (a tuple, a set, a non-string key,
            ``NaN``), or holding a string that is not text (a lone surrogate).
    """
    problem = _shape(value, depth)
    if problem:
        too_deep = problem == _TOO_DEEP
        raise ConfigurationError(
            setting, f"nests deeper than {depth} levels" if too_deep else problem
        )
    try:
        return json.dumps(
            value, allow_nan=False, ensure_ascii=False, separators=(",", ":")
        ).encode()
    except UnicodeEncodeError:
        raise ConfigurationError(
            setting, "holds a string that is not text (a lone surrogate)"
        ) from None
    except (TypeError, ValueError) as error:
        raise ConfigurationError(setting, f"must be JSON data: {error}") from None


def _shape(value: object, limit: int) -> str:
    """What keeps ``value``'s lists and dicts from being JSON as they are; "" if nothing.

    They may nest ``limit`` deep (``value`` is the first level; the walk recurses no deeper,
    so even a structure too deep for ``json`` is told apart); tuples and non-string keys are
    refused because JSON would bring them back as lists and strings. Scalars are left to
    ``json.dumps``.
    """
    if isinstance(value, tuple):
        return "must be JSON data (lists, not tuples)"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "must be JSON data (string keys)"
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return ""
    for child in children:
        if isinstance(child, dict | list | tuple):
            if limit <= 1:
                return _TOO_DEEP
            problem = _shape(child, limit - 1)
            if problem:
                return problem
    return ""


def text(setting: str, value: object, what: str = "a non-empty string") -> str:
    """``value`` if it is a non-empty string of text (no lone surrogate).

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(setting, f"must be {what}, not {short(value)}")
    if not is_text(value):
        raise ConfigurationError(setting, f"is not text (a lone surrogate): {short(value)}")
    return value


def is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def number(setting: str, value: object, low: float, high: float, what: str) -> float:
    """``value`` if it is a number (not a bool) in [low, high]; NaN and infinities are not.

    Raises:
        ConfigurationError: It is not, with ``what`` as the rule.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigurationError(setting, f"must be {what}, not {short(value)}")
    return value


def moment(setting: str, value: object) -> datetime:
    """``value`` if it is an aware datetime in [`EARLIEST`, `LATEST`).

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ConfigurationError(setting, "must be a datetime with a time zone")
    # Compared as naive UTC: an aware comparison converts, and overflows at year 1 or 9999.
    offset = value.utcoffset()
    assert offset is not None
    naive = value.replace(tzinfo=None)
    low, high = EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    if not low + offset <= naive < high + offset:
        raise ConfigurationError(
            setting,
            f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC), "
            f"not {value.isoformat()}",
        )
    return value


def slot(value: float) -> int | None:
    """A score or slot (ms) as an integer, or None outside [0, `LAST_SLOT`] (or not finite)."""
    if not 0 <= value <= LAST_SLOT:  # NaN fails too
        return None
    return int(value)


def short(value: object) -> str:
    """``repr(value)``, cut short, for an error message: one line, bounded, no lone surrogate.

    ``reprlib`` limits the length and the depth; a value whose ``repr`` fails (an integer of
    4,300 digits on Python 3.11+, an object of the caller's) is named by its type.
    """
    try:
        return _REPR.repr(value)
    except Exception:
        return f"a value of type {type(value).__name__} that cannot be shown"


def decoded(value: bytes | str) -> str:
    """What Redis sent, as text.

    Bytes that are not UTF-8 (written by hand, in a name or a document) become lone surrogates
    (``surrogateescape``), so that `raw` gives them back.
    """
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def raw(text: str) -> bytes:
    """Text as the bytes to send Redis: those `decoded` read, for a name read from Redis.

    Any other lone surrogate (in a name a caller made up) is encoded as such: bytes no valid
    name has.
    """
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def printable(value: str | bytes, *, one_line: bool = True) -> str:
    r"""``value`` as text that can be written anywhere: valid UTF-8, on one line.

    Bytes that are not UTF-8 (in ``bytes``, or kept in a ``str`` as lone surrogates by the
    ``surrogateescape`` error handler) are shown as ``\xff``; line breaks as ``\n``, unless
    ``one_line`` is false.
    """
    data = raw(value) if isinstance(value, str) else value
    safe = data.decode("utf-8", "backslashreplace")
    return safe.replace("\r", "\\r").replace("\n", "\\n") if one_line else safe
