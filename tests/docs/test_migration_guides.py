"""The migration guides (docs/migrating/), read by the readers Vedette uses at start-up.

Each page's "before" block is another project's configuration as that project documents it; it
is run as a settings module and its settings handed to Vedette's reader for that vocabulary
(`vedette_celery.split`, `vedette.SentinelConfig.from_mapping`, the RQ adapter's settings reader,
`vedette_dramatiq.SentinelMiddleware`). Its "after" block must name the same Sentinels, service,
database and credentials. Configuration only: nothing here reaches a server (the clients some
readers build connect on their first command, which never comes).
"""

from __future__ import annotations

import json
import shlex
import sys
import types
from collections.abc import Mapping
from typing import Any

import dramatiq
import pytest
from celery import Celery
from celery.apps.beat import Beat
from celery.beat import Service
from kombu.connection import Connection
from kombu.transport import resolve_transport
from kombu.utils.url import url_to_parts
from rq.cli.helpers import get_redis_from_config

import vedette
import vedette_celery
import vedette_rq
from tests.docs.blocks import DOCS, marked_blocks, run_settings
from vedette import Address, SentinelConfig
from vedette.cli.schedule import import_redbeat
from vedette.schedule import Entry, entry_from_document
from vedette_celery.beat import Scheduler, static_entries
from vedette_celery.settings import core_url
from vedette_dramatiq import SentinelMiddleware
from vedette_rq.settings import following_sentinel_client, sentinel_settings

MIGRATING = DOCS / "migrating"
PAGES = {
    "celery-redis-sentinel.md": ("before", "after"),
    "kombu-sentinel.md": ("before", "after"),
    "dramatiq-sentinel.md": ("before", "after", "after-broker"),
    "rq-sentinel.md": ("before", "after"),
    "redbeat.md": ("before", "after", "import-redbeat"),
    "celerybeat-redis.md": ("before", "after", "document"),
}


def blocks(page: str) -> dict[str, str]:
    return marked_blocks(MIGRATING / page)


def run(page: str, name: str) -> dict[str, Any]:
    return run_settings(blocks(page)[name], filename=f"{page}:{name}")


def service(config: SentinelConfig) -> dict[str, object]:
    """What must survive a migration: where the service is, and the credentials to reach it."""
    return {
        "sentinels": [str(address) for address in config.sentinels],
        "service_name": config.service_name,
        "db": config.db,
        "username": config.username,
        "password": config.password,
        "sentinel_username": config.sentinel_username,
        "sentinel_password": config.sentinel_password,
    }


def celery_app(settings: Mapping[str, Any]) -> Celery:
    """An app configured from a settings module's names (classes such as `crontab` left out)."""
    app = Celery("migrating", set_as_current=False)
    app.config_from_object({k: v for k, v in settings.items() if not isinstance(v, type)})
    return app


def beat_scheduler(app: Celery) -> object:
    """The scheduler ``celery beat`` would run for ``app`` (``beat_scheduler``), not started."""
    chosen = Beat(app=app).scheduler_cls
    return Service(app=app, scheduler_cls=chosen).get_scheduler(lazy=True)


@pytest.mark.parametrize(("page", "names"), sorted(PAGES.items()))
def test_each_guide_marks_its_blocks(page: str, names: tuple[str, ...]) -> None:
    assert sorted(blocks(page)) == sorted(names)


def test_every_guide_is_tested() -> None:
    assert sorted(path.name for path in MIGRATING.glob("*.md")) == sorted(PAGES)


# --- celery-redis-sentinel ------------------------------------------------------------------------


CRS = "celery-redis-sentinel.md"
CRS_SERVICE = {
    "sentinels": ["192.168.1.1:26379", "192.168.1.2:26379", "192.168.1.3:26379"],
    "service_name": "master",
    "username": None,
    "password": None,
    "sentinel_username": None,
    "sentinel_password": None,
}


def test_celery_redis_sentinel_settings_are_read_as_they_are() -> None:
    before = run(CRS, "before")
    broker = vedette_celery.split(before["BROKER_URL"], before["BROKER_TRANSPORT_OPTIONS"])
    results = vedette_celery.split(
        before["CELERY_RESULT_BACKEND"],
        before["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"],
        url_setting="result_backend",
        options_setting="result_backend_transport_options",
    )
    assert service(broker.config) == {**CRS_SERVICE, "db": 0}
    assert service(results.config) == {**CRS_SERVICE, "db": 1}
    assert broker.config.socket_timeout == 0.1  # what the page says it would become, if kept


