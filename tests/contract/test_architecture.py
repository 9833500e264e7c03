"""Adapters are thin: they import only vedette's public names, and never each other."""

import ast
from pathlib import Path

import vedette
import vedette.schedule

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = {
    "vedette_celery": ROOT / "packages/celery-adapter/src/vedette_celery",
    "vedette_dramatiq": ROOT / "packages/dramatiq-adapter/src/vedette_dramatiq",
    "vedette_rq": ROOT / "packages/rq-adapter/src/vedette_rq",
}
# The core's public modules, each with its __all__: an adapter imports from these alone.
PUBLIC = {"vedette": vedette.__all__, "vedette.schedule": vedette.schedule.__all__}


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
