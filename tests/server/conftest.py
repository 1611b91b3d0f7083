"""Fixtures for server tests: secrets, stores, in-process servers and real server subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.subject import SubjectResolver
from risklist_server.rpc.app import create_admin_server, create_server
from risklist_server.services.lookup import LookupService
from risklist_server.store.risk_store import RiskStore
from tests.support.running_server import ServerProcess, start_server


@pytest.fixture()
def store(tmp_path: Path, secret: NetworkSecret) -> Iterator[RiskStore]:
    opened = RiskStore(tmp_path / "db", create=True, secret_fingerprint=secret.fingerprint)
    yield opened
    opened.close()


@pytest.fixture()
def digester(secret: NetworkSecret) -> Digester:
    return Digester(secret)


@pytest.fixture()
def lookup(store: RiskStore, digester: Digester) -> LookupService:
    return LookupService(store, SubjectResolver(Normaliser("CN"), digester), max_batch=100)


@dataclass
class InProcessServer:
    channel: grpc.Channel
    admin_channel: grpc.Channel
    stub: pb_grpc.RiskListStub
    admin: pb_grpc.AdminStub
    secret_fingerprint: str


@pytest.fixture()
def grpc_server(lookup: LookupService, store: RiskStore) -> Iterator[InProcessServer]:
    server, port, _ = create_server("127.0.0.1:0", lookup)
    admin, admin_port, _ = create_admin_server("127.0.0.1:0", store)
    server.start()
    admin.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    admin_channel = grpc.insecure_channel(f"127.0.0.1:{admin_port}")
    yield InProcessServer(channel, admin_channel, pb_grpc.RiskListStub(channel), pb_grpc.AdminStub(admin_channel),
                          store.secret_fingerprint)
    channel.close()
    admin_channel.close()
    server.stop(None).wait()
    admin.stop(None).wait()


@pytest.fixture()
def server_process(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "served-db", secret_file, "--rpc-log", "all")
    yield running
    running.terminate()