def test_celery_redis_sentinel_settings_keep_working_with_the_transport_named_the_old_way() -> None:
    """Step 4: old upper-case names and ``BROKER_TRANSPORT``, which Celery accepts together."""
    app = celery_app({**run(CRS, "before"), "BROKER_TRANSPORT": "vedette_celery:Transport"})
    assert "BROKER_TRANSPORT" in (MIGRATING / CRS).read_text()
    assert resolve_transport(app.conf.broker_transport) is vedette_celery.Transport
    config = vedette_celery.split(app.conf.broker_url, app.conf.broker_transport_options).config
    assert service(config) == {**CRS_SERVICE, "db": 0}


def test_celery_redis_sentinel_after_names_the_same_service() -> None:
    before, after = run(CRS, "before"), run(CRS, "after")
    assert resolve_transport(after["broker_transport"]) is vedette_celery.Transport
    for old, new, setting in (
        (("BROKER_URL", "BROKER_TRANSPORT_OPTIONS"), "broker_url", "broker_url"),
        (
            ("CELERY_RESULT_BACKEND", "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"),
            "result_backend",
            "result_backend",
        ),
    ):
        was = vedette_celery.split(before[old[0]], before[old[1]], url_setting=setting)
        now = vedette_celery.split(after[new], url_setting=setting)
        assert service(now.config) == service(was.config)
        assert now.config.socket_timeout == 5.0  # not carried over, on purpose


# --- kombu's sentinel:// --------------------------------------------------------------------------


KOMBU = "kombu-sentinel.md"


def kombu_config(url: str, options: Mapping[str, Any]) -> SentinelConfig:
    """What kombu and Celery make of ``sentinel://a;sentinel://b``, read by Vedette's readers.

    As kombu's Sentinel channel and Celery's `SentinelBackend` do: every URL of the list is a
    Sentinel, the database and the credentials come from the first one; the transport options
    (``master_name``, ``sentinel_kwargs`` ...) are kombu's vocabulary, which Vedette reads.
    """
    connection = Connection(url)
    sentinels = []
    for alternative in connection.alt:
        parts = url_to_parts(alternative)
        assert parts.scheme == "sentinel"
        sentinels.append((parts.hostname, parts.port or 26379))
    first = url_to_parts(connection.alt[0])
    return SentinelConfig.from_mapping(
        {
            "sentinels": sentinels,
            "db": int((first.path or "0").strip("/") or 0),
            "username": first.username,
            "password": first.password,
            **options,
        }
    )


KOMBU_SERVICE = {
    "sentinels": ["localhost:26379", "localhost:26380", "localhost:26381"],
    "service_name": "cluster1",
    "username": None,
    "password": None,
    "sentinel_username": None,
    "sentinel_password": "password",
}


def test_kombu_sentinel_settings_name_the_sentinels_service_and_password() -> None:
    before = run(KOMBU, "before")
    broker = kombu_config(before["broker_url"], before["broker_transport_options"])
    results = kombu_config(before["result_backend"], before["result_backend_transport_options"])
    assert service(broker) == {**KOMBU_SERVICE, "db": 0}
    assert service(results) == {**KOMBU_SERVICE, "db": 1}


def test_kombu_sentinel_after_names_the_same_service() -> None:
    before, after = run(KOMBU, "before"), run(KOMBU, "after")
    assert resolve_transport(after["broker_transport"]) is vedette_celery.Transport
    for setting in ("broker_url", "result_backend"):
        options = before[
            "broker_transport_options"
            if setting == "broker_url"
            else "result_backend_transport_options"
        ]
        was = kombu_config(before[setting], options)
        now = vedette_celery.split(after[setting], url_setting=setting)
        assert service(now.config) == service(was)
        # kombu's options may also stay beside the new URL: they agree with it.
        kept = vedette_celery.split(after[setting], options, url_setting=setting)
        assert kept.config == now.config


def test_kombu_options_the_page_says_to_delete_are_refused() -> None:
    after = run(KOMBU, "after")
    with pytest.raises(vedette.ConfigurationError, match="sentinel_fanout_compat"):
        vedette_celery.split(after["broker_url"], {"sentinel_fanout_compat": True})


# --- dramatiq-sentinel ----------------------------------------------------------------------------


DRAMATIQ = "dramatiq-sentinel.md"
DRAMATIQ_SERVICE = {
    "sentinels": ["localhost:26379", "localhost:26380", "localhost:26381"],
    "service_name": "redis-sentinel-service-name",
    "db": 0,
    "username": None,
    "password": None,
    "sentinel_username": None,
    "sentinel_password": "sentinel-password",
}


