"""What the commands share: the URL argument, a first look at the Sentinels, one-line errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import redis

from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import VedetteError
from vedette.failures import scrub
from vedette.sentinel.discovery import Discovery

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
def reported_errors(
    exception: type[click.ClickException] = click.ClickException,
) -> Iterator[None]:
    """Turn Vedette's and redis-py's errors into one message and exit status 1, no traceback.

    A redis-py error reached Redis some other way than a Vedette client (a framework's client, a
    reply such as ``WRONGTYPE``); a ``NOPERM`` reply's user name is left out, as Vedette's are.

    Args:
        exception: The click exception to raise: a subclass with another ``exit_code``.
    """
    try:
        yield
    except VedetteError as error:
        raise exception(f"{type(error).__name__}: {error}") from None
    except redis.RedisError as error:
        raise exception(f"{type(error).__name__}: {scrub(str(error))}") from None


@contextmanager
def quiet_discovery() -> Iterator[None]:
    """Hold back discovery's warnings about each Sentinel: the command reports them itself."""
    logger = logging.getLogger("vedette.discovery")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def ask_sentinels(config: SentinelConfig) -> None:
    """Ask the Sentinels for the master once, as ``vedette status`` does, before connecting.

    With no Sentinel reachable, a wrong service name or refused credentials, a command then fails
    at once instead of retrying its first command for ``retry_deadline``. Discovery's warnings
    about each Sentinel are held back meanwhile: the error says what every Sentinel answered.

    Raises:
        MasterNotFoundError: No usable master (no Sentinel reachable, a wrong service name).
        AuthenticationError: The Sentinels or the master refused the credentials.
        NoPermissionError: They refused the ACL user a command.
    """
    with quiet_discovery(), Discovery(config) as discovery:
        discovery.discover()
