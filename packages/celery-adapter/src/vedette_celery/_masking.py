"""Credentials kept out of what Celery and kombu show: URLs, transport options, settings reports.

Celery shows the broker and the result backend in many places: the worker's banner and logs
(``as_uri()``), ``celery inspect stats`` and Flower (kombu's ``Connection.info()``: the whole URL,
which kombu keeps as the connection's ``hostname``, and the transport options), and
``celery report``, ``inspect report`` and ``inspect conf`` (the settings, which Celery censors by
name: a setting whose name looks secret is masked, but neither a user name nor a URL's query
options are). Every password and user name is masked in all of them:

- `mask_url` and `mask_options` give the text shown;
- `MaskedURL` and `MaskedOptions` are what the transport leaves on kombu's connection in place of
  the URL and the options: they read as masked, and carry the real values for the connections
  kombu clones from it (`unmask`);
- `censor_celery_reports` makes Celery's settings reports mask user names, and show Vedette's
  URLs as `mask_url` does.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import vedette
from vedette_celery.settings import SCHEMES

__all__ = [
    "MaskedOptions",
    "MaskedURL",
    "censor_celery_reports",
    "mask_options",
    "mask_url",
    "unmask",
]

T = TypeVar("T")

# Names of the settings and URL options that hold a credential, in every vocabulary Vedette
# reads: username, password, sentinel_username, sentinel_password, sentinel_kwargs' and
# connection_kwargs' username and password, RQ's USERNAME and PASSWORD.
_CREDENTIAL = re.compile("password|username", re.IGNORECASE)


def mask_url(url: str, mask: str = "**") -> str:
    """``url`` with its user name, password and credential options read ``mask``.

    `vedette.redact_url` with kombu's mask: ``redis-sentinel://app:s3cret@h1/m/0?sentinel_password=x``
    reads ``redis-sentinel://**:**@h1/m/0?sentinel_password=**``.
    """
    return vedette.redact_url(url, mask)


def mask_options(options: Mapping[Any, Any], mask: str = "**") -> dict[Any, Any]:
    """A copy of transport ``options`` whose credentials (at any depth) read ``mask``."""
    masked: dict[Any, Any] = {}
    for key, value in options.items():
        if isinstance(key, str) and _CREDENTIAL.search(key) and value is not None:
            masked[key] = mask
        elif isinstance(value, Mapping):
            masked[key] = mask_options(value, mask)
        else:
            masked[key] = value
    return masked


class MaskedURL(str):
    """A URL that reads as `mask_url` shows it and keeps the real one as ``unmasked``.

    What kombu keeps as a connection's ``hostname``: everything that prints or sends it
    (``inspect stats``, Flower, logs) shows the masked text, while a connection kombu clones from
    it (``Connection.clone()``, pickling) gets this object, whose real URL the transport reads.
    It compares and hashes as the real URL, so kombu's pools keep connections with different
    credentials apart.
    """

    unmasked: str

    def __new__(cls, url: str) -> MaskedURL:
        """Mask ``url`` (a `MaskedURL` is masked again from its real URL)."""
        unmasked = unmask(url)
        masked = super().__new__(cls, mask_url(unmasked))
        masked.unmasked = unmasked
        return masked

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.unmasked == unmask(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.unmasked != unmask(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.unmasked)

    def __reduce__(self) -> tuple[type[MaskedURL], tuple[str]]:
        return MaskedURL, (self.unmasked,)


class MaskedOptions(dict[Any, Any]):
    """Transport options that read as `mask_options` shows them; the real ones are ``unmasked``.

    What kombu keeps as a connection's ``transport_options``, for the same reasons as
    `MaskedURL`. kombu's own options (``visibility_timeout`` ...) read as they are.
    """

    unmasked: Mapping[Any, Any]

    def __init__(self, options: Mapping[Any, Any]) -> None:
        unmasked = unmask(options)
        super().__init__(mask_options(unmasked))
        self.unmasked = unmasked

    def __reduce__(self) -> tuple[type[MaskedOptions], tuple[dict[Any, Any]]]:
        return MaskedOptions, (dict(self.unmasked),)


def unmask(value: T) -> T:
    """The real value behind a `MaskedURL` or `MaskedOptions`; anything else as it is."""
    if isinstance(value, MaskedURL | MaskedOptions):
        return value.unmasked  # type: ignore[return-value]  # the real value of the same kind
    return value


def censor_celery_reports() -> None:
    """Make Celery's settings reports mask what they show of Vedette's settings. Idempotent.

    ``celery report``, ``inspect report`` and ``inspect conf`` show the settings through
    ``celery.app.utils``: a setting named like a secret is masked, a result backend's URL goes
    through a sanitizer that masks only a password before ``@``, and any other URL is shown as
    it is. There is no hook to add to either, and the settings are the user's own values, so
    both are wrapped in place: a setting named like a user name is masked too
    (``sentinel_kwargs``' ``username``, ``sentinel_username``), and a Vedette URL under any
    name (``result_backend``, ``vedette_schedule_url`` ...) is shown as `mask_url` shows it.
    Other URLs are left to Celery.
    """
    from celery.app import utils

    censor = utils.filter_hidden_settings
    if not isinstance(censor, _CensorsVedetteSettings):
        utils.filter_hidden_settings = _CensorsVedetteSettings(censor)
    # Celery's own report line for the result backend (``results:``) sanitizes its URL directly:
    # with sanitize_url in Celery 5.7, kombu's maybe_sanitize_url in 5.3 to 5.6.
    for name in ("sanitize_url", "maybe_sanitize_url"):
        sanitizer = getattr(utils, name, None)
        if callable(sanitizer) and not isinstance(sanitizer, _MasksVedetteURLs):
            setattr(utils, name, _MasksVedetteURLs(sanitizer))


# Celery's mask in its settings reports.
_CELERY_MASK = "*" * 8
_USER_NAME = re.compile("username", re.IGNORECASE)
# Every scheme of a Vedette URL: Celery's, and the core's (vedette_schedule_url takes both).
_VEDETTE_SCHEMES = frozenset(SCHEMES) | frozenset(SCHEMES.values())


def _is_vedette_url(value: object) -> bool:
    return isinstance(value, str) and value.partition("://")[0].lower() in _VEDETTE_SCHEMES


class _CensorsVedetteSettings:
    """Celery's ``filter_hidden_settings``, also masking user names and Vedette's URLs."""

    def __init__(self, censor: Callable[[Mapping[Any, Any]], dict[Any, Any]]) -> None:
        self.censor = censor

    def __call__(self, conf: Mapping[Any, Any]) -> dict[Any, Any]:
        # Celery censors nested mappings by calling this module-level name again: through here.
        shown = self.censor(conf)
        for key, value in shown.items():
            if isinstance(key, str) and _USER_NAME.search(key) and isinstance(value, str):
                shown[key] = _CELERY_MASK
            elif _is_vedette_url(value):
                shown[key] = mask_url(unmask(value), _CELERY_MASK)
        return shown


class _MasksVedetteURLs:
    """One of Celery's URL sanitizers, with Vedette's URLs masked by `mask_url`."""

    def __init__(self, sanitizer: Callable[..., Any]) -> None:
        self.sanitizer = sanitizer
        # Its own default mask, for the calls that give none (Celery's bugreport).
        mask = inspect.signature(sanitizer).parameters.get("mask")
        default = None if mask is None else mask.default
        self.mask = default if isinstance(default, str) else "**"

    def __call__(self, url: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_vedette_url(url):
            mask = kwargs.get("mask", args[0] if args else self.mask)
            return mask_url(unmask(url), mask)
        return self.sanitizer(url, *args, **kwargs)
