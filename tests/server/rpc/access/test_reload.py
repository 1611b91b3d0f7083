"""The access files followed while serving: good changes put in force, broken ones logged and the last good kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest
from structlog.testing import capture_logs

from risklist_server.cli.certs import issue
from risklist_server.core.errors import NotAuthenticated
from risklist_server.core.partners import Role
from risklist_server.rpc.access.config import Security, SecurityFiles, load_security
from risklist_server.rpc.access.gate import PARTNER_ID_FIELD, Gate
from risklist_server.rpc.access.reload import AccessWatch
from tests.support.mtls import DevNetwork, dev_network

PARTNERS = '[partners.bank-a]\nroles = ["query"]\nrequests_per_second = 1\nrequests_burst = 1\n'
WITH_BANK_B = PARTNERS + '[partners.bank-b]\nroles = ["query", "contribute"]\n'


class _Context:
    """Answers as grpc does for a verified client certificate with Subject CN `name`."""

    def __init__(self, name: bytes) -> None:
        self._name = name

    def peer(self) -> str:
        return "ipv4:127.0.0.1:51514"

    def peer_identity_key(self) -> str:
        return PARTNER_ID_FIELD

    def peer_identities(self) -> list[bytes]:
        return [self._name]


def _context(name: str) -> grpc.ServicerContext:
    context: grpc.ServicerContext = _Context(name.encode())  # type: ignore[assignment]
    return context


@pytest.fixture
def network(tmp_path: Path) -> DevNetwork:
    return dev_network(tmp_path, PARTNERS, also_issue=("bank-b",))


def _files(network: DevNetwork) -> SecurityFiles:
    tls = network.server_tls
    return SecurityFiles(str(tls.cert), str(tls.key), str(tls.client_ca), str(tls.partners))


def _serving(network: DevNetwork) -> tuple[Gate, AccessWatch]:
    gate = Gate(load_security(_files(network)))
    return gate, AccessWatch(gate)


def test_a_changed_partners_file_adds_removes_and_changes_members(network: DevNetwork) -> None:
    """Members added, removed or given new roles are in force from the next call after a poll."""
    gate, watch = _serving(network)
    watch.poll()
    with pytest.raises(NotAuthenticated, match="not a member"):
        gate.caller(_context("bank-b"))
    with capture_logs() as logs:
        network.partners_file.write_text(WITH_BANK_B)
        watch.poll()
        watch.poll()  # unchanged since: nothing more
    assert gate.caller(_context("bank-b")).roles == frozenset({Role.QUERY, Role.CONTRIBUTE})
    assert [entry["event"] for entry in logs] == ["access_reloaded"]
    assert logs[0]["partners"] == 2 and logs[0]["added"] == ["bank-b"] and logs[0]["files"] == ["--partners"]
    assert logs[0]["access_version"] == gate.security.version
    network.partners_file.write_text(WITH_BANK_B.replace("bank-a", "bank-c"))
    watch.poll()
    with pytest.raises(NotAuthenticated, match="'bank-a', which is not a member"):
        gate.admit(_context("bank-a"), Role.QUERY, "Check")


def test_a_member_whose_quota_is_unchanged_keeps_its_buckets(network: DevNetwork) -> None:
    """Reloading the file for another member does not refill an unchanged member's quota; a new quota applies."""
    gate, watch = _serving(network)
    gate.admit(_context("bank-a"), Role.QUERY, "Check")
    network.partners_file.write_text(WITH_BANK_B)
    watch.poll()
    with pytest.raises(Exception, match="requests"):
        gate.admit(_context("bank-a"), Role.QUERY, "Check")
    network.partners_file.write_text(WITH_BANK_B.replace("requests_per_second = 1", "requests_per_second = 1000"))
    watch.poll()
    gate.admit(_context("bank-a"), Role.QUERY, "Check")


