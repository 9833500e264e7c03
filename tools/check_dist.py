"""Check the built distributions of Vedette's published packages, then each wheel installed alone.

``./nox -s build`` runs it in two steps:

- ``python tools/check_dist.py files DIR``: DIR holds one wheel and one sdist of each published
  package and nothing else; each carries the repository's LICENSE (the wheel in its
  ``.dist-info/licenses/``) and its ``py.typed``, its metadata names the license and the
  project's URLs, and its description (the PyPI page) links to no relative path.
- ``VENV/bin/python tools/check_dist.py installed NAME DIR``, in a fresh virtualenv where the
  wheel of NAME (and the core's, for an adapter) from DIR is installed: imports it, prints its
  ``__version__``, loads every entry point it declares and runs its commands (``vedette --help``,
  ``celery vedette --help`` ...).

Standard library only: the second step runs where nothing else of the repository is installed.
"""

from __future__ import annotations

import argparse
import email.parser
import importlib
import importlib.util
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LICENSE = (ROOT / "LICENSE").read_bytes()
# Each published distribution, with the package it installs.
PUBLISHED = {
    "vedette": "vedette",
    "vedette-celery": "vedette_celery",
    "vedette-dramatiq": "vedette_dramatiq",
    "vedette-rq": "vedette_rq",
}
PROJECT_URLS = {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
# A Markdown link or image whose target has no scheme: dead on PyPI, which shows the README alone.
RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)([^)]*)\)", re.IGNORECASE)
COMMAND_TIMEOUT = 120


def distribution_of(filename: str) -> str:
    """``vedette-celery`` for ``vedette_celery-0.1.0-py3-none-any.whl`` or its sdist."""
    return filename.split("-")[0].replace("_", "-")


def check_metadata(where: str, text: str) -> list[str]:
    """Problems in the core metadata ``text`` (a wheel's METADATA, an sdist's PKG-INFO)."""
    fields: Message = email.parser.Parser().parsestr(text)
    problems = []
    if fields["License-Expression"] != "MIT":
        problems.append(f"{where}: License-Expression is {fields['License-Expression']!r}")
    if fields.get_all("License-File") != ["LICENSE"]:
        problems.append(f"{where}: License-File is {fields.get_all('License-File')!r}")
    labels = {url.split(",")[0].strip() for url in fields.get_all("Project-URL") or []}
    if labels != PROJECT_URLS:
        problems.append(f"{where}: Project-URL labels are {sorted(labels)}")
    description = fields.get_payload()
    assert isinstance(description, str)
    problems += [
        f"{where}: the description links to {link!r}"
        for link in set(RELATIVE_LINK.findall(description))
    ]
    return problems


