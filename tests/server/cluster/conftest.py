"""Real nats-server clusters for the cluster tests (tools/local_nats.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.local_nats import NatsCluster


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nats-servers with JetStream, routed to one another on loopback, stopped after the test."""
    started = NatsCluster.create(tmp_path / "nats")
    try:
        started.start()
        yield started
    finally:
        started.stop()