@pytest.mark.parametrize(("target", "content", "reason"), [
    ("server.pem", b"not pem\n", "not a PEM certificate"),
    ("ca.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM certificate"),
    ("server.key", b"not a key\n", "not an unencrypted PEM private key"),
    ("server.key", None, "is not the key of the certificate"),
    ("partners.toml", b"[partners.bank-b\n", "not valid TOML"),
    ("partners.toml", b'[partners.bank-b]\nroles = ["querry"]\n', "unknown role 'querry'"),
])
def test_a_broken_file_is_rejected_naming_it_and_the_last_good_configuration_stays(
    network: DevNetwork, target: str, content: bytes | None, reason: str
) -> None:
    """A bad PEM, a key of another certificate or a bad partners file: logged once with file and reason, ignored."""
    gate, watch = _serving(network)
    fetch = gate.certificate_fetcher()
    kept = gate.security
    path = network.partners_file if target == "partners.toml" else network.certs / target
    if content is None:  # another certificate's key, in the server's key file
        path.write_bytes((network.certs / "bank-b.key").read_bytes())
    else:
        path.write_bytes(content)
    with capture_logs() as logs:
        watch.poll()
        watch.poll()  # the same broken content is reported once
    assert [entry["event"] for entry in logs] == ["access_reload_rejected"]
    assert logs[0]["file"] == str(path) and reason in str(logs[0]["reason"])
    assert logs[0]["kept_version"] == kept.version
    assert gate.security is kept and fetch() is None
    assert gate.caller(_context("bank-a")).partner == "bank-a"


def test_a_missing_file_is_rejected_and_the_last_good_configuration_stays(network: DevNetwork) -> None:
    """A file removed (say, mid-rotation) is logged as unreadable; the members and certificates stay in force."""
    gate, watch = _serving(network)
    kept = gate.security
    (network.certs / "server.key").unlink()
    with capture_logs() as logs:
        watch.poll()
    assert logs[0]["event"] == "access_reload_rejected" and "cannot read it" in str(logs[0]["reason"])
    assert logs[0]["file"] == str(network.certs / "server.key")
    assert gate.security is kept


def test_a_rotated_certificate_is_handed_to_grpc_once(network: DevNetwork, tmp_path: Path) -> None:
    """The fetcher grpc calls before each handshake gives a new configuration once after a rotation, else None."""
    gate, watch = _serving(network)
    fetchers = [gate.certificate_fetcher(), gate.certificate_fetcher()]  # a writer's two servers
    network.partners_file.write_text(WITH_BANK_B)
    watch.poll()
    assert [fetch() for fetch in fetchers] == [None, None]  # members changed, certificates did not
    staging = tmp_path / "rotation"
    staging.mkdir()
    for name in ("ca.pem", "ca.key"):
        shutil.copy(network.certs / name, staging / name)
    issue(staging, [], days=2)
    for name in ("server.key", "server.pem"):
        shutil.copy(staging / name, network.certs / name)
    with capture_logs() as logs:
        watch.poll()
    assert logs[0]["event"] == "access_reloaded" and logs[0]["files"] == ["--tls-cert", "--tls-key"]
    assert all(isinstance(fetch(), grpc.ServerCertificateConfiguration) for fetch in fetchers)
    assert [fetch() for fetch in fetchers] == [None, None]
    assert gate.security.tls is not None
    assert gate.security.tls.cert_chain == (staging / "server.pem").read_bytes()


def test_a_worker_started_while_a_file_is_broken_serves_the_start_configuration(network: DevNetwork) -> None:
    """A restarted worker's first look at a broken file logs it and keeps the configuration checked at start."""
    start = load_security(_files(network))
    network.partners_file.write_text("[partners]\n")
    gate = Gate(start)
    with capture_logs() as logs:
        watch = AccessWatch(gate).start()
        watch.stop()
    assert [entry["event"] for entry in logs] == ["access_reload_rejected"]
    assert gate.security is start


def test_the_development_gate_has_nothing_to_watch() -> None:
    """--insecure-dev: no files, no thread, the development caller stays."""
    gate = Gate()
    AccessWatch(gate).start().stop()
    assert gate.security == Security(tls=None, partners=None)