def check_wheel(path: Path) -> list[str]:
    """Problems in the wheel at ``path``: its license, its ``py.typed``, its metadata."""
    package = PUBLISHED[distribution_of(path.name)]
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        licenses = [name for name in names if ".dist-info/licenses/" in name]
        problems = []
        if [name.rsplit("/", 1)[1] for name in licenses] != ["LICENSE"]:
            problems.append(f"{path.name}: licenses {licenses}, not one LICENSE")
        problems += [
            f"{path.name}: {name} is not the repository's LICENSE"
            for name in licenses
            if wheel.read(name) != LICENSE
        ]
        if f"{package}/py.typed" not in names:
            problems.append(f"{path.name}: no {package}/py.typed")
        (metadata_file,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        problems += check_metadata(path.name, wheel.read(metadata_file).decode())
    if not problems:
        print(f"{path.name}: {len(names)} files, {', '.join(licenses)}, {package}/py.typed")
    return problems


def check_sdist(path: Path) -> list[str]:
    """Problems in the sdist at ``path``: its license, its ``py.typed``, its metadata."""
    package = PUBLISHED[distribution_of(path.name)]
    top = path.name.removesuffix(".tar.gz")
    with tarfile.open(path) as sdist:
        names = sdist.getnames()

        def read(name: str) -> bytes:
            member = sdist.extractfile(f"{top}/{name}")
            assert member is not None, name
            return member.read()

        problems = []
        for wanted in (
            "LICENSE",
            "PKG-INFO",
            "pyproject.toml",
            "README.md",
            f"src/{package}/py.typed",
        ):
            if f"{top}/{wanted}" not in names:
                problems.append(f"{path.name}: no {wanted}")
        if f"{top}/LICENSE" in names and read("LICENSE") != LICENSE:
            problems.append(f"{path.name}: LICENSE is not the repository's")
        if f"{top}/PKG-INFO" in names:
            problems += check_metadata(path.name, read("PKG-INFO").decode())
    if not problems:
        print(f"{path.name}: {len(names)} files, LICENSE, src/{package}/py.typed")
    return problems


def check_files(directory: Path) -> list[str]:
    """Problems with the distributions in ``directory``: one wheel and one sdist of each."""
    wheels = sorted(directory.glob("*.whl"))
    sdists = sorted(directory.glob("*.tar.gz"))
    problems = []
    for kind, paths in (("wheels", wheels), ("sdists", sdists)):
        found = sorted(distribution_of(path.name) for path in paths)
        if found != sorted(PUBLISHED):
            problems.append(f"{kind} of {found}, expected one of each of {sorted(PUBLISHED)}")
    # uv build leaves a .gitignore (of "*") in the directory it builds into.
    others = set(directory.iterdir()) - {*wheels, *sdists, directory / ".gitignore"}
    if others:
        problems.append(f"unexpected files: {sorted(path.name for path in others)}")
    if problems:
        return problems
    for wheel in wheels:
        problems += check_wheel(wheel)
    for sdist in sdists:
        problems += check_sdist(sdist)
    return problems


def run(*command: str) -> tuple[list[str], str]:
    """Run ``command``; its problem (if it failed) and its output."""
    print("$ " + " ".join([Path(command[0]).name, *command[1:]]))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    output = done.stdout + done.stderr
    print("  " + (output.strip().splitlines() or ["(no output)"])[0])
    if done.returncode != 0:
        return [f"{' '.join(command)} exited with {done.returncode}:\n{output}"], output
    return [], output


def check_installed_from(directory: Path) -> list[str]:
    """Problems with where the installed Vedette distributions came from: ``directory``'s wheels."""
    problems = []
    for name in PUBLISHED:
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        origin = json.loads(installed.read_text("direct_url.json") or "{}").get("url", "")
        if not origin.startswith(directory.resolve().as_uri() + "/"):
            problems.append(f"{name} {installed.version} was installed from {origin or 'an index'}")
        else:
            print(f"{name} {installed.version} from {origin.rsplit('/', 1)[1]}")
    return problems


def check_installed(name: str, directory: Path) -> list[str]:
    """Problems with distribution ``name`` installed here: its import, entry points, commands."""
    distribution = metadata.distribution(name)
    package = PUBLISHED[name]
    problems = check_installed_from(directory)
    module = importlib.import_module(package)
    version = getattr(module, "__version__", None)
    print(f"import {package}: __version__ {version} ({module.__file__})")
    if version != distribution.version:
        problems.append(f"{package}.__version__ is {version!r}, {name} is {distribution.version}")
    if not Path(module.__file__ or "").is_relative_to(sys.prefix):
        problems.append(f"{package} was imported from {module.__file__}, not this environment")
    scripts = Path(sys.executable).parent
    for entry_point in sorted(distribution.entry_points, key=lambda e: (e.group, e.name)):
        loaded = entry_point.load()
        print(f"entry point {entry_point.group}: {entry_point.name} = {entry_point.value}")
        print(f"  loaded: {loaded!r:.80}")
        if entry_point.group == "console_scripts":
            failed, output = run(str(scripts / entry_point.name), "--help")
            problems += failed
            if "--version" in output:
                failed, output = run(str(scripts / entry_point.name), "--version")
                problems += failed
                if distribution.version not in output:
                    problems.append(f"{entry_point.name} --version says {output.strip()!r}")
        elif entry_point.group == "celery.commands":
            failed, output = run(str(scripts / "celery"), "--help")
            problems += failed
            if not re.search(rf"^\s+{re.escape(entry_point.name)}\b", output, re.MULTILINE):
                problems.append(f"celery --help does not list {entry_point.name}")
            problems += run(str(scripts / "celery"), entry_point.name, "--help")[0]
    if importlib.util.find_spec(f"{package}.__main__") is not None:
        problems += run(sys.executable, "-m", package, "--help")[0]
    return problems


def main(arguments: list[str] | None = None) -> int:
    """Run the check the arguments name; print the problems found, and return 1 if any."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    steps = parser.add_subparsers(dest="step", required=True)
    files = steps.add_parser("files", help="check the wheels and sdists in a directory")
    files.add_argument("directory", type=Path)
    installed = steps.add_parser("installed", help="check a distribution installed from one")
    installed.add_argument("name", choices=sorted(PUBLISHED))
    installed.add_argument("directory", type=Path, help="where its wheel was installed from")
    options = parser.parse_args(arguments)
    if options.step == "files":
        problems = check_files(options.directory)
    else:
        problems = check_installed(options.name, options.directory)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
