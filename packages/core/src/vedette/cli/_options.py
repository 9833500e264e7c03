"""What the commands share: the URL argument, and errors shown as one clear line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from vedette.config import SentinelConfig
from vedette.errors import VedetteError

F = TypeVar("F", bound=Callable[..., Any])


def _parse(ctx: click.Context, param: click.Parameter, value: str) -> SentinelConfig:
    try:
        return SentinelConfig.from_url(value)
    except VedetteError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def url_argument(function: F) -> F:
    """The ``URL`` argument, parsed into a `SentinelConfig` (``$VEDETTE_URL`` if not given)."""
    decorate = click.argument("config", metavar="URL", envvar="VEDETTE_URL", callback=_parse)
    return decorate(function)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn Vedette's errors into a one-line message and exit status 1, not a traceback."""
    try:
        yield
    except VedetteError as error:
        raise click.ClickException(f"{type(error).__name__}: {error}") from None
