"""risklist-server's authentication flags, and risklist-check / risklist-load speaking mutual TLS."""

from __future__ import annotations

import datetime
import os
import subprocess
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret
from tests.support.admin_ingest import PHONE
from tests.support.mtls import dev_network
from tests.support.running_server import BIN, start_server

PARTNERS = '[partners.bank-a]\nroles = ["query"]\n[partners.operator]\nroles = ["admin"]\n'


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=dict(os.environ))


def _server(tmp_path: Path, secret_file: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return _run("risklist-server", "--db", str(tmp_path / "db"), "--secret-file", str(secret_file),
                "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--workers", "1", *flags)


def test_without_tls_flags_or_insecure_dev_the_server_refuses_with_usage(tmp_path: Path, secret_file: Path) -> None:
    """Neither mutual TLS nor --insecure-dev: exit 2 saying what to pass."""
    result = _server(tmp_path, secret_file)
    assert result.returncode == 2
    assert "--tls-cert FILE --tls-key FILE --client-ca FILE --partners FILE" in result.stderr
    assert "--insecure-dev" in result.stderr and "risklist-admin certs" in result.stderr


@pytest.mark.parametrize(("flags", "expected"), [
    (("--tls-cert", "s.pem", "--partners", "p.toml"), "missing --tls-key, --client-ca"),
    (("--tls-cert", "s.pem", "--tls-key", "s.key", "--client-ca", "ca.pem"), "needs --partners FILE"),
    (("--insecure-dev", "--partners", "p.toml"), "--insecure-dev excludes --partners"),
    (("--insecure-dev", "--tls-cert", "s.pem"), "--insecure-dev excludes --tls-cert"),
])
def test_incomplete_or_mixed_authentication_flags_are_usage_errors(
    tmp_path: Path, secret_file: Path, flags: tuple[str, ...], expected: str
) -> None:
    """Part of the TLS flags, or TLS mixed with --insecure-dev, exits 2 naming what is missing or excluded."""
    result = _server(tmp_path, secret_file, *flags)
    assert result.returncode == 2 and expected in result.stderr, result.stderr


def test_bad_partners_file_or_mismatched_key_stops_start_up(tmp_path: Path, secret_file: Path) -> None:
    """A broken partners file, or a key that is not the certificate's, exits 1 with the file and reason."""
    network = dev_network(tmp_path, PARTNERS)
    tls = network.server_tls
    bad = tmp_path / "bad.toml"
    bad.write_text('[partners.bank-a]\nroles = ["query", "delete"]\n')
    result = _server(tmp_path, secret_file, "--tls-cert", str(tls.cert), "--tls-key", str(tls.key),
                     "--client-ca", str(tls.client_ca), "--partners", str(bad))
    assert result.returncode == 1 and f"{bad}: partner 'bank-a': key roles: unknown role 'delete'" in result.stderr
    result = _server(tmp_path, secret_file, "--tls-cert", str(tls.cert), "--tls-key",
                     str(network.certs / "bank-a.key"), "--client-ca", str(tls.client_ca), "--partners",
                     str(tls.partners))
    assert result.returncode == 1 and "is not the key of the certificate" in result.stderr
    result = _server(tmp_path, secret_file, "--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(tls.key),
                     "--client-ca", str(tls.client_ca), "--partners", str(tls.partners))
    assert result.returncode == 1 and "--tls-cert" in result.stderr and "cannot read it" in result.stderr
    assert "Traceback" not in result.stderr


def _sign_with_san(certs: Path, partner: str) -> None:
    """A client certificate as a real CA may issue it: CN = partner id, plus a DNS SAN."""
    ca_key = serialization.load_pem_private_key((certs / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, partner)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("gateway.bank-a.example")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (certs / f"{partner}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / f"{partner}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_check_and_load_clients_over_mutual_tls(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """risklist-load --server as the admin partner lists a phone; risklist-check as a query partner sees it."""
    network = dev_network(tmp_path, PARTNERS)
    _sign_with_san(network.certs, "bank-a")  # the CN still names the partner when SANs are present
    feed = tmp_path / "feed.csv"
    feed.write_text("action,entity_type,identifier,category,level,reported_at\n"
                    f"add,phone,{PHONE},telecom_fraud,high,2026-01-05T00:00:00Z\n")
    running = start_server(tmp_path / "db", secret_file, tls=network.server_tls)
    try:
        denied = _run("risklist-load", str(feed), "--source", "bank-a", "--server", running.admin_address,
                      "--secret-file", str(secret_file), "--quiet", *network.client_flags("bank-a"))
        assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr and "'admin' role" in denied.stderr
        loaded = _run("risklist-load", str(feed), "--source", "bank-a", "--server", running.admin_address,
                      "--secret-file", str(secret_file), "--quiet", *network.client_flags("operator"))
        assert loaded.returncode == 0, loaded.stderr
        checked = _run("risklist-check", "--server", running.address, "--type", "phone", PHONE, "--json",
                       *network.client_flags("bank-a"))
        assert checked.returncode == 0 and '"listed": true' in checked.stdout, checked.stderr
        plain = _run("risklist-check", "--server", running.address, "--type", "phone", PHONE, "--insecure")
        assert plain.returncode == 1 and "UNAVAILABLE" in plain.stderr
        usage = _run("risklist-check", "--server", running.address, "--type", "phone", PHONE)
        assert usage.returncode == 2 and "--insecure" in usage.stderr and "--ca FILE" in usage.stderr
    finally:
        assert running.terminate() == 0


def test_insecure_dev_callers_are_the_dev_partner_with_every_role(tmp_path: Path, secret_file: Path) -> None:
    """With --insecure-dev a plaintext client may query and ingest, and the server logs the mode."""
    running = start_server(tmp_path / "db", secret_file)
    try:
        with grpc.insecure_channel(running.address) as channel:
            pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=pb.Subject(
                type=pb.ENTITY_TYPE_IP, value="192.0.2.1")), timeout=10)
    finally:
        assert running.terminate() == 0
    assert running.serving["auth"] == "insecure-dev" and running.serving["dev_partner"] == "dev"
