"""Each package's public surface: __all__ lists every public name, grouped, sorted per group."""

import ast
import importlib
import types
from pathlib import Path

import pytest

PUBLIC_MODULES = [
    "vedette",
    "vedette.metrics",
    "vedette.schedule",
    "vedette.testing",
    "vedette_celery",
    "vedette_dramatiq",
    "vedette_rq",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_lists_every_public_name(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_") and not isinstance(value, types.ModuleType)
    }
    exported = set(module.__all__)
    assert public - exported == set(), "public but not exported"
    assert {n for n in exported if not hasattr(module, n)} == set(), "exported but missing"
    assert len(module.__all__) == len(exported), "exported twice"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_within_each_commented_group(name: str) -> None:
    source = Path(importlib.import_module(name).__file__ or "").read_text()
    (value,) = [
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and "__all__"
        in ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
    ]
    assert value is not None
    lines = source.splitlines()[value.lineno - 1 : value.end_lineno]
    groups: list[list[str]] = [[]]
    for line in (line.strip() for line in lines):
        if line.startswith("#"):
            groups.append([])  # a comment starts a group
        elif line.startswith('"'):
            groups[-1].append(ast.literal_eval(line.rstrip(",")))
    assert [n for group in groups for n in group] == list(importlib.import_module(name).__all__)
    for group in groups:
        assert group == sorted(group)
