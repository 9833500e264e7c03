"""Typed from the user's side: what the docs show passes ``mypy --strict`` as written.

mypy checks this file (it runs on tests/): each call below is one the docs or the docstrings show,
so a signature that makes users write casts fails the type check, not just a reader's patience.
The same calls run here, so they also stay true at run time.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import ssl
from pathlib import Path

import redis
import redis.asyncio

import vedette
import vedette.asyncio
from vedette import Address, AddressMap, SentinelConfig
from vedette.testing import ScriptedWatcher, capture_events


def test_documented_constructor_calls() -> None:
    by_strings = SentinelConfig(
        sentinels=["10.0.0.1:26379", "10.0.0.2", ("10.0.0.3", 26380)],
        service_name="mymaster",
        nat={"10.0.0.5:6379": ("127.0.0.1", 16379)},
    )
    assert by_strings.sentinels[2] == Address("10.0.0.3", 26380)
    assert by_strings.nat.translate(Address("10.0.0.5", 6379)) == ("127.0.0.1", 16379)
    from_text = SentinelConfig(
        sentinels="10.0.0.1,10.0.0.2",
        service_name="mymaster",
        nat="10.0.0.5:6379=127.0.0.1:16379",
        ssl=True,
        ssl_cert_reqs=ssl.CERT_NONE,
        reconcile_interval=None,
    )
    assert from_text.ssl_cert_reqs == "none"
    with_map = SentinelConfig(
        sentinels=[("10.0.0.1", 26379)],
        service_name="mymaster",
        nat=AddressMap({("10.0.0.5", 6379): "127.0.0.1:16379"}, strict=True),
        wait_replicas=1,
        socket_timeout=2,
    )
    assert with_map.socket_timeout == 2.0


def test_documented_client_calls_are_typed() -> None:
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="mymaster")
    client: redis.Redis = vedette.connect(config, decode_responses=True, client_name="app")
    reader: redis.Redis = vedette.connect_replica(config)
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    connection_class: type[vedette.MasterConnection] = pool.connection_class
    assert issubclass(connection_class, vedette.MasterConnection)
    with (
        ScriptedWatcher(config, master="10.0.0.5:6379") as scripted,
        capture_events(scripted) as events,
    ):
        scripted.play("+switch-master mymaster 10.0.0.5 6379 10.0.0.6 6379")
        switched: vedette.MasterSwitched = events.wait_for(vedette.MasterSwitched, timeout=1)
    assert switched.new == ("10.0.0.6", 6379)
    watcher: vedette.FailoverWatcher = vedette.shared_watcher(config)
    assert watcher is pool.watcher
    reader.close()
    client.close()


def test_documented_async_calls_are_typed() -> None:
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="mymaster")

    async def documented() -> None:
        client: redis.asyncio.Redis = vedette.asyncio.connect(config, decode_responses=True)
        reader: redis.asyncio.Redis = vedette.asyncio.connect_replica(config)
        pool = client.connection_pool
        assert isinstance(pool, vedette.asyncio.AsyncMasterPool)
        watcher: vedette.FailoverWatcher = pool.watcher

        @vedette.asyncio.ensured(deadline=30)
        async def enqueue(payload: str) -> int:
            return await vedette.asyncio.ensure_call(answer, len(payload))

        async def answer(value: int) -> int:
            return value

        count: int = await enqueue("job")
        assert count == 3
        with watcher.events(timeout=0.01) as events:
            async for event in events:
                described: str = event.describe()
                assert described
        await reader.aclose()
        await client.aclose()

    asyncio.run(documented())


def _typed_init_signature() -> ast.FunctionDef:
    """The ``__init__`` SentinelConfig declares for type checkers, read from its source."""
    source = Path(inspect.getfile(SentinelConfig)).read_text()
    (klass,) = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "SentinelConfig"
    ]
    for node in klass.body:
        if isinstance(node, ast.If):  # if TYPE_CHECKING:
            for inner in node.body:
                if isinstance(inner, ast.FunctionDef) and inner.name == "__init__":
                    return inner
    raise AssertionError("SentinelConfig declares no typed __init__")


def test_the_typed_signature_lists_exactly_the_fields_with_their_defaults() -> None:
    init = _typed_init_signature()
    declared = {
        arg.arg: default
        for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True)
    }
    fields = {spec.name: spec for spec in dataclasses.fields(SentinelConfig)}
    assert list(declared) == list(fields)
    for name, default in declared.items():
        spec = fields[name]
        if spec.default is not dataclasses.MISSING:
            assert default is not None, f"{name} has a default, but none in the signature"
            assert ast.literal_eval(default) == spec.default, name
        elif spec.default_factory is not dataclasses.MISSING:  # nat: an empty AddressMap
            assert default is not None
            assert ast.literal_eval(default) is None
            assert spec.default_factory() == AddressMap()
        else:
            assert default is None, f"{name} is required, but has a default in the signature"
