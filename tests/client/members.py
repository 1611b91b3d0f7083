"""A mutual-TLS network of member banks for SDK tests: bank-a and bank-b contribute, reader only queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

from risklist_client import RiskListClient
from risklist_kernel.secret import NetworkSecret
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server

PARTNERS = """
[partners.bank-a]
roles = ["query", "contribute"]

[partners.bank-b]
roles = ["query", "contribute"]

[partners.reader]
roles = ["query"]
"""


@contextmanager
def member_network(directory: Path, secret_file: Path, *extra: str) -> Iterator[tuple[DevNetwork, ServerProcess]]:
    """Certificates for PARTNERS under `directory` and a server over mutual TLS with `extra` flags."""
    dev = dev_network(directory, PARTNERS)
    running = start_server(directory / "db", secret_file, *extra, tls=dev.server_tls)
    try:
        yield dev, running
    finally:
        running.terminate()


def member_client(dev: DevNetwork, server: ServerProcess, secret: NetworkSecret, partner: str,
                  **options: Any) -> RiskListClient:
    """A RiskListClient as `partner` over mutual TLS (deadline 5 s unless `options` say otherwise)."""
    tls = dev.client(partner)
    credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
    return RiskListClient(server.address, credentials, secret=secret, **{"deadline": 5.0, **options})
