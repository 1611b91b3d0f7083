"""risklist-check --local-digest with the wrong network secret, against a real server over mutual TLS."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import BIN, ServerProcess, start_server

PARTNERS = """
[partners.bank-a]
roles = ["query"]

[partners.operator]
roles = ["admin"]
"""


@pytest.fixture()
def network(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    dev = dev_network(tmp_path, PARTNERS)
    running = start_server(tmp_path / "db", secret_file, tls=dev.server_tls)
    ingest_phone(running.admin_address, secret, tls=dev.client("operator"))
    yield dev, running
    running.terminate()


def _check(dev: DevNetwork, server: ServerProcess, secret_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "risklist-check"), "--server", server.address, *dev.client_flags("bank-a"),
                           "--type", "phone", PHONE, "--local-digest", "--secret-file", str(secret_file), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)


def test_local_digest_under_another_secret_exits_1_and_never_says_not_listed(
    network: tuple[DevNetwork, ServerProcess], secret: NetworkSecret, secret_file: Path, tmp_path: Path
) -> None:
    """A wrong secret file makes risklist-check exit 1 naming both secrets' fingerprints, not print a verdict."""
    dev, server = network
    other = NetworkSecret(secrets.token_bytes(32))
    wrong = tmp_path / "wrong.secret"
    write_secret(wrong, other)
    refused = _check(dev, server, wrong)
    assert refused.returncode == 1 and refused.stdout == "" and "Traceback" not in refused.stderr
    assert "another network secret" in refused.stderr and str(wrong) in refused.stderr
    assert other.fingerprint in refused.stderr and secret.fingerprint in refused.stderr
    assert server.address in refused.stderr, refused.stderr
    right = _check(dev, server, secret_file)
    assert right.returncode == 0 and json.loads(right.stdout)["listed"] is True
