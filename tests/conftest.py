"""Suite-wide settings (Hypothesis runs derandomized in CI, so a CI run is reproducible), a network secret, and real
nats-server clusters for the tests of cluster nodes and of the SDK failing over between them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.running_server import kill_leftover_servers
from tools.local_nats import NatsCluster

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture()
def secret() -> NetworkSecret:
    """A fresh random network secret."""
    return NetworkSecret(secrets.token_bytes(32))


@pytest.fixture()
def secret_file(tmp_path: Path, secret: NetworkSecret) -> Path:
    """The secret in a file, as --secret-file reads it."""
    return write_secret(tmp_path / "network.secret", secret)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nats-servers with JetStream, routed to one another on loopback, stopped after the test."""
    yield from _running(NatsCluster.create(tmp_path / "nats"))


@pytest.fixture()
def one_nats_server(tmp_path: Path) -> Iterator[NatsCluster]:
    """One nats-server with JetStream on loopback (a log or bucket with one replica), stopped after the test."""
    yield from _running(NatsCluster.create(tmp_path / "nats", size=1))


def _running(servers: NatsCluster) -> Iterator[NatsCluster]:
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_suite() -> Iterator[None]:
    """A test that fails before its server's terminate() would leave the server running after the suite: kill it."""
    yield
    kill_leftover_servers()
