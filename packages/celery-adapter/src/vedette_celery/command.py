"""``celery vedette``: the Sentinel view of the app's broker (and the entry point that registers).

The ``celery`` command loads the ``celery.commands`` entry points before it reads the app's
settings: loading this one registers the ``redis-sentinel://`` schemes, so a worker started with
``celery -A proj worker`` needs nothing but the settings.
"""

from __future__ import annotations

from typing import Any

import click

import vedette
from vedette_celery.registration import register
from vedette_celery.settings import split

__all__ = ["vedette_command"]

register()


@click.command(name="vedette")
@click.pass_context
def vedette_command(ctx: click.Context) -> None:
    """Show the master, replicas and Sentinels of the app's redis-sentinel:// broker."""
    app: Any = ctx.obj.app
    settings = split(app.conf.broker_url, app.conf.broker_transport_options)
    topology = vedette.discover(settings.config)
    click.echo(f"service {settings.config.service_name!r}: master {topology.master}")
    for replica in topology.replicas:
        click.echo(f"  replica {replica}")