@pytest.fixture
def dramatiq_sentinel(monkeypatch: pytest.MonkeyPatch) -> None:
    """dramatiq-sentinel's module, its middleware replaced by Vedette's (step 2 of the page).

    dramatiq-sentinel is not on PyPI; the page says Vedette's class takes its arguments as they
    are, which this checks. ``dramatiq.set_broker`` is left alone, so no global broker is set.
    """
    for name in ("dramatiq_sentinel", "dramatiq_sentinel.middleware"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    module = types.ModuleType("dramatiq_sentinel.middleware.sentinel")
    module.Sentinel = SentinelMiddleware  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(dramatiq, "set_broker", lambda broker: None)


def switched(settings: Mapping[str, Any]) -> SentinelConfig:
    """The configuration of the block's broker once its middleware switched it over.

    Dramatiq hands the broker to its middleware at a worker's process boot; the middleware then
    replaces the broker's client with a Vedette one, with the broker's database and credentials.
    """
    broker = settings["broker"]
    try:
        broker.emit_after("process_boot")
        config = vedette.config_of(broker.client)
        assert config is not None, "the middleware did not switch the broker over"
        return config
    finally:
        broker.close()


@pytest.mark.usefixtures("dramatiq_sentinel")
def test_dramatiq_sentinel_arguments_are_taken_as_they_are() -> None:
    config = switched(run(DRAMATIQ, "before"))
    assert service(config) == DRAMATIQ_SERVICE
    assert config.sentinel_socket_timeout == 0.5
    assert config.reconcile_interval == 60.0
    # The README's map, keyed "host:port": dramatiq-sentinel never matched it (it looked up
    # tuples); Vedette applies it as written. The page says to check its direction.
    assert config.nat.translate(Address("localhost", 6379)) == ("172.20.0.2", 6379)


@pytest.mark.usefixtures("dramatiq_sentinel")
def test_dramatiq_sentinel_after_names_the_same_service() -> None:
    config = switched(run(DRAMATIQ, "after"))
    assert service(config) == DRAMATIQ_SERVICE
    assert config.nat.translate(Address("172.20.0.3", 6379)) == ("localhost", 6380)
    # The arguments the page drops: Vedette's defaults again.
    assert (config.min_backoff, config.max_backoff, config.reconcile_interval) == (0.05, 2.0, 10.0)


@pytest.mark.usefixtures("dramatiq_sentinel")
def test_dramatiq_sentinel_after_as_a_broker_is_the_same_service() -> None:
    broker = run(DRAMATIQ, "after-broker")["broker"]
    try:
        config = vedette.config_of(broker.client)
    finally:
        broker.close()
    assert config is not None
    assert service(config) == DRAMATIQ_SERVICE
    assert config.nat == switched(run(DRAMATIQ, "after")).nat


# --- RQ's SENTINEL --------------------------------------------------------------------------------


RQ = "rq-sentinel.md"
RQ_SERVICE = {
    "sentinels": ["remote.host1.org:26379", "remote.host2.org:26379", "remote.host3.org:26379"],
    "service_name": "master",
    "db": 2,
    "username": "redis-user",
    "password": "redis-secret",
    "sentinel_username": "sentinel-user",
    "sentinel_password": "sentinel-secret",
}


def rq_worker_config(settings: Mapping[str, Any]) -> SentinelConfig:
    """What ``rq worker -c settings -w vedette_rq.Worker`` follows.

    RQ's command line builds its client from the settings (redis-py's ``Sentinel`` for a
    ``SENTINEL`` dict); Vedette's worker reads that client's settings.
    """
    client = following_sentinel_client(get_redis_from_config(dict(settings)))
    assert client is not None
    try:
        config = vedette.config_of(client)
    finally:
        client.close()
    assert config is not None
    return config


def test_rq_documented_example_is_read_as_written() -> None:
    # RQ's own example sets CONNECTION_KWARGS={"ssl_ca_path": None}: None is "not set".
    settings = run(RQ, "before")
    assert settings["SENTINEL"]["CONNECTION_KWARGS"] == {"ssl_ca_path": None}
    config = rq_worker_config(settings)
    assert service(config) == RQ_SERVICE
    assert config.socket_timeout == 5.0  # SOCKET_TIMEOUT None: Vedette's finite default
    assert sentinel_settings(settings["SENTINEL"])[0] == config  # vedette_rq.connect(SENTINEL)


def test_a_key_rq_settings_do_not_take_is_refused_unless_none() -> None:
    settings = run(RQ, "before")
    settings["SENTINEL"]["CONNECTION_KWARGS"]["ssl_ca_path"] = "/etc/ssl/certs"
    with pytest.raises(vedette.ConfigurationError, match=r"CONNECTION_KWARGS\['ssl_ca_path'\]"):
        rq_worker_config(settings)


def test_rq_after_names_the_same_service() -> None:
    client = get_redis_from_config(run(RQ, "after"), vedette_rq.Redis)
    try:
        config = vedette.config_of(client)
    finally:
        client.close()
    assert config is not None
    assert service(config) == RQ_SERVICE


# --- RedBeat --------------------------------------------------------------------------------------


REDBEAT = "redbeat.md"
REDBEAT_SERVICE = {
    "sentinels": ["192.168.1.1:26379", "192.168.1.2:26379", "192.168.1.3:26379"],
    "service_name": "master",
    "db": 0,
    "username": None,
    "password": "123",
    "sentinel_username": None,
    "sentinel_password": "sentinel_password",
}


def redbeat_service(options: Mapping[str, Any]) -> SentinelConfig:
    """RedBeat's ``redbeat_redis_options``, read by Vedette; ``retry_period`` is RedBeat's own."""
    return SentinelConfig.from_mapping({k: v for k, v in options.items() if k != "retry_period"})


def import_command() -> dict[str, Any]:
    """The parameters ``vedette schedule import-redbeat`` takes from the page's command."""
    words = shlex.split(blocks(REDBEAT)["import-redbeat"].replace("\\\n", " "))
    assert words[:3] == ["vedette", "schedule", "import-redbeat"]
    with import_redbeat.make_context("import-redbeat", words[3:]) as context:
        return dict(context.params)


def test_redbeat_settings_are_the_ones_import_redbeat_takes() -> None:
    redbeat = pytest.importorskip("redbeat.schedulers", reason="celery-redbeat reads its settings")
    before = celery_app(run(REDBEAT, "before"))
    seen = redbeat.RedBeatConfig(before)  # what RedBeat itself makes of the settings
    assert seen.redis_url.startswith("redis-sentinel://")
    assert service(redbeat_service(seen.redbeat_redis_options)) == REDBEAT_SERVICE

    command = import_command()
    assert command["key_prefix"] == seen.key_prefix
    assert command["zone"] == before.conf.timezone
    assert command["dry_run"]
    # RedBeat's keys are in the store's service and database: no --from.
    assert command["source"] is None
    assert service(command["config"]) == REDBEAT_SERVICE


def test_redbeat_after_leads_the_same_service_and_schedule() -> None:
    before = celery_app(run(REDBEAT, "before"))
    after = celery_app(run(REDBEAT, "after"))
    assert isinstance(beat_scheduler(after), Scheduler)
    store = SentinelConfig.from_url(core_url(after.conf.vedette_schedule_url, setting="url"))
    assert service(store) == service(import_command()["config"]) == REDBEAT_SERVICE
    assert static_entries(after.conf.beat_schedule, after) == static_entries(
        before.conf.beat_schedule, before
    )


# --- celerybeat-redis -----------------------------------------------------------------------------


CBR = "celerybeat-redis.md"


def test_celerybeat_redis_schedule_is_redeclared_unchanged() -> None:
    before = celery_app(run(CBR, "before"))
    after = celery_app(run(CBR, "after"))
    entries = static_entries(before.conf.beat_schedule, before)  # CELERYBEAT_SCHEDULE's
    assert [entry.name for entry in entries] == [
        "add-every-monday-morning",
        "interval-test-schedule",
    ]
    assert static_entries(after.conf.beat_schedule, after) == entries
    assert isinstance(beat_scheduler(after), Scheduler)
    store = vedette_celery.split(after.conf.broker_url).config
    assert (store.service_name, store.db) == ("mymaster", 0)


def test_celerybeat_redis_dynamic_entry_as_a_document_is_the_same_entry() -> None:
    """The page's document for the README's crontab entry: what beat_schedule would make of it."""
    before = celery_app(run(CBR, "before"))
    document = entry_from_document(json.loads(blocks(CBR)["document"]))
    by_name: dict[str, Entry] = {
        entry.name: entry for entry in static_entries(before.conf.beat_schedule, before)
    }
    assert document == by_name[document.name]
