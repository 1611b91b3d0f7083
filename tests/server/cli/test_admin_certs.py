"""`risklist-admin certs`: the files it writes verify as a CA, a server and partners' client certificates."""

from __future__ import annotations

import datetime
import ipaddress
import os
import stat
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.running_server import BIN


def _admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "risklist-admin"), *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _client_verifier(ca: Path) -> verification.ClientVerifier:
    """Chain and clientAuth checks; the web-PKI profile's SAN requirement aside (the partner id is the CN)."""
    permissive = verification.ExtensionPolicy.permit_all()
    return (verification.PolicyBuilder().store(verification.Store([_cert(ca)]))
            .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=permissive)
            .build_client_verifier())


def test_certs_writes_a_ca_a_server_and_partner_certificates_that_verify(tmp_path: Path) -> None:
    """Server cert verifies for localhost, 127.0.0.1 and --server-name; each partner's CN is its id; keys are 0600."""
    out = tmp_path / "certs"
    result = _admin("certs", "--out", str(out), "--partner", "bank-a", "--partner", "bank-b",
                    "--server-name", "risk.example.net", "--days", "30")
    assert result.returncode == 0, result.stderr
    names = {"ca", "server", "bank-a", "bank-b"}
    assert {path.name for path in out.iterdir()} == {f"{n}.{ext}" for n in names for ext in ("pem", "key")}
    for name in names:
        assert stat.S_IMODE(os.stat(out / f"{name}.key").st_mode) == 0o600
    store = verification.Store([_cert(out / "ca.pem")])
    now = datetime.datetime.now(datetime.UTC)
    server = _cert(out / "server.pem")
    for subject in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("risk.example.net")):
        verifier = verification.PolicyBuilder().store(store).time(now).build_server_verifier(subject)
        verifier.verify(server, [])
    client_verifier = _client_verifier(out / "ca.pem")
    for partner in ("bank-a", "bank-b"):
        leaf = _cert(out / f"{partner}.pem")
        client_verifier.verify(leaf, [])
        assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == partner
        assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.CLIENT_AUTH]
        assert (leaf.not_valid_after_utc - now).days in (29, 30)


def test_certs_reuses_the_ca_to_add_a_partner(tmp_path: Path) -> None:
    """Run again with a new partner, the existing CA signs it, so earlier certificates stay valid."""
    out = tmp_path / "certs"
    assert _admin("certs", "--out", str(out), "--partner", "bank-a").returncode == 0
    ca_before = (out / "ca.pem").read_bytes()
    result = _admin("certs", "--out", str(out), "--partner", "bank-c")
    assert result.returncode == 0 and "reused development CA" in result.stdout
    assert (out / "ca.pem").read_bytes() == ca_before
    verifier = _client_verifier(out / "ca.pem")
    for partner in ("bank-a", "bank-c"):
        verifier.verify(_cert(out / f"{partner}.pem"), [])


def test_certs_refuses_bad_partner_ids_and_missing_arguments(tmp_path: Path) -> None:
    """An id outside the pattern, a reserved one or no --partner is a usage error (exit 2) and writes nothing."""
    for args, expected in ((("--partner", "Bank A"), "a partner id is"), (("--partner", "ca"), "reserved"),
                           ((), "--partner"), (("--partner", "a", "--days", "0"), "--days")):
        result = _admin("certs", "--out", str(tmp_path / "out"), *args)
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_risklist_admin_without_a_command_is_a_usage_error() -> None:
    """risklist-admin alone lists its commands and exits 2."""
    result = _admin()
    assert result.returncode == 2 and "COMMAND" in result.stderr
