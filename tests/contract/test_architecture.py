"""The layers: the core's units import only downward; adapters only the core's public names.

The core's units, lowest first (a unit imports only units below it, and itself):

- ``errors``, ``address``: Vedette's exceptions, and a server's address.
- ``config``: what the user wrote (no socket, no thread).
- ``process``: what exists once per process (fork, finalizers, the switch signal).
- ``metrics``: what is recorded for operators, and where it goes (Prometheus, OpenTelemetry).
- ``failures``: what an error means (kind, retried or not, a failover or not).
- ``retry``: retrying through a failover.
- ``servers``: reaching one Redis or Sentinel server.
- ``sentinel``: asking the Sentinels, and hearing them.
- ``client``: clients that follow the master, and read from replicas.
- ``vedette`` itself: the public face (``vedette.__all__``).
- ``schedule``, ``testing``, ``cli``, ``__main__``: built on all of the above.

Imports under ``if TYPE_CHECKING:`` name types for annotations and run nothing: they may name
any unit (the process state is annotated with the watchers and hubs it holds).
"""

import ast
from pathlib import Path

import vedette
import vedette.metrics
import vedette.schedule

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = {
    "vedette_celery": ROOT / "packages/celery-adapter/src/vedette_celery",
    "vedette_dramatiq": ROOT / "packages/dramatiq-adapter/src/vedette_dramatiq",
    "vedette_rq": ROOT / "packages/rq-adapter/src/vedette_rq",
}
# The core's public modules, each with its __all__: an adapter imports from these alone.
PUBLIC = {
    "vedette": vedette.__all__,
    "vedette.metrics": vedette.metrics.__all__,
    "vedette.schedule": vedette.schedule.__all__,
}


CORE = ROOT / "packages/core/src/vedette"
CORE_LAYERS = (
    "versions",
    "errors",
    "address",
    "config",
    "process",
    "metrics",
    "failures",
    "retry",
    "servers",
    "sentinel",
    "client",
    "asyncio",
    "vedette",
    "schedule",
    "testing",
    "cli",
    "__main__",
)


def unit_of(module: str) -> str:
    """The core unit ``module`` (``vedette.sentinel.watcher``) belongs to (``sentinel``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "vedette"


def runtime_imports(source: str) -> list[str]:
    """The modules ``source`` imports when it runs (not those only for type checking)."""
    tree = ast.parse(source)
    for_types = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in for_types:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def upward_imports(module: str, source: str) -> list[str]:
    """Imports of ``module`` (with ``source``) that reach a core unit above its own."""
    unit = unit_of(module)
    rank = CORE_LAYERS.index(unit)
    return [
        f"{module} imports {imported} ({unit} is below {unit_of(imported)})"
        for imported in runtime_imports(source)
        if imported.split(".")[0] == "vedette" and CORE_LAYERS.index(unit_of(imported)) > rank
    ]


def core_modules() -> dict[str, Path]:
    modules = {}
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        modules[".".join(parts).removesuffix(".__init__")] = path
    return modules


def test_every_core_module_belongs_to_a_layer() -> None:
    assert {unit_of(module) for module in core_modules()} == set(CORE_LAYERS)


def test_the_core_imports_only_downward() -> None:
    problems = [
        problem
        for module, path in sorted(core_modules().items())
        for problem in upward_imports(module, path.read_text())
    ]
    assert problems == []


def test_the_layer_check_catches_an_upward_import() -> None:
    source = """
from typing import TYPE_CHECKING
from vedette.errors import VedetteError
from vedette.config import nat
if TYPE_CHECKING:
    from vedette.client.hub import Hub
from vedette.sentinel.watcher import FailoverWatcher
import vedette
"""
    assert upward_imports("vedette.config.url", source) == [
        "vedette.config.url imports vedette.sentinel.watcher (config is below sentinel)",
        "vedette.config.url imports vedette (config is below vedette)",
    ]


def violations(source: str, adapter: str) -> list[str]:
    """Imports in an adapter's ``source`` that break the layering rules."""
    found = []
    for node in ast.walk(ast.parse(source)):
        # (module, imported name): the name is None for a plain ``import module``.
        modules: list[tuple[str, str | None]]
        if isinstance(node, ast.Import):
            modules = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, name in modules:
            top = module.split(".")[0]
            if top in ADAPTERS and top != adapter:
                found.append(f"imports another adapter: {module}")
            elif top == "vedette" and module not in PUBLIC:
                found.append(f"imports a core module instead of the public API: {module}")
            elif module in PUBLIC and name is not None and name not in PUBLIC[module]:
                found.append(f"imports a name {module} does not export: {name}")
    return found


def test_adapters_keep_to_the_public_api() -> None:
    problems = {
        f"{path.relative_to(ROOT)}: {problem}"
        for adapter, directory in ADAPTERS.items()
        for path in directory.rglob("*.py")
        for problem in violations(path.read_text(), adapter)
    }
    assert problems == set()


def test_the_check_catches_what_it_should() -> None:
    bad = """
import vedette_rq
from vedette.sentinel.discovery import Discovery
from vedette import _values
from vedette import SentinelConfig, discover
import vedette
from vedette.schedule import Dispatcher, Run
from vedette.schedule.store import encode
"""
    assert violations(bad, "vedette_celery") == [
        "imports another adapter: vedette_rq",
        "imports a core module instead of the public API: vedette.sentinel.discovery",
        "imports a name vedette does not export: _values",
        "imports a core module instead of the public API: vedette.schedule.store",
    ]
