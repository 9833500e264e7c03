"""The getting-started pages, run as a new user runs them: each page's shell steps, verbatim.

`tools/getting_started.py` follows a page (``docs/getting-started/<page>.md``) literally, in a
copy of its example, and checks what it printed: the drill switched the master once and lost
none of its writes, the producer's report says every task ran once, the worker saw the switch.
Here it runs with this environment's packages; ``./nox -s build`` runs it again from the built
wheels, each in a fresh virtualenv.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "getting_started.py"
PAGES = sorted(path.stem for path in (ROOT / "docs" / "getting-started").glob("*.md"))
DEADLINE = 240.0  # the tool gives a page's steps 180 s; they take 11-16 s here


def test_every_page_is_run() -> None:
    listed = subprocess.run(
        [sys.executable, str(TOOL), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert PAGES == ["asyncio", "celery", "dramatiq", "rq"]
    assert "{asyncio,celery,dramatiq,rq}" in listed


@pytest.mark.timeout(DEADLINE + 30)
@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_through_a_failover(page: str) -> None:
    finished = subprocess.run(
        [sys.executable, str(TOOL), page], capture_output=True, text=True, timeout=DEADLINE
    )
    assert finished.returncode == 0, finished.stderr
    assert f"getting-started/{page}.md: passed" in finished.stdout, finished.stdout


def test_the_celery_example_never_imports_the_adapter() -> None:
    # Its settings name the transport; the page says no process needs `import vedette_celery`.
    for module in (ROOT / "examples" / "celery").rglob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+vedette", module.read_text(), re.MULTILINE)
