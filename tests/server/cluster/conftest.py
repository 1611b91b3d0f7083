"""Real nats-server clusters for the cluster tests (tests/support/nats_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats_cluster import NatsCluster


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nats-servers with JetStream, routed to one another on loopback, stopped after the test."""
    started = NatsCluster.create(tmp_path / "nats")
    try:
        started.start()
        yield started
    finally:
        started.stop()
