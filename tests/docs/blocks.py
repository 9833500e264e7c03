"""The marked blocks of a documentation page, and running a Python one as a settings module.

A page marks a fenced block with an HTML comment on the line above it, which a reader never sees:

    <!-- before -->
    ```python
    broker_url = "..."
    ```

A marked block may sit in a list item, indented; it is returned dedented.
"""

from __future__ import annotations

import re
import textwrap
import types
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs"

_MARKED = re.compile(
    r"^(?P<indent>[ ]*)<!-- (?P<name>[\w-]+) -->\n"
    r"(?P=indent)```(?P<lang>\w*)\n"
    r"(?P<code>.*?)"
    r"^(?P=indent)```[ ]*$",
    re.MULTILINE | re.DOTALL,
)


def marked_blocks(page: Path) -> dict[str, str]:
    """The page's marked blocks by name, dedented; a name marks one block only."""
    blocks: dict[str, str] = {}
    for match in _MARKED.finditer(page.read_text(encoding="utf-8")):
        name = match["name"]
        assert name not in blocks, f"{page.name}: two blocks are marked {name!r}"
        blocks[name] = textwrap.dedent(match["code"])
    return blocks


def run_settings(code: str, *, filename: str = "<doc>") -> dict[str, Any]:
    """Run ``code`` as a settings module: the names it binds, without modules and dunders."""
    namespace: dict[str, Any] = {"__name__": "settings"}
    exec(compile(code, filename, "exec"), namespace)
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("__") and not isinstance(value, types.ModuleType)
    }
