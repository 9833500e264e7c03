"""``celery vedette``: the Sentinel view of the app's broker (and the entry point that registers).

The ``celery`` command loads the ``celery.commands`` entry points before it reads the app's
settings: loading this one registers the ``redis-sentinel://`` schemes, so a worker started with
``celery -A proj worker`` needs nothing but the settings.

Usage::

    celery -A proj vedette
"""

from __future__ import annotations

import logging
from typing import Any

import click
import redis
from celery.exceptions import CeleryCommandException
from celery.platforms import EX_FAILURE, EX_UNAVAILABLE

import vedette
from vedette_celery.registration import register
from vedette_celery.settings import split

__all__ = ["vedette_command"]

register()


@click.command(name="vedette")
@click.pass_context
def vedette_command(ctx: click.Context) -> None:
    """Show the master, replicas and Sentinels of the app's redis-sentinel:// broker.

    Fails in one line, with Celery's exit codes: 69 (EX_UNAVAILABLE, as ``celery inspect`` when
    it cannot reach the broker) when no Sentinel answers, none monitors the service, no usable
    master is found, or credentials or a command are refused; 1 (EX_FAILURE) when the broker's
    settings are invalid.
    """
    app: Any = ctx.obj.app
    # What each Sentinel answered is in the error: discovery's warnings would say it twice.
    logger = logging.getLogger("vedette.discovery")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        settings = split(app.conf.broker_url, app.conf.broker_transport_options)
        topology = vedette.discover(settings.config)
    except vedette.ConfigurationError as error:
        raise CeleryCommandException(message=_one_line(error), exit_code=EX_FAILURE) from None
    except (vedette.VedetteError, redis.RedisError) as error:
        raise CeleryCommandException(message=_one_line(error), exit_code=EX_UNAVAILABLE) from None
    finally:
        logger.setLevel(level)
    click.echo(f"service {settings.config.service_name!r}: master {topology.master}")
    for replica in topology.replicas:
        click.echo(f"  replica {replica}")


def _one_line(error: Exception) -> str:
    """``Type: message``, the lines of the message (what each Sentinel said) joined by ``;``."""
    lines = [part.strip() for part in str(error).splitlines() if part.strip()]
    if isinstance(error, redis.exceptions.NoPermissionError) and not isinstance(
        error, vedette.VedetteError
    ):
        lines = ["refused by the ACL"]  # redis-py's reply may name the user; Vedette's do not
    return f"{type(error).__name__}: {'; '.join(lines)}"
