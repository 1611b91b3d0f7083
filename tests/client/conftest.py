"""Fixtures for SDK tests: a network secret, a server subprocess, and an admin ingest of adds and removes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from tests.support.running_server import ServerProcess, start_server


@pytest.fixture()
def server(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "db", secret_file)
    yield running
    running.terminate()


def ingest_phones(admin_address: str, secret: NetworkSecret, add: list[str] = [], remove: list[str] = []) -> int:  # noqa: B006
    """List and unlist canonical phone numbers in one ingest call; return the acknowledged list version."""
    digester = Digester(secret)
    mutations = [
        pb.Mutation(action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE,
                    digest=digester.digest(EntityType.PHONE, phone), category=pb.CATEGORY_TELECOM_FRAUD,
                    level=pb.RISK_LEVEL_HIGH, reported_at=Timestamp(seconds=1_760_000_000),
                    expires_at=Timestamp(seconds=4_000_000_000))
        for phone in add
    ] + [
        pb.Mutation(action=pb.MUTATION_ACTION_REMOVE, type=pb.ENTITY_TYPE_PHONE,
                    digest=digester.digest(EntityType.PHONE, phone))
        for phone in remove
    ]
    requests = [
        pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                              secret_fingerprint=secret.fingerprint)),
        pb.IngestRequest(batch=pb.IngestBatch(mutations=mutations)),
    ]
    with grpc.insecure_channel(admin_address) as channel:
        response: pb.IngestResponse = pb_grpc.AdminStub(channel).Ingest(iter(requests), timeout=10)
    return int(response.list_version)
