"""A stranger who holds a worker at its connection cap cannot lock members out: the oldest unauthenticated
connections are shed first (issue 11, item 1)."""

from __future__ import annotations

import errno
import functools
import resource
import socket
import subprocess
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from tests.support.mtls import dev_network
from tests.support.running_server import start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.member]
roles = ["query"]
"""
OPEN_FILES = 1200
"""The server's open-file limit (soft and hard): with the default --fd-reserve 1024, a worker takes 112 connections."""
STRANGERS = 300
"""Idle connections the stranger opens at once: more than the worker's cap, so the last ones are closed at once."""
HANDSHAKE_TIMEOUT = 60.0
"""handshake_timeout_seconds: long, so only shedding (not the timeout) can let the member in within DEADLINE."""
DEADLINE = 5.0
CHECK = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613800138000"))


def _limited(soft_and_hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft_and_hard, soft_and_hard))


def _strangers(address: str, held: list[socket.socket]) -> None:
    """Open STRANGERS idle TCP connections (never a byte sent) into `held`, without waiting for any."""
    host, port = address.rsplit(":", 1)
    for _ in range(STRANGERS):
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.append(connection)
        connection.setblocking(False)
        code = connection.connect_ex((host, int(port)))
        assert code in (0, errno.EINPROGRESS), errno.errorcode.get(code, code)


def _closed_by_peer(connection: socket.socket) -> bool:
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_a_stranger_filling_the_connection_cap_does_not_lock_a_member_out(
    tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a stranger holding a worker's connection cap full of idle connections, a member's Check still
    connects and answers within a few seconds: the oldest unauthenticated connection makes room for it."""
    (tmp_path / "settings.toml").write_text(f"handshake_timeout_seconds = {HANDSHAKE_TIMEOUT}\n")
    dev = dev_network(tmp_path, PARTNERS)
    with monkeypatch.context() as patched:
        patched.setattr(subprocess, "Popen", functools.partial(subprocess.Popen,
                                                               preexec_fn=functools.partial(_limited, OPEN_FILES)))
        server = start_server(tmp_path / "db", secret_file, "--config", str(tmp_path / "settings.toml"),
                              tls=dev.server_tls)
    held: list[socket.socket] = []
    try:
        _strangers(server.address, held)
        wait_until(lambda: _closed_by_peer(held[-1]), timeout=30,
                   message="the server never closed a connection over its cap")
        with dev.channel(server.address, "member") as channel:
            answer = pb_grpc.RiskListStub(channel).Check(CHECK, timeout=DEADLINE, wait_for_ready=True)
        assert not answer.verdict.listed
    except grpc.RpcError as error:
        raise AssertionError(f"the member's Check failed while a stranger held the cap: {error.code()}") from None
    finally:
        for connection in held:
            connection.close()
        assert server.terminate() == 0
