"""``vedette beat URL``: the scheduler for Celery, Dramatiq and RQ entries of one store.

What no retry can fix ends it with one line and exit status 1, never a traceback: no Sentinel
reachable at start-up (as ``vedette status``), a wrong service name, refused credentials, a
``NOPERM`` reply, an invalid setting. A failover, or the Sentinels lost after start-up, only
pauses it.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import click

from vedette.cli._options import ask_sentinels, reported_errors
from vedette.cli.schedule import prefix_option
from vedette.client.master import connect
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import ConfigurationError, VedetteError
from vedette.metrics import enable_prometheus
from vedette.schedule import (
    DEFAULT_LEASE,
    ScheduleRunner,
    ScheduleStore,
    installed_dispatchers,
)


@click.command()
@click.argument("url", metavar="URL", envvar="VEDETTE_URL")
@prefix_option
@click.option(
    "--framework",
    "frameworks",
    multiple=True,
    help="Dispatch only this framework's entries (repeatable); default: every one installed.",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_LEASE,
    show_default=True,
    help="Seconds of the leader's lease: the longest a standby waits to take over.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Serve the Prometheus metrics on this port, at /metrics (needs vedette[prometheus]).",
)
@click.option(
    "--metrics-address",
    default="0.0.0.0",
    show_default=True,
    help="The address --metrics-port listens on.",
)
def beat(
    url: str,
    prefix: str,
    frameworks: tuple[str, ...],
    lease: float,
    metrics_port: int | None,
    metrics_address: str,
) -> None:
    """Run the scheduler of the store: lead it, or stand by until the leader stops.

    Start it the same way on several hosts: one leads and dispatches each due run once, through
    the dispatcher its framework's adapter installed (vedette-celery, vedette-dramatiq,
    vedette-rq); the others take over within the lease. Stops on SIGTERM or Ctrl-C.
    """
    try:
        config = SentinelConfig.from_url(url)
    except VedetteError as error:
        raise click.BadParameter(str(error), param_hint="URL") from None
    if metrics_port is not None:
        _serve_metrics(metrics_port, metrics_address)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with reported_errors():
        try:
            dispatchers = installed_dispatchers(url, only=frameworks)
        except ConfigurationError as error:
            raise click.BadParameter(error.problem, param_hint="--framework") from None
        try:
            ask_sentinels(config)  # what cannot work fails at once, as `vedette status` does
        except BaseException:
            for dispatcher in dispatchers.values():
                dispatcher.close()
            raise
        client = connect(config)
        runner = ScheduleRunner(ScheduleStore(client, prefix=prefix), dispatchers, lease=lease)

        def stop(signum: int, frame: FrameType | None) -> None:
            runner.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(
            f"vedette beat: store {prefix!r} of service {config.service_name!r}, "
            f"dispatching {', '.join(dispatchers) or 'nothing'}; lease {lease:g} s",
            err=True,
        )
        try:
            runner.run()  # raises what no retry can fix (ScheduleRunner.run), after closing
        finally:
            client.close()


def _serve_metrics(port: int, address: str) -> None:
    """Record the metrics to ``prometheus_client``'s registry and serve it over HTTP."""
    try:
        enable_prometheus()
    except ConfigurationError as error:
        raise click.BadParameter(error.problem, param_hint="--metrics-port") from None
    import prometheus_client  # installed: enabling found it

    try:
        prometheus_client.start_http_server(port, addr=address)
    except OSError as error:
        raise click.BadParameter(
            f"cannot listen on {address}:{port}: {error.strerror}", param_hint="--metrics-port"
        ) from None
