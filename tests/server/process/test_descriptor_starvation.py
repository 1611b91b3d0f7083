"""Idle strangers cannot use up a reader's open files under an operator's limit: Checks and catch-up go on (item 1)."""

from __future__ import annotations

import errno
import functools
import resource
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret
from tests.support.admin_ingest import ingest_phone
from tests.support.mtls import dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.member]
roles = ["query", "admin"]
ingest_sources = ["bank-a"]  # tests.support.admin_ingest loads as bank-a
"""
OPEN_FILES = 1200
"""The server's open-file limit, soft and hard, as a systemd unit's LimitNOFILE=1200 sets it (systemd's default
soft limit is 1024). Just above what the default --fd-reserve (1024) and the admin port's 64 need."""
STRANGERS = 3000
"""Idle TCP connections: more than both readers' limits together, however SO_REUSEPORT spreads them."""
NEW_PHONE = "+8613900139000"


def _limited(soft_and_hard: int) -> None:
    """In the server's child process, before exec: the operator's open-file limit."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft_and_hard, soft_and_hard))


@pytest.fixture()
def own_descriptors() -> Iterator[None]:
    """This test process may hold the strangers' sockets (its soft limit raised to its hard limit for the test)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = STRANGERS + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the test needs {wanted} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if soft < wanted else soft, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _strangers(address: str, count: int, held: ExitStack) -> None:
    """Open `count` TCP connections that never send a byte (no TLS, no certificate), without waiting for any."""
    host, port = address.rsplit(":", 1)
    for _ in range(count):
        connection = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        connection.setblocking(False)
        code = connection.connect_ex((host, int(port)))
        assert code in (0, errno.EINPROGRESS), errno.errorcode.get(code, code)


def _answered_on(server: ServerProcess, worker: str) -> bool:
    return any(line.get("event") == "rpc" and line.get("method") == "Check" and line.get("hits") == 1
               and line.get("worker") == worker for line in server.log_lines)


def test_idle_strangers_at_an_operators_open_file_limit_block_neither_checks_nor_catch_up(
    tmp_path: Path, secret: NetworkSecret, secret_file: Path, own_descriptors: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a stranger holding more idle TCP connections than two readers' open-file limit of 1200 allows, a
    member's Check answers and a new write becomes visible on both readers."""
    dev = dev_network(tmp_path, PARTNERS)
    with monkeypatch.context() as patched:
        patched.setattr(subprocess, "Popen", functools.partial(subprocess.Popen,
                                                               preexec_fn=functools.partial(_limited, OPEN_FILES)))
        server = start_server(tmp_path / "db", secret_file, "--workers", "2", "--rpc-log", "all",
                              tls=dev.server_tls)
    try:
        with ExitStack() as held:
            _strangers(server.address, STRANGERS, held)
            check = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=NEW_PHONE))
            with dev.channel(server.address, "member") as channel:
                answer = pb_grpc.RiskListStub(channel).Check(check, timeout=20, wait_for_ready=True)
                assert not answer.verdict.listed
            ingest_phone(server.admin_address, secret, NEW_PHONE, tls=dev.client("member"))

            def listed_on_both_readers() -> bool:
                # A new connection lands on either reader (SO_REUSEPORT); the rpc log names the one that answered.
                with dev.channel(server.address, "member") as fresh:
                    pb_grpc.RiskListStub(fresh).Check(check, timeout=20, wait_for_ready=True)
                return _answered_on(server, "reader-1") and _answered_on(server, "reader-2")

            wait_until(listed_on_both_readers, timeout=60, message="the write never became visible on both readers")
        assert "Too many open files" not in server.output()
    finally:
        code = server.terminate()
    assert code == 0
