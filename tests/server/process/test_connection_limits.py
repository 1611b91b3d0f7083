"""Strangers holding idle TCP connections cannot starve a worker of descriptors: members' calls and catch-up go on."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.admin_ingest import ingest_phone
from tests.support.mtls import dev_network
from tests.support.running_server import start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.member]
roles = ["query", "admin"]
ingest_sources = ["bank-a"]  # tests.support.admin_ingest loads as bank-a
"""
OPEN_FILES = 400
RESERVE = 300
STRANGER_CONNECTIONS = 1200
"""Three times what both readers' open-file limits hold together."""
NEW_PHONE = "+8613900139000"


def _stranger(address: str, count: int) -> Iterator[socket.socket]:
    host, port = address.rsplit(":", 1)
    for _ in range(count):
        yield socket.create_connection((host, int(port)), timeout=5)


def test_idle_strangers_neither_block_a_members_check_nor_the_readers_catch_up(tmp_path: Path) -> None:
    """With a stranger holding many idle TCP connections to a server whose workers may open only 400 files,
    a member's Check answers and a new write becomes visible on the readers."""
    secret = NetworkSecret(secrets.token_bytes(32))
    secret_file = tmp_path / "network.secret"
    write_secret(secret_file, secret)
    (tmp_path / "settings.toml").write_text("handshake_timeout_seconds = 1.0\n")
    dev = dev_network(tmp_path, PARTNERS)
    server = start_server(tmp_path / "db", secret_file, "--workers", "2", "--max-open-files", str(OPEN_FILES),
                          "--fd-reserve", str(RESERVE), "--config", str(tmp_path / "settings.toml"),
                          tls=dev.server_tls)
    held = list(_stranger(server.address, STRANGER_CONNECTIONS))
    try:
        limit = server.wait_for_log(lambda line: line.get("event") == "open_file_limit", timeout=5)
        assert (limit["new"], limit["reserve"]) == (OPEN_FILES, RESERVE)
        assert limit["max_connections"] < OPEN_FILES - RESERVE
        check = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=NEW_PHONE))
        with dev.channel(server.address, "member") as channel:
            stub = pb_grpc.RiskListStub(channel)
            assert not stub.Check(check, timeout=15, wait_for_ready=True).verdict.listed
            ingest_phone(server.admin_address, secret, NEW_PHONE, tls=dev.client("member"))

            def listed_on_every_reader() -> bool:
                # Each new channel may land on either reader (SO_REUSEPORT): ask several times.
                for _ in range(4):
                    with dev.channel(server.address, "member") as fresh:
                        answer = pb_grpc.RiskListStub(fresh).Check(check, timeout=15, wait_for_ready=True)
                        if not answer.verdict.listed:
                            return False
                return True

            wait_until(listed_on_every_reader, timeout=30, message="the write never became visible on the readers")
        assert "Too many open files" not in server.output()
    finally:
        for connection in held:
            connection.close()
        assert server.terminate() == 0
