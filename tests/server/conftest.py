"""Fixtures for server tests: secrets, stores, in-process servers and real server subprocesses."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from server.core.digest import Digester
from server.core.identifiers import Normaliser
from server.core.secret import NetworkSecret
from server.core.subject import SubjectResolver
from server.lookup import LookupService
from server.rpc.app import create_admin_server, create_server
from server.store.risk_store import RiskStore

BIN = Path(sys.executable).parent


@pytest.fixture()
def secret() -> NetworkSecret:
    return NetworkSecret(secrets.token_bytes(32))


@pytest.fixture()
def secret_file(tmp_path: Path, secret: NetworkSecret) -> Path:
    path = tmp_path / "network.secret"
    path.write_text(secret.key.hex() + "\n")
    return path


@pytest.fixture()
def store(tmp_path: Path, secret: NetworkSecret) -> Iterator[RiskStore]:
    opened = RiskStore(tmp_path / "db", secret_fingerprint=secret.fingerprint)
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


@pytest.fixture()
def grpc_server(lookup: LookupService, store: RiskStore) -> Iterator[InProcessServer]:
    server, port, _ = create_server("127.0.0.1:0", lookup)
    admin, admin_port, _ = create_admin_server("127.0.0.1:0", store)
    server.start()
    admin.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    admin_channel = grpc.insecure_channel(f"127.0.0.1:{admin_port}")
    yield InProcessServer(channel, admin_channel, pb_grpc.RiskListStub(channel), pb_grpc.AdminStub(admin_channel))
    channel.close()
    admin_channel.close()
    server.stop(None).wait()
    admin.stop(None).wait()


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    admin_port: int
    log_lines: list[dict[str, object]]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_address(self) -> str:
        return f"127.0.0.1:{self.admin_port}"

    def __post_init__(self) -> None:
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.startswith("{"):
                self.log_lines.append(json.loads(line))

    def terminate(self, timeout: float = 20, sig: int = signal.SIGTERM) -> int:
        """Send `sig` (SIGTERM), then wait; return the exit code once the whole log is read."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self._drain.join(timeout=timeout)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


def start_server(db: Path, secret_file: Path, *extra: str) -> ServerProcess:
    """Start risklist-server on free loopback ports; return once it logs that it is serving."""
    process = subprocess.Popen(
        [str(BIN / "risklist-server"), "--db", str(db), "--secret-file", str(secret_file),
         "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-format", "json", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[dict[str, object]] = []
    for line in process.stderr:
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        lines.append(entry)
        if entry.get("event") == "serving":
            return ServerProcess(process, int(entry["port"]), int(entry["admin_port"]), lines)  # type: ignore[call-overload]
    process.wait(timeout=10)
    process.stderr.close()
    raise AssertionError(f"risklist-server exited {process.returncode} before serving: {lines}")


@pytest.fixture()
def server_process(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "served-db", secret_file)
    yield running
    running.terminate()
