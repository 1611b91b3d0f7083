"""risklist-server over mutual TLS, two workers: the partners file and the certificates reload without a restart."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.cli.certs import issue
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.bank-a]
roles = ["query"]
"""
WITH_BANK_B = PARTNERS + """
[partners.bank-b]
roles = ["query"]
"""
READERS = ("reader-1", "reader-2")
FRESH_CONNECTIONS = 8
"""New connections opened to reach both workers (SO_REUSEPORT picks one per connection): 1 in 128 miss one."""


@dataclass
class Running:
    dev: DevNetwork
    server: ServerProcess


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    secret_file = tmp_path / "network.secret"
    write_secret(secret_file, NetworkSecret(secrets.token_bytes(32)))
    dev = dev_network(tmp_path, PARTNERS, also_issue=("bank-b",))
    server = start_server(tmp_path / "db", secret_file, "--workers", "2", tls=dev.server_tls)
    try:
        yield Running(dev, server)
    finally:
        assert server.terminate() == 0


def _check(channel: grpc.Channel) -> pb.CheckResponse:
    stub = pb_grpc.RiskListStub(channel)
    request = pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613700137000"))
    response: pb.CheckResponse = stub.Check(request, timeout=10)
    return response


def _code(channel: grpc.Channel) -> grpc.StatusCode:
    try:
        _check(channel)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _fresh_codes(running: Running, partner: str) -> set[grpc.StatusCode]:
    """The status of one Check on each of FRESH_CONNECTIONS new connections as `partner`."""
    codes = set()
    for _ in range(FRESH_CONNECTIONS):
        with running.dev.channel(running.server.address, partner) as channel:
            codes.add(_code(channel))
    return codes


def _reloaded_everywhere(server: ServerProcess, since: int) -> None:
    """Wait until every worker (the writer and both readers) logs access_reloaded after log line `since`."""
    for worker in ("writer", *READERS):
        wait_until(lambda w=worker: any(line.get("event") == "access_reloaded" and line.get("worker") == w
                                        for line in server.log_lines[since:]),
                   timeout=15, message=f"{worker} did not reload the access files")


def _replace(path: Path, text: str) -> None:
    """Write `path` as an operator should: a new file renamed over the old one."""
    staged = path.with_name(path.name + ".new")
    staged.write_text(text)
    os.replace(staged, path)


def test_a_member_added_to_the_partners_file_is_served_by_every_worker_without_a_restart(running: Running) -> None:
    """A new member's certificate is refused until it is in the partners file, then accepted on every worker."""
    pid = running.server.pid
    assert _fresh_codes(running, "bank-b") == {grpc.StatusCode.UNAUTHENTICATED}
    since = len(running.server.log_lines)
    _replace(running.dev.partners_file, WITH_BANK_B)
    _reloaded_everywhere(running.server, since)
    assert _fresh_codes(running, "bank-b") == {grpc.StatusCode.OK}
    assert _fresh_codes(running, "bank-a") == {grpc.StatusCode.OK}
    reloaded = [line for line in running.server.log_lines[since:] if line.get("event") == "access_reloaded"]
    assert all(line["partners"] == 2 and line["files"] == ["--partners"] and line["added"] == ["bank-b"]
               for line in reloaded)
    assert running.server.pid == pid


def test_a_member_removed_from_the_partners_file_is_refused_from_its_next_call(running: Running) -> None:
    """A removed member's open connection gets UNAUTHENTICATED (not a member) on its next call, as do new ones."""
    _replace(running.dev.partners_file, WITH_BANK_B)
    _reloaded_everywhere(running.server, 0)
    with running.dev.channel(running.server.address, "bank-a") as open_channel:
        assert _code(open_channel) == grpc.StatusCode.OK
        since = len(running.server.log_lines)
        _replace(running.dev.partners_file, WITH_BANK_B.replace("bank-a", "bank-c"))
        _reloaded_everywhere(running.server, since)
        with pytest.raises(grpc.RpcError) as refused:
            _check(open_channel)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "'bank-a', which is not a member" in str(refused.value.details())
    assert _fresh_codes(running, "bank-a") == {grpc.StatusCode.UNAUTHENTICATED}
    assert _fresh_codes(running, "bank-b") == {grpc.StatusCode.OK}


def test_a_changed_quota_applies_without_a_restart(running: Running) -> None:
    """Lowering a member's request quota in the partners file holds it to the new rate from then on."""
    with running.dev.channel(running.server.address, "bank-a") as channel:
        assert all(_code(channel) == grpc.StatusCode.OK for _ in range(5))
        since = len(running.server.log_lines)
        _replace(running.dev.partners_file, PARTNERS + "requests_per_second = 0.01\nrequests_burst = 1\n")
        _reloaded_everywhere(running.server, since)
        codes = [_code(channel) for _ in range(3)]
    assert codes[1:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2


def test_a_broken_partners_file_is_logged_and_the_last_good_one_stays_in_force(running: Running) -> None:
    """A partners file that does not parse is refused by every worker, naming the file; old members are served."""
    since = len(running.server.log_lines)
    _replace(running.dev.partners_file, WITH_BANK_B + "[partners.bank-c\n")
    for worker in ("writer", *READERS):
        rejected = running.server.wait_for_log(
            lambda line, w=worker: line.get("event") == "access_reload_rejected" and line.get("worker") == w,
            timeout=15)
        assert rejected["file"] == str(running.dev.partners_file) and rejected["reason"]
    assert not any(line.get("event") == "access_reloaded" for line in running.server.log_lines[since:])
    assert _fresh_codes(running, "bank-a") == {grpc.StatusCode.OK}
    assert _fresh_codes(running, "bank-b") == {grpc.StatusCode.UNAUTHENTICATED}


def _served_serial(running: Running) -> int:
    """The serial number of the certificate the server presents on a new TLS connection (as member bank-a)."""
    certs = running.dev.certs
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs / "ca.pem"))
    context.load_cert_chain(certs / "bank-a.pem", certs / "bank-a.key")
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", running.server.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_a_rotated_server_certificate_is_presented_on_new_connections(running: Running, tmp_path: Path) -> None:
    """A new server certificate from the same CA is what new connections see, and calls over them succeed."""
    certs = running.dev.certs
    old = x509.load_pem_x509_certificate((certs / "server.pem").read_bytes()).serial_number
    assert _served_serial(running) == old
    staging = tmp_path / "rotation"
    staging.mkdir()
    for name in ("ca.pem", "ca.key"):
        shutil.copy(certs / name, staging / name)
    issue(staging, [], days=2)  # the same CA, a new key and serial
    new = x509.load_pem_x509_certificate((staging / "server.pem").read_bytes()).serial_number
    since = len(running.server.log_lines)
    os.replace(staging / "server.key", certs / "server.key")
    os.replace(staging / "server.pem", certs / "server.pem")
    _reloaded_everywhere(running.server, since)
    assert {_served_serial(running) for _ in range(FRESH_CONNECTIONS)} == {new}
    assert _fresh_codes(running, "bank-a") == {grpc.StatusCode.OK}
